import Foundation
import Synchronization
public import WireProtocol
import ZeroMQ

/// A client of one lstmd daemon: stream handles that send rows and yield their predictions.
///
/// ```swift
/// let client = try DaemonClient()                       // lstmd's default endpoints
/// let stream = try client.stream()                      // id <host>/<pid>/<random>/<n>
/// for row in 0..<28 { try stream.send(pixels: image[row], last: row == 27) }
/// for await event in stream.events {                    // PARTIALs, then the FINAL (or a failure)
///     print(event)
/// }
/// ```
///
/// Rows go to the daemon's PULL socket and predictions come from its PUB socket, or, with
/// `ClientOptions.lossless`, both over one DEALER to its ROUTER. One I/O thread owns the sockets;
/// every method may be called from any thread or task. The client handles for you: sequence
/// numbers (LSP/2, a new one for every stream handle), the subscription's slow-joiner wait,
/// recovering a prediction that PUB dropped (it resends the stream's last row once, and the
/// daemon answers it again), and reconnecting after a daemon restart (libzmq reconnects; streams
/// the daemon restored from its snapshot continue, others fail with the daemon's error or a
/// timeout).
public final class DaemonClient: Sendable {
    /// The daemon's endpoints.
    public let endpoints: DaemonEndpoints
    public let options: ClientOptions
    /// The daemon's model as `status` described it when the client connected.
    public let model: ModelInfo
    /// The daemon's publication mode (`partial`: a PARTIAL after every row; `final`: FINALs only).
    public let publication: PublicationMode
    /// The prefix of the ids of streams this client names: `<host>/<pid>/<random>/`.
    public let idPrefix: String

    private let context: ZMQContext
    private let link: DaemonLink
    private let counters: Mutex<(next: Int, sequence: UInt32)>

    /// Connects to a daemon: asks its `status` (for its model and publication mode), then starts
    /// the I/O thread. Throws when the daemon does not answer within `options.timeout`.
    /// `idPrefix` names this client's streams (a `ShardedClient` gives all its clients one).
    public init(_ endpoints: DaemonEndpoints = DaemonEndpoints(), options: ClientOptions = ClientOptions(),
                idPrefix: String? = nil) throws(ClientError) {
        guard options.curve == nil else { throw .curveUnsupported }
        guard options.timeout > 0, options.recoveryDelay > 0, options.recoveryDelay < options.timeout,
              options.subscriptionWait >= 0 else {
            throw .invalidOption("timeout (\(options.timeout) s) must be positive and above recoveryDelay (\(options.recoveryDelay) s), subscriptionWait (\(options.subscriptionWait) s) at least 0")
        }
        self.endpoints = endpoints
        self.options = options
        context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        let status = try ControlChannel(context: context, endpoint: endpoints.control, timeout: options.timeout).status()
        model = status.model
        publication = status.publication
        let prefix = idPrefix ?? Self.defaultPrefix()
        do { _ = try StreamID(prefix + "0") } catch { throw .badStreamID(prefix, error) }
        self.idPrefix = prefix
        counters = Mutex((0, UInt32.random(in: 0...UInt32.max)))
        link = try DaemonLink(context: context, endpoints: endpoints, options: options, publication: publication,
                              prefix: Array(prefix.utf8))
    }

    deinit { link.shutdown() }

    /// Stops the I/O thread; streams still open fail with `StreamFailure.clientClosed`.
    public func close() { link.shutdown() }

    /// A new stream (one sequence): `id` defaults to the next of this client's own ids. Giving the
    /// id of a stream still open replaces it (it fails with `superseded`); a new sequence number
    /// makes the daemon restart the id with its next row 0.
    public func stream(id: StreamID? = nil) throws(ClientError) -> ClientStream {
        let chosen: StreamID
        if let id { chosen = id } else { chosen = try nextOwnID() }
        let sequence = counters.withLock { counters in
            defer { counters.sequence &+= 1 }
            return counters.sequence
        }
        let state = SequenceState(id: chosen, sequence: sequence)
        guard link.post(.register(state)) else { throw .streamOver(chosen) }
        return ClientStream(state: state, link: link, inputSize: model.shape.inputSize,
                            sequenceLength: model.sequenceLength)
    }

    /// Takes the next number of this client's own stream ids.
    func takeNumber() -> Int {
        counters.withLock { counters in
            defer { counters.next += 1 }
            return counters.next
        }
    }

    /// The daemon's status now (a control request).
    public func status() throws(ClientError) -> StatusReply {
        try ControlChannel(context: context, endpoint: endpoints.control, timeout: options.timeout).status()
    }

    /// Any control request (control-protocol.md); a failure reply is thrown as `refused`.
    public func control(_ request: ControlRequest) throws(ClientError) -> ControlReply {
        try ControlChannel(context: context, endpoint: endpoints.control, timeout: options.timeout).send(request)
    }

    /// `<host>/<pid>/<8 hex digits>/`: unique across the clients of a daemon (stream-protocol.md §4).
    static func defaultPrefix() -> String {
        let host = ProcessInfo.processInfo.hostName
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(host.isEmpty ? "localhost" : host)/\(getpid())/\(random)/"
    }
}

/// Control requests over a fresh REQ socket each, made and used on the caller's thread, with a
/// receive timeout and linger 0: a daemon that is gone costs `timeout`, never a hang.
struct ControlChannel {
    let context: ZMQContext
    let endpoint: String
    let timeout: Double

    func send(_ request: ControlRequest) throws(ClientError) -> ControlReply {
        let milliseconds = Int(timeout * 1000)
        let frames = try zmq("control request \"\(request.command)\" to \(endpoint) failed") { () throws(ZMQError) -> [[UInt8]]? in
            let socket = try ZMQSocket(context, type: .req)
            defer { socket.close() }
            try socket.set(.linger, .zero)
            try socket.set(.receiveTimeout, .milliseconds(milliseconds))
            try socket.set(.sendTimeout, .milliseconds(milliseconds))
            try socket.connect(endpoint)
            guard try socket.send([request.jsonBytes]) else { return nil }
            return try socket.receiveMultipart()
        }
        guard let frames else { throw .notReachable(endpoint: endpoint, seconds: timeout) }
        guard frames.count == 1 else { throw .badReply(command: request.command, reason: "\(frames.count) frames; a reply has one") }
        let reply: ControlReply
        do { reply = try ControlReply(jsonBytes: frames[0], for: request) } catch {
            throw .badReply(command: request.command, reason: error.message)
        }
        if case .failure(let body) = reply { throw .refused(command: request.command, error: body) }
        return reply
    }

    func status() throws(ClientError) -> StatusReply {
        guard case .status(let status) = try send(.status) else { throw .badReply(command: "status", reason: "not a status reply") }
        return status
    }
}
