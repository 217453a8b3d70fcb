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

    public let configuration: DaemonConfiguration
    private let logger: Logger
    private let initialModel: LoadedModel
    private let requests = Mutex<[Request]>([])
    private let context: ZMQContext
    private let metrics = ServerMetrics()
    private let notifier: SystemdNotifier

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
        initialModel = try LoadedModel(path: path, isDefault: configuration.model == nil)
        context = try ZMQContext()
        notifier = SystemdNotifier(environment: environment)
    }

    /// Asks the loop to stop or reload. Safe from any thread.
    public func request(_ request: Request) {
        requests.withLock { $0.append(request) }
    }

    /// Binds the sockets and serves until a ``Request/stop`` request, then drains and returns.
    public func run() throws {
        var http: MetricsHTTPServer?
        if let address = configuration.metrics, let (host, port) = DaemonConfiguration.parseHostPort(address) {
            http = try MetricsHTTPServer(host: host, port: port, metrics: metrics, logger: logger)
            logger.info("metrics served over HTTP", metadata: ["address": "\(address)"])
        }
        defer { http?.stop() }
        do {
            let loop = try ServingLoop(
                configuration: configuration, model: initialModel, context: context, logger: logger,
                status: StatusChannels(metrics: metrics, notifier: notifier, logger: logger),
                takeRequests: { [self] in requests.withLock { pending in defer { pending.removeAll() }; return pending } })
            try loop.run()
        }
        // The loop's sockets are closed now; terminating the context waits for PUB's linger, so the
        // last predictions reach subscribers before the process exits.
        context.terminate()
    }
}

/// Failures that keep the daemon from starting.
public enum DaemonError: Error, CustomStringConvertible {
    case noModel
    case modelLoad(path: String, reason: String)
    case bind(socket: String, endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .noModel:
            "no model: pass --model PATH (the embedded default model was not found beside the executable)"
        case let .modelLoad(path, reason):
            "cannot load model \(path): \(reason)"
        case let .bind(socket, endpoint, reason):
            "cannot bind the \(socket) socket to \(endpoint): \(reason)"
        }
    }
}

/// A monotonic clock in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
