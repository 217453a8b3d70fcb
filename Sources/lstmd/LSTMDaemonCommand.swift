import ArgumentParser
import Dispatch
import Foundation
import Logging
import LSTMDVersion
import LSTMServer
import WireProtocol

@main
struct LSTMDaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmd",
        abstract: "Streaming LSTM inference daemon: rows in over ZeroMQ, class probabilities out.",
        discussion: """
            Clients PUSH image rows (protocol v1, Protocols/stream-protocol.md) to the ingest endpoint; \
            lstmd keeps each stream's LSTM state, advances it one row per step, batching rows of \
            different streams together, and PUBlishes class probabilities on the predictions endpoint. \
            A DEALER client on the results endpoint gets its own predictions losslessly. Control \
            requests (status, streams, drop, reload, ping, metrics) go to the control endpoint \
            (Protocols/control-protocol.md).

            Settings come from --config (TOML; keys are the option names without --), then the \
            options given here, which win. SIGTERM/SIGINT stop gracefully; SIGHUP reloads the model \
            and the CURVE key lists.
            """,
        version: LSTMDVersion.current)

    @Option(name: .long, help: ArgumentHelp("Model file (safetensors). Default: the model embedded in lstmd.", valueName: "path"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("TOML config file; command-line options override its keys.", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("PULL endpoint receiving rows. (default: tcp://127.0.0.1:5555)", valueName: "endpoint"))
    var ingest: String?

    @Option(help: ArgumentHelp("PUB endpoint publishing predictions. (default: tcp://127.0.0.1:5556)", valueName: "endpoint"))
    var predictions: String?

    @Option(help: ArgumentHelp("REP endpoint for control requests. (default: tcp://127.0.0.1:5557)", valueName: "endpoint"))
    var control: String?

    @Option(help: ArgumentHelp("ROUTER endpoint of the lossless result path, or 'none'. (default: tcp://127.0.0.1:5558)", valueName: "endpoint"))
    var results: String?

    @Option(help: ArgumentHelp("Publish a prediction after every row ('partial') or only the final one ('final'). (default: partial)", valueName: "mode"))
    var publish: PublicationMode?

    @Option(help: ArgumentHelp("Most streams advanced in one batched step. (default: 256)", valueName: "n"))
    var maxBatch: Int?

    @Option(name: .customLong("batch-delay-us"), help: ArgumentHelp("Microseconds to wait for more rows before a step that is not full; 0 steps at once, for the lowest latency. (default: 0)", valueName: "us"))
    var batchDelayUs: Int?

    @Option(name: .customLong("busy-poll-us"), help: ArgumentHelp("Microseconds to keep polling without sleeping after a message arrived: lower latency for a lone stream, for at most that much busy CPU per message; 0 always sleeps. (default: 100)", valueName: "us"))
    var busyPollUs: Int?

    @Option(help: ArgumentHelp("Most live streams; a new stream beyond it is refused with a 'capacity' error. (default: 100000)", valueName: "n"))
    var maxStreams: Int?

    @Option(help: ArgumentHelp("Seconds without a row before a stream is evicted with an 'evicted' error; 0 never evicts. (default: 60)", valueName: "seconds"))
    var idleTimeout: Double?

    @Option(name: .customLong("pub-hwm"), help: ArgumentHelp("Predictions queued per subscriber before PUB drops them. (default: 100000)", valueName: "n"))
    var pubHwm: Int?

    @Option(name: .customLong("results-hwm"), help: ArgumentHelp("Messages queued per client each way on the results path before backpressure. (default: 10000)", valueName: "n"))
    var resultsHwm: Int?

    @Option(help: ArgumentHelp("Largest ingest message accepted, in bytes. (default: 65536)", valueName: "bytes"))
    var maxMessageSize: Int?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Directory for stream snapshots kept across restarts. (default: none)", valueName: "path"))
    var stateDir: String?

    @Option(help: ArgumentHelp("Seconds between snapshots of live streams into --state-dir while serving; 0 only at a graceful stop. (default: 30)", valueName: "seconds"))
    var snapshotInterval: Double?

    @Option(help: ArgumentHelp("Seconds a graceful stop may take to drain queued rows and write the snapshot. (default: 10)", valueName: "seconds"))
    var drainTimeout: Double?

    @Option(help: ArgumentHelp("Serve Prometheus metrics over HTTP on host:port, e.g. 127.0.0.1:9464. (default: off)", valueName: "host:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("OpenBLAS threads for row steps. (default: 1)", valueName: "n"))
    var blasThreads: Int?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical. (default: info)", valueName: "level"))
    var logLevel: String?

    // Issue 15 (security).
    @Option(name: .customLong("model-dir"), help: ArgumentHelp("The only directory 'reload' loads model files from; relative names are resolved there. (default: the directory of --model)", valueName: "path"))
    var modelDir: String?

    @Option(name: .customLong("curve-secret-key"), help: ArgumentHelp("The daemon's CURVE secret key file (Z85; e.g. $CREDENTIALS_DIRECTORY/lstmd.key; make one with 'lstm-client keygen'): CURVE on every socket. (default: plain ZeroMQ)", valueName: "path"))
    var curveSecretKey: String?

    @Option(name: .customLong("curve-authorized-keys"), help: ArgumentHelp("Public keys of the clients to admit: a file of Z85 keys, one per line, or a directory of *.pub files; read again on SIGHUP.", valueName: "path"))
    var curveAuthorizedKeys: String?

    @Option(name: .customLong("curve-admin-keys"), help: ArgumentHelp("Public keys admitted that may also 'reload' and 'drop' (others get 'forbidden'); same forms, read again on SIGHUP.", valueName: "path"))
    var curveAdminKeys: String?

    @Flag(help: "Serve plain ZeroMQ on tcp endpoints beyond loopback (refused by default without CURVE).")
    var insecure = false

    /// The file settings overlaid with the options given on the command line.
    func resolvedConfiguration() throws -> DaemonConfiguration {
        var c = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(fileAt: path) }
            ?? DaemonConfiguration()
        c = c.overlaid(with: DaemonSettings(
            model: model, ingest: ingest, predictions: predictions, control: control, results: results,
            publish: publish, maxBatch: maxBatch, batchDelayUs: batchDelayUs, busyPollUs: busyPollUs, maxStreams: maxStreams,
            idleTimeout: idleTimeout, pubHwm: pubHwm, resultsHwm: resultsHwm, maxMessageSize: maxMessageSize,
            stateDir: stateDir, snapshotInterval: snapshotInterval, drainTimeout: drainTimeout, metrics: metrics, blasThreads: blasThreads,
            logLevel: logLevel, modelDir: modelDir, curveSecretKey: curveSecretKey,
            curveAuthorizedKeys: curveAuthorizedKeys, curveAdminKeys: curveAdminKeys, insecure: insecure ? true : nil))
        try c.validate()
        return c
    }

    func run() throws {
        let configuration: DaemonConfiguration
        do { configuration = try resolvedConfiguration() } catch {
            throw ValidationError(String(describing: error))
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let journal = LogfmtLogHandler.standardErrorIsJournal()  // issue 15: logfmt, journald priorities
        LoggingSystem.bootstrap { _ in LogfmtLogHandler(level: level, journal: journal) }
        let logger = Logger(label: "lstmd")
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: configuration, defaultModel: DefaultModel.url, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let signals = SignalRelay(daemon: daemon)
        do {
            try daemon.run()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        withExtendedLifetime(signals) {}
    }
}

/// Turns SIGTERM/SIGINT into a graceful stop and SIGHUP into a reload, outside signal context.
final class SignalRelay {
    private let sources: [any DispatchSourceSignal]

    init(daemon: Daemon) {
        let queue = DispatchQueue(label: "lstmd.signals")
        // A parent may start us with these signals blocked (a blocked mask is inherited): unblock
        // them, or SIGTERM would never reach the handlers.
        var handled = sigset_t()
        sigemptyset(&handled)
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&handled, signalNumber) }
        pthread_sigmask(SIG_UNBLOCK, &handled, nil)
        var sources: [any DispatchSourceSignal] = []
        for (signalNumber, action) in [(SIGTERM, Daemon.Request.stop), (SIGINT, .stop), (SIGHUP, .reload(nil))] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { daemon.request(action) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}

/// Where the model embedded in lstmd lives: the package resource beside the executable, or where
/// the installer put it.
enum DefaultModel {
    static let fileName = "default-model.safetensors"

    static var url: URL? {
        let executableDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let candidates = [
            executableDirectory.appendingPathComponent("lstmd_lstmd.resources/\(fileName)"),
            executableDirectory.appendingPathComponent("../share/lstmd/\(fileName)").standardized,
            URL(fileURLWithPath: "/usr/share/lstmd/\(fileName)"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
extension PublicationMode: ExpressibleByArgument {}
