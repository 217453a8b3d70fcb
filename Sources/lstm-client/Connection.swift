import Dispatch
import Foundation
import Synchronization
import WireProtocol
import ZeroMQ

/// Control requests (LCP/1) over a fresh REQ socket per request, with a receive timeout and
/// linger 0: a daemon that is gone costs `timeout`, never a hang, and a lost reply cannot wedge
/// the next request (REQ cannot send twice in a row).
struct ControlClient {
    let context: ZMQContext
    let endpoint: String
    /// Seconds to wait for each reply.
    let timeout: Double
    /// CURVE settings; nil for plain ZeroMQ.
    let curve: ZMQCurveClient?

    /// A reply with its raw frame and round-trip time.
    struct Exchange {
        var reply: ControlReply
        var raw: [UInt8]
        var roundTripNanoseconds: UInt64
    }

    /// Sends `request` and returns the reply; a failure reply (`"ok": false`) is thrown as `refused`.
    func send(_ request: ControlRequest) throws(ClientError) -> Exchange {
        let socket = try zmq("cannot create a REQ socket") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .req)
            try socket.set(.linger, .zero)
            try socket.set(.receiveTimeout, .milliseconds(Int(timeout * 1000)))
            try socket.set(.sendTimeout, .milliseconds(Int(timeout * 1000)))
            try curve?.apply(to: socket)
            return socket
        }
        defer { socket.close() }
        try zmq("cannot connect to the control endpoint \(endpoint)") { () throws(ZMQError) in try socket.connect(endpoint) }
        let started = monotonicNanoseconds()
        let frames = try zmq("control request to \(endpoint) failed") { () throws(ZMQError) -> [[UInt8]]? in
            guard try socket.send([request.jsonBytes]) else { return nil }
            return try socket.receiveMultipart()
        }
        let roundTrip = monotonicNanoseconds() - started
        guard let frames else { throw .notReachable(endpoint: endpoint, timeout: timeout) }
        guard frames.count == 1 else {
            throw .badReply(command: request.command, reason: "\(frames.count) frames; a reply has exactly one")
        }
        let reply: ControlReply
        do { reply = try ControlReply(jsonBytes: frames[0], for: request) } catch {
            throw .badReply(command: request.command, reason: error.message)
        }
        if case .failure(let body) = reply { throw .refused(command: request.command, error: body) }
        return Exchange(reply: reply, raw: frames[0], roundTripNanoseconds: roundTrip)
    }

    /// Longest wait for the first request of a streaming command: a daemon that is there answers
    /// within milliseconds, so a wrong endpoint is reported after 1 s, not after the row timeout.
    static let probeSeconds = 1.0

    /// A client for the first request of a streaming command: `timeout`, but at most `probeSeconds`.
    static func probe(_ context: ZMQContext, endpoint: String, timeout: Double, curve: ZMQCurveClient?) -> ControlClient {
        ControlClient(context: context, endpoint: endpoint, timeout: min(timeout, probeSeconds), curve: curve)
    }

    /// The daemon's status.
    func status() throws(ClientError) -> StatusReply {
        guard case .status(let status) = try send(.status).reply else {
            throw .badReply(command: "status", reason: "not a status reply")
        }
        return status
    }
}

/// What a stream client needs to know about the daemon's model, from `status`.
struct ServingModel {
    var publication: PublicationMode
    var labels: [String]
    /// The model's SHA-256 and file (nil: the daemon's embedded model), for reports.
    var sha256: String
    var path: String?

    /// `sha256-prefix path`, how reports name the model they measured.
    var name: String { "\(sha256.prefix(12)) \(path ?? "(embedded default)")" }

    /// Checks that the daemon's model takes 28-value rows (MNIST digits) and ends a sequence no
    /// earlier than row 27.
    init(status: StatusReply) throws(ClientError) {
        try self.init(model: status.model, publication: status.publication)
    }

    init(model: ModelInfo, publication: PublicationMode) throws(ClientError) {
        guard model.shape.inputSize == Digits.columns else {
            throw .incompatibleModel("it takes rows of \(model.shape.inputSize) values; MNIST rows have \(Digits.columns)")
        }
        if let length = model.sequenceLength, length != Digits.rows {
            throw .incompatibleModel("its sequences have \(length) rows; MNIST digits have \(Digits.rows)")
        }
        self.publication = publication
        labels = model.labels
        sha256 = model.sha256
        path = model.path
    }

    /// The label of class `index`, or the index itself when the model has no label for it.
    func label(_ index: Int) -> String { labels.indices.contains(index) ? labels[index] : String(index) }
}

/// How rows reach the daemon and predictions come back.
enum Transport: String, Encodable {
    /// PUSH to the ingest endpoint, SUB on the predictions endpoint: best effort (spec §10).
    case pubsub = "pub"
    /// DEALER on the results endpoint, both ways: lossless (spec §11).
    case router

    var name: String { self == .pubsub ? "PUSH + PUB/SUB" : "DEALER/ROUTER" }
}

/// Sockets for one client's streams.
enum StreamSockets {
    /// How long a SUB socket is given for its subscription to reach the daemon before rows are
    /// sent (spec §10, "slow joiner"). ZeroMQ has no acknowledgement of a subscription; on
    /// loopback and ipc it arrives within milliseconds, so 200 ms is a wide margin.
    static let subscriptionSettleMicroseconds: UInt32 = 200_000

    /// A SUB socket subscribed to `prefixes` (empty: everything), with a large receive queue so
    /// that a client that keeps reading does not drop messages itself.
    static func subscriber(_ context: ZMQContext, endpoint: String, prefixes: [[UInt8]],
                           curve: ZMQCurveClient?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot subscribe to the predictions endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .sub)
            try socket.set(.linger, .zero)
            try socket.set(.receiveHWM, 1_000_000)
            for prefix in prefixes.isEmpty ? [[]] : prefixes { try socket.subscribe(prefix) }
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// A PUSH socket to the ingest endpoint. Linger is bounded so that exiting never waits for a
    /// daemon that went away.
    static func pusher(_ context: ZMQContext, endpoint: String, curve: ZMQCurveClient?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot connect to the ingest endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .push)
            try socket.set(.linger, .milliseconds(1000))
            try socket.set(.sendHWM, 100_000)
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// A DEALER socket to the results endpoint: sends rows and receives the predictions of the
    /// streams it started.
    static func dealer(_ context: ZMQContext, endpoint: String, curve: ZMQCurveClient?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot connect to the results endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .dealer)
            try socket.set(.linger, .milliseconds(1000))
            try socket.set(.sendHWM, 100_000)
            try socket.set(.receiveHWM, 1_000_000)
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// Whether the daemon serves the lossless path at `endpoint`: an END for a stream that does
    /// not exist must be answered `unknown_stream` on the DEALER that sent it (spec §5.2, §11).
    /// The probe costs the daemon one `unknown_stream` error count.
    static func routerAnswers(_ context: ZMQContext, endpoint: String, timeout: Double, curve: ZMQCurveClient?) -> Bool {
        guard let dealer = try? dealer(context, endpoint: endpoint, curve: curve),
              let probe = try? StreamID("\(hostAndProcess)/probe-\(UInt32.random(in: 0...UInt32.max))")
        else { return false }
        defer {
            try? dealer.set(.linger, .zero)
            dealer.close()
        }
        do {
            try dealer.set(.receiveTimeout, .milliseconds(Int(timeout * 1000)))
            guard try dealer.send(IngestMessage.end(of: probe, sequence: 0).frames, dontWait: true) else { return false }
            let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
            while monotonicNanoseconds() < deadline {
                guard let frames = try dealer.receiveMultipart() else { return false }
                if let message = try? PredictionMessage(frames: frames), message.topic == .stream(probe) { return true }
            }
        } catch {
            return false
        }
        return false
    }
}

/// SIGINT and SIGTERM as a flag that loops check, so that they stop cleanly and report instead
/// of dying mid-output.
enum Interrupts {
    private static let raised = Atomic<Bool>(false)
    /// The installed signal sources, kept alive; touched only by `install()` on the main thread.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Replaces the default handlers (which kill the process) by setting the flag.
    static func install() {
        guard sources.isEmpty else { return }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { raised.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
    }

    /// Whether a signal arrived since `install()`.
    static var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// Writes `text` to standard output now (the watch and classify output is read live by pipes).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a note for people to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
