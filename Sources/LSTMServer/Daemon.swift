import Dispatch
import Foundation
import Logging
import LSTMCore
import LSTMStreaming
import Synchronization
import WireProtocol
import ZeroMQ

/// The lstmd daemon: binds the sockets, runs the one loop that owns them and the engine, and stops
/// gracefully. Build one, call ``run()`` on the thread that will own the sockets, and call
/// ``request(_:)`` from anywhere (a signal handler's queue, a test) to stop or reload it.
public final class Daemon: Sendable {
    /// What another thread can ask of the running loop.
    public enum Request: Sendable, Equatable {
        /// Stop taking rows, finish the queued ones, and return from ``Daemon/run()``.
        case stop
        /// Load a model (nil: the configured one again) for new streams.
        case reload(String?)
    }

    /// How a graceful stop ended.
    public enum StopOutcome: Sendable, Equatable {
        /// The live streams were saved, or there was no state directory to save them in.
        case clean
        /// The final snapshot could not be written (the log says why; `lstmd` exits with status 2):
        /// any older snapshot was removed and the live streams' clients were told `shutting_down`.
        case snapshotNotWritten
    }

    public let configuration: DaemonConfiguration
    private let logger: Logger
    private let initialModel: LoadedModel
    private let requests = Mutex<[Request]>([])
    private let context: ZMQContext
    private let metrics = ServerMetrics()
    private let readiness = Readiness()
    private let notifier: SystemdNotifier
    /// The CURVE policy, when CURVE is configured (issue 15).
    private let authenticator: CurveAuthenticator?
    /// At most `max-subscribers` connections to the predictions endpoint, `max-results-peers` to
    /// the results endpoint.
    private let limits: ConnectionLimits
    /// The ZAP handler, for CURVE and the connection limits.
    private let gate: ConnectionGate
    /// Held while the process lives: no second daemon on the same ipc paths (issue 15).
    private let ipcLock: IPCEndpointLock

    /// Loads and validates the model (the configured one, else `defaultModel`). Throws when no model
    /// can be loaded; sockets are bound by ``run()``.
    public init(configuration: DaemonConfiguration, defaultModel: URL?, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        if let directory = configuration.stateDirectory, let problem = SnapshotStore.unusableDirectory(directory) {
            throw ConfigurationError.invalidValue(key: "state-dir", message: "'\(directory)' cannot hold snapshots: \(problem)")
        }
        guard let path = configuration.model ?? defaultModel?.path else {
            throw DaemonError.noModel
        }
        // Issue 15: protected mode, then CURVE; the ZAP handler is bound before any socket.
        try ExposurePolicy.check(configuration.boundEndpoints, curve: configuration.curveSecretKey != nil,
                                 insecure: configuration.insecure)
        initialModel = try LoadedModel(path: path, isDefault: configuration.model == nil)
        ipcLock = try IPCEndpointLock(configuration.boundEndpoints)
        // One I/O thread: the connection limits rely on its order of events (AdmittedConnections).
        let context = try ZMQContext()
        self.context = context
        notifier = SystemdNotifier(environment: environment)
        let authenticator = try configuration.curveSecretKey.map { secretKeyFile in
            try CurveAuthenticator(keyPair: ZMQCurveKeyFiles.readSecretKey(at: secretKeyFile),
                                   authorizedKeys: configuration.curveAuthorizedKeys,
                                   adminKeys: configuration.curveAdminKeys, logger: logger)
        }
        self.authenticator = authenticator
        let limits = ConnectionLimits(subscribers: .subscribers(configuration.maxSubscribers, logger: logger),
                                      resultsPeers: .resultsPeers(configuration.maxResultsPeers, logger: logger))
        self.limits = limits
        gate = try ConnectionGate(context: context, curve: authenticator, limits: limits)
    }

    /// Asks the loop to stop or reload. Safe from any thread.
    public func request(_ request: Request) {
        if case .reload(nil) = request { authenticator?.reloadKeys() }  // SIGHUP: keys too (issue 15)
        requests.withLock { $0.append(request) }
    }

    /// Binds the sockets and serves until a ``Request/stop`` request, then drains and returns how
    /// the stop went.
    @discardableResult
    public func run() throws -> StopOutcome {
        var http: MetricsHTTPServer?
        if let address = configuration.metrics, let (host, port) = DaemonConfiguration.parseHostPort(address) {
            http = try MetricsHTTPServer(host: host, port: port, metrics: metrics, readiness: readiness, logger: logger)
            logger.info("metrics served over HTTP", metadata: ["address": "\(address)"])
        }
        defer { http?.stop() }
        let outcome: StopOutcome
        do {
            let loop = try ServingLoop(
                configuration: configuration, model: initialModel, context: context, curve: authenticator?.server,
                limits: limits, logger: logger,
                status: StatusChannels(metrics: metrics, notifier: notifier, readiness: readiness, logger: logger),
                takeRequests: { [self] in requests.withLock { pending in defer { pending.removeAll() }; return pending } })
            outcome = try loop.run()
        }
        gate.stop()
        // The loop's sockets are closed now; terminating the context waits for PUB's linger, so the
        // last predictions reach subscribers before the process exits.
        context.terminate()
        return outcome
    }
}

/// Failures that keep the daemon from starting.
public enum DaemonError: Error, CustomStringConvertible {
    case noModel
    case modelLoad(path: String, error: ModelError)
    case bind(socket: String, endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .noModel:
            "no model: pass --model PATH (the embedded default model was not found beside the executable)"
        case let .modelLoad(path, error):
            "cannot load model \(path): \(error)"
        case let .bind(socket, endpoint, reason):
            "cannot bind the \(socket) socket to \(endpoint): \(reason)"
        }
    }
}

/// A monotonic clock in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
