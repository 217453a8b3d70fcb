public import WireProtocol
import ZeroMQ

/// Control requests to one daemon (Protocols/control-protocol.md, LCP/1): status, ping, streams,
/// drop, reload, metrics. Each request goes over a fresh REQ socket with the client's CURVE keys
/// and linger 0, so a lost reply cannot wedge the next request. The request waits at most
/// `connectTimeout` for the connection (handshake included: the socket queues only to completed
/// connections) and then at most `timeout` for the reply, so a daemon that is not there, or that
/// refuses the keys, is reported after about a second, while a slow reply (a reload of a large
/// model) still gets the whole `timeout`.
///
/// ```swift
/// let control = try ControlClient(endpoint: "tcp://127.0.0.1:5557")
/// print(try control.status().liveStreams)
/// ```
///
/// A failure reply (`"ok": false`, e.g. `forbidden` for a key that is not an admin's) is thrown as
/// `ClientError.refused`. The methods may be called from any thread.
public struct ControlClient: Sendable {
    /// The daemon's control (REP) endpoint.
    public let endpoint: String
    /// Seconds to wait for each reply once the request is sent.
    public let timeout: Double
    /// Seconds to wait for the connection to the daemon before giving up (at most `timeout`).
    public let connectTimeout: Double
    public let curve: CurveKeys?
    private let context: ZMQContext

    /// The default `connectTimeout`: a daemon that is there connects within milliseconds, even
    /// while it is busy (libzmq's I/O threads make the connection, not the daemon's loop).
    public static let defaultConnectTimeout = 1.0

    /// A client of the control endpoint; nothing is sent until the first request.
    public init(endpoint: String = DefaultEndpoints.control, timeout: Double = 5,
                connectTimeout: Double = ControlClient.defaultConnectTimeout, curve: CurveKeys? = nil) throws(ClientError) {
        let context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        try self.init(context: context, endpoint: endpoint, timeout: timeout, connectTimeout: connectTimeout, curve: curve)
    }

    init(context: ZMQContext, endpoint: String, timeout: Double, connectTimeout: Double, curve: CurveKeys?) throws(ClientError) {
        guard timeout > 0 && timeout.isFinite else { throw .invalidOption("the control timeout (\(timeout) s) must be a positive number of seconds") }
        guard connectTimeout > 0 && connectTimeout.isFinite else {
            throw .invalidOption("the control connect timeout (\(connectTimeout) s) must be a positive number of seconds")
        }
        self.context = context
        self.endpoint = endpoint
        self.timeout = timeout
        self.connectTimeout = min(connectTimeout, timeout)
        self.curve = curve
    }

    /// A request's reply as it came: decoded (never a failure: that is thrown), its JSON bytes,
    /// and the round trip from send to reply.
    public struct Exchange: Sendable {
        public var reply: ControlReply
        public var json: [UInt8]
        public var roundTripSeconds: Double
    }

    /// Sends `request` and returns the whole exchange.
    public func exchange(_ request: ControlRequest) throws(ClientError) -> Exchange {
        let socket = try ClientSockets.requester(context, endpoint: endpoint, connectTimeout: connectTimeout,
                                                 replyTimeout: timeout, curve: curve)
        defer { socket.close() }
        let started = monotonicNanoseconds()
        let (sent, frames) = try zmq("control request \"\(request.command)\" to \(endpoint) failed") {
            () throws(ZMQError) -> (Bool, [[UInt8]]?) in
            guard try socket.send([request.jsonBytes]) else { return (false, nil) }
            return (true, try socket.receiveMultipart())
        }
        let roundTrip = monotonicNanoseconds() - started
        guard sent else { throw .notReachable(endpoint: endpoint, seconds: connectTimeout, curve: curve != nil) }
        guard let frames else { throw .noReply(command: request.command, endpoint: endpoint, seconds: timeout) }
        guard frames.count == 1 else {
            throw .badReply(command: request.command, reason: "\(frames.count) frames; a reply has exactly one")
        }
        let reply: ControlReply
        do { reply = try ControlReply(jsonBytes: frames[0], for: request) } catch {
            throw .badReply(command: request.command, reason: error.message)
        }
        if case .failure(let body) = reply { throw .refused(command: request.command, error: body) }
        return Exchange(reply: reply, json: frames[0], roundTripSeconds: Double(roundTrip) / 1e9)
    }

    /// Sends `request` and returns its reply.
    public func send(_ request: ControlRequest) throws(ClientError) -> ControlReply {
        try exchange(request).reply
    }

    /// The daemon's model, limits and counters.
    public func status() throws(ClientError) -> StatusReply {
        try send(.status) { if case .status(let reply) = $0 { reply } else { nil } }
    }

    /// The daemon's protocol version and uptime (see `exchange` for the round trip).
    public func ping() throws(ClientError) -> PingReply {
        try send(.ping) { if case .ping(let reply) = $0 { reply } else { nil } }
    }

    /// One page of the live streams (see `StreamsPage`): start with cursor 0 and go on with each
    /// reply's cursor until it is 0, as ``forEachStreamsPage(limit:_:)`` does.
    public func streams(_ page: StreamsPage = StreamsPage()) throws(ClientError) -> StreamsReply {
        try send(.streams(page)) { if case .streams(let reply) = $0 { reply } else { nil } }
    }

    /// Walks the live streams a page of at most `limit` at a time, handing `body` each page's reply
    /// and its raw JSON. A stream that lives through the whole walk is seen exactly once.
    public func forEachStreamsPage(limit: Int = StreamsPage.defaultLimit,
                                   _ body: (StreamsReply, _ json: [UInt8]) -> Void) throws(ClientError) {
        var page = StreamsPage(limit: limit)
        // A scan visits each of the daemon's stream records once, so it ends.
        repeat {
            let exchange = try exchange(.streams(page))
            guard case .streams(let reply) = exchange.reply else {
                throw .badReply(command: "streams", reason: "not a streams reply")
            }
            body(reply, exchange.json)
            page.cursor = reply.cursor
        } while page.cursor != 0
    }

    /// Every live stream, fetched a page of at most `limit` at a time, sorted by id.
    public func allStreams(limit: Int = StreamsPage.defaultLimit) throws(ClientError) -> [StreamInfo] {
        var streams: [StreamInfo] = []
        try forEachStreamsPage(limit: limit) { reply, _ in streams += reply.streams }
        return streams.sorted { $0.id < $1.id }
    }

    /// Drops a live stream (its subscribers get ERROR `dropped`). Under CURVE, an admin key's only.
    public func drop(_ stream: StreamID) throws(ClientError) -> DropReply {
        try send(.drop(stream: stream)) { if case .drop(let reply) = $0 { reply } else { nil } }
    }

    /// Loads `model` (a file in the daemon's model directory; nil: the configured file again) for
    /// new streams. Under CURVE, an admin key's only.
    public func reload(model: String? = nil) throws(ClientError) -> ReloadReply {
        try send(.reload(model: model)) { if case .reload(let reply) = $0 { reply } else { nil } }
    }

    /// The daemon's counters in the Prometheus text format.
    public func metrics() throws(ClientError) -> String {
        try send(.metrics) { if case .metrics(let reply) = $0 { reply.metrics } else { nil } }
    }

    private func send<Reply>(_ request: ControlRequest, _ extract: (ControlReply) -> Reply?) throws(ClientError) -> Reply {
        guard let reply = extract(try send(request)) else {
            throw .badReply(command: request.command, reason: "not a \(request.command) reply")
        }
        return reply
    }
}
