import Logging
import Synchronization
import ZeroMQ

/// At most `max-subscribers` connections to the predictions (PUB) endpoint, so that PUB's memory is
/// bounded: each subscriber may hold `pub-hwm` messages (stream-protocol.md §14).
///
/// A socket monitor on PUB reports each connection libzmq accepts and each that closes (by file
/// descriptor); the PUB socket has a ZAP domain of its own, so that libzmq asks the daemon's ZAP
/// handler about every handshake on it, CURVE or not, and the handler refuses one while more
/// connections than the limit are open, the one being judged included. The handler reads the
/// monitor before each decision and, with the daemon's one I/O thread, libzmq reports a
/// connection's acceptance before its handshake starts, so the count is never behind: no more than
/// the limit are ever admitted. A connection
/// counts from its acceptance until it closes, still handshaking or refused ones included (a refused
/// one closes at once; one that never finishes its handshake after `ZMQ_HANDSHAKE_IVL`, 30 s). A
/// refused subscriber gets nothing and libzmq retries its connection (every 100 ms by default):
/// it is admitted once a place is free. inproc subscribers, in the daemon's own process, are not
/// counted (libzmq neither monitors nor authenticates them).
final class SubscriberLimit: Sendable {
    /// The ZAP domain of the PUB socket's handshakes.
    static let zapDomain = "lstmd.predictions"
    /// Where the PUB socket reports its connections.
    static let monitorEndpoint = "inproc://lstmd.predictions.monitor"
    /// Seconds between two log lines about refused subscribers.
    private static let refusalLogInterval: Double = 10

    let limit: Int
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        /// Descriptors of the PUB socket's connections that are open.
        var connections = Set<UInt32>()
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// The monitor the ZAP handler reads for this limit.
    var monitor: ZMQZAPHandler.Monitor {
        ZMQZAPHandler.Monitor(endpoint: Self.monitorEndpoint) { [self] event in observe(event) }
    }

    /// Gives the PUB socket its ZAP domain and monitor; call before it binds (and after CURVE,
    /// which sets a domain too).
    func install(on publisher: ZMQSocket) throws(ZMQError) {
        try publisher.set(.zapDomain, Array(Self.zapDomain.utf8))
        try publisher.monitor([.accepted, .disconnected], on: Self.monitorEndpoint)
    }

    /// Open connections to the PUB endpoint.
    var connections: Int { state.withLock { $0.connections.count } }

    func observe(_ event: ZMQMonitorEvent) {
        state.withLock { state in
            if event.kind == .accepted { state.connections.insert(event.value) }
            if event.kind == .disconnected { state.connections.remove(event.value) }
        }
    }

    /// Whether the handshake being judged may go on: false while more than `limit` connections are
    /// open (the one being judged is one of them). Refusals are logged at most every 10 s.
    func admits(_ request: ZAPRequest) -> Bool {
        let (open, report) = state.withLock { state -> (Int, Int?) in
            let open = state.connections.count
            guard open > limit else { return (open, nil) }
            state.refusedSinceLog += 1
            let now = ContinuousClock.now
            guard state.lastLog.map({ now - $0 >= .seconds(Self.refusalLogInterval) }) ?? true else { return (open, nil) }
            defer { state.refusedSinceLog = 0; state.lastLog = now }
            return (open, state.refusedSinceLog)
        }
        if let report {
            logger.warning("subscriber refused: max-subscribers reached", metadata: [
                "max_subscribers": "\(limit)", "connections": "\(open)", "address": "\(request.address)",
                "refused_since_last_report": "\(report)",
            ])
        }
        return open <= limit
    }
}
