public import WireProtocol
public import ZeroMQ

/// The four endpoints of one lstmd daemon (stream-protocol.md §3). The defaults are lstmd's.
public struct DaemonEndpoints: Sendable, Hashable, CustomStringConvertible {
    /// Ingest (the daemon's PULL): rows are PUSHed here.
    public var ingest: String
    /// Predictions (the daemon's PUB): a SUB socket reads them here.
    public var predictions: String
    /// Control (the daemon's REP): status, ping, streams, drop.
    public var control: String
    /// Lossless results (the daemon's ROUTER): a DEALER sends rows and reads predictions here.
    public var results: String

    /// A daemon's endpoints, each defaulting to lstmd's (tcp on 127.0.0.1, ports 5555–5558).
    public init(ingest: String = DefaultEndpoints.ingest, predictions: String = DefaultEndpoints.predictions,
                control: String = DefaultEndpoints.control, results: String = DefaultEndpoints.results) {
        self.ingest = ingest
        self.predictions = predictions
        self.control = control
        self.results = results
    }

    /// The daemon's name for rendezvous hashing (Protocols/rendezvous.md §1): its ingest endpoint.
    public var name: String { ingest }

    public var description: String { ingest }
}

/// CurveZMQ keys for a daemon that requires them: the daemon's public key and this client's key
/// pair, set on every socket the client opens (`serverKey`, `keyPair`; ZeroMQ's `ZMQCurveClient`).
/// `CurveKeys(serverKey:secretKeyFile:)` reads them from the files `lstm-client keygen` writes.
public typealias CurveKeys = ZMQCurveClient

/// How a `DaemonClient` talks to its daemon.
public struct ClientOptions: Sendable {
    /// Send rows on a DEALER to the daemon's ROUTER and read every prediction of this client's
    /// streams there (stream-protocol.md §11); otherwise PUSH + SUB, which may drop predictions.
    public var lossless: Bool
    /// Seconds a stream that waits for a prediction may see nothing before it fails with
    /// `StreamFailure.timeout` (e.g. its daemon is gone).
    public var timeout: Double
    /// PUB/SUB only: seconds without an awaited prediction after which the stream resends its last
    /// row once, so that the daemon publishes that row's prediction again (stream-protocol.md §6
    /// rule 3). Must be below `timeout`.
    public var recoveryDelay: Double
    /// PUB/SUB only: seconds a new subscription is given to reach the daemon before rows that
    /// need it are sent (the "slow joiner", stream-protocol.md §10).
    public var subscriptionWait: Double
    /// Seconds to wait for the connection to the daemon's control endpoint (its handshake
    /// included) before the client reports it `notReachable`; at most `timeout`.
    public var connectTimeout: Double
    /// CurveZMQ keys, for daemons that require them (every daemon beyond loopback does): set on
    /// every socket. A daemon that does not know the client's key, or whose key is not
    /// `serverKey`, answers nothing at all, so a wrong key is a `notReachable` or `timeout` failure.
    public var curve: CurveKeys?

    /// Options with lstmd's usual defaults: PUB/SUB, 5 s timeout, recovery after 1 s, 200 ms
    /// subscription wait, 1 s to connect, no CURVE.
    public init(lossless: Bool = false, timeout: Double = 5, recoveryDelay: Double = 1,
                subscriptionWait: Double = 0.2, connectTimeout: Double = ControlClient.defaultConnectTimeout,
                curve: CurveKeys? = nil) {
        self.lossless = lossless
        self.timeout = timeout
        self.recoveryDelay = recoveryDelay
        self.subscriptionWait = subscriptionWait
        self.connectTimeout = connectTimeout
        self.curve = curve
    }
}
