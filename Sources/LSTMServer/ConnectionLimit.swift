import Logging
import Synchronization
import ZeroMQ

/// At most `limit` admitted connections to one of the daemon's bound sockets, so that the memory of
/// its per-connection queues is bounded (stream-protocol.md §14): PUB (`max-subscribers`, each
/// subscriber holding up to `pub-hwm` messages) and the results ROUTER (`max-results-peers`, each
/// peer holding its outbox, parked rows and `results-hwm` messages each way).
///
/// The socket gets a ZAP domain of its own, so that libzmq asks the daemon's ZAP handler about
/// every handshake on it, CURVE or not, and a socket monitor that reports each connection libzmq
/// accepts and each that closes, by file descriptor; the handler reads the monitor before each
/// decision and admits a handshake while fewer than `limit` admitted connections are open
/// (``AdmittedConnections`` says why that count is exact in a burst and never too low).
///
/// A refused connection gets a ZAP 400 and closes. libzmq 4.3.4 treats that refusal as a protocol
/// error on the client's side and does **not** connect again: the client gets nothing until it
/// connects anew (e.g. a new socket) while a place is free (stream-protocol.md §10). inproc
/// connections, in the daemon's own process, are not counted (libzmq neither monitors nor
/// authenticates them).
final class ConnectionLimit: Sendable {
    /// The setting that sets the limit, e.g. `max-subscribers`.
    let setting: String
    /// The ZAP domain of the limited socket's handshakes.
    let zapDomain: String
    let limit: Int
    /// Where the limited socket reports its connections.
    private let monitorEndpoint: String
    /// The log line of a refusal, e.g. `subscriber refused`.
    private let refusal: String
    private let logger: Logger
    private let state = Mutex(State())
    /// Seconds between two log lines about refusals.
    private static let refusalLogInterval: Double = 10

    private struct State {
        var connections = AdmittedConnections()
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }

    /// The limit on PUB's subscribers.
    static func subscribers(_ limit: Int, logger: Logger) -> ConnectionLimit {
        ConnectionLimit(setting: "max-subscribers", zapDomain: "lstmd.predictions", refusal: "subscriber refused",
                        limit: limit, logger: logger)
    }

    /// The limit on the results ROUTER's DEALER peers.
    static func resultsPeers(_ limit: Int, logger: Logger) -> ConnectionLimit {
        ConnectionLimit(setting: "max-results-peers", zapDomain: "lstmd.results", refusal: "results client refused",
                        limit: limit, logger: logger)
    }

    private init(setting: String, zapDomain: String, refusal: String, limit: Int, logger: Logger) {
        self.setting = setting
        self.zapDomain = zapDomain
        monitorEndpoint = "inproc://\(zapDomain).monitor"
        self.refusal = refusal
        self.limit = limit
        self.logger = logger
    }

    /// The monitor the ZAP handler reads for this limit.
    var monitor: ZMQZAPHandler.Monitor {
        ZMQZAPHandler.Monitor(endpoint: monitorEndpoint) { [self] event in observe(event) }
    }

    /// Gives the socket its ZAP domain and monitor; call before it binds (and after CURVE, which
    /// sets a domain too).
    func install(on socket: ZMQSocket) throws(ZMQError) {
        try socket.set(.zapDomain, Array(zapDomain.utf8))
        try socket.monitor([.accepted, .disconnected], on: monitorEndpoint)
    }

    func observe(_ event: ZMQMonitorEvent) {
        state.withLock { state in
            if event.kind == .accepted { state.connections.accepted(event.value) }
            if event.kind == .disconnected { state.connections.disconnected(event.value) }
        }
    }

    /// Whether the handshake being judged may go on (its place then taken): false while `limit`
    /// admitted connections are open. Refusals are logged at most every 10 s.
    func admits(_ request: ZAPRequest) -> Bool {
        let (admitted, places, report) = state.withLock { state -> (Bool, Int, Int?) in
            if state.connections.admit(limit: limit) { return (true, state.connections.places, nil) }
            state.refusedSinceLog += 1
            let now = ContinuousClock.now
            guard state.lastLog.map({ now - $0 >= .seconds(Self.refusalLogInterval) }) ?? true else {
                return (false, state.connections.places, nil)
            }
            defer { state.refusedSinceLog = 0; state.lastLog = now }
            return (false, state.connections.places, state.refusedSinceLog)
        }
        if let report {
            logger.warning("\(refusal): \(setting) reached", metadata: [
                String(setting.map { $0 == "-" ? "_" : $0 }): "\(limit)", "admitted": "\(places)",
                "address": "\(request.address)", "refused_since_last_report": "\(report)",
            ])
        }
        return admitted
    }
}

/// The daemon's connection limits, one per limited socket.
struct ConnectionLimits: Sendable {
    let subscribers: ConnectionLimit
    let resultsPeers: ConnectionLimit

    var all: [ConnectionLimit] { [subscribers, resultsPeers] }
}
