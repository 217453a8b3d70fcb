import ArgumentParser
import Dispatch
import Foundation
import Logging
import LSTMDefaultModel
import LSTMDRelease
import LSTMServer

@main
struct LSTMDaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmd",
        abstract: "Streaming LSTM inference daemon: rows in over ZeroMQ, class probabilities out.",
        discussion: """
            Clients PUSH image rows (Protocols/stream-protocol.md) to the ingest endpoint; \
            lstmd keeps each stream's LSTM state, advances it one row per step, batching rows of \
            different streams together, and PUBlishes class probabilities on the predictions endpoint. \
            A DEALER client on the results endpoint gets its own predictions losslessly. Control \
            requests (status, streams, drop, reload, ping, metrics) go to the control endpoint \
            (Protocols/control-protocol.md).

            Settings come from --config (TOML; keys are the option names without --), then the \
            options given here, which win. SIGTERM/SIGINT stop gracefully; SIGHUP reloads the model \
            and the CURVE key lists.

            Examples:
              lstmd
              lstmd --model mnist-256.safetensors --metrics 127.0.0.1:9464
              lstmd --config /etc/lstmd/lstmd.toml --state-dir /var/lib/lstmd

            Exit status: 0 after a graceful stop; 1 when lstmd cannot start or stops on an error; 2 \
            after a graceful stop whose snapshot could not be written into --state-dir (the live \
            streams were told shutting_down and are lost; the log says why).

            SETTINGS (also the keys of the --config file)

            """ + DaemonSetting.helpText,
        version: LSTMDVersion.current)

    @Option(name: .long, help: ArgumentHelp("TOML config file; the settings given as options override its keys.", valueName: "path"))
    var config: String?

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings, each --key value or --key=value: see SETTINGS above.", valueName: "settings"))
    var settings: [String] = []

    /// The file's settings overlaid with the ones given on the command line.
    func resolvedConfiguration() throws(ConfigurationError) -> DaemonConfiguration {
        var c = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(fileAt: path) }
            ?? DaemonConfiguration()
        try DaemonSetting.apply(arguments: settings, to: &c)
        try c.validate()
        return c
    }

    func run() throws {
        let configuration: DaemonConfiguration
        do { configuration = try resolvedConfiguration() } catch {
            throw ValidationError(String(describing: error))
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let journal = LogfmtLogHandler.standardErrorIsJournal()
        LoggingSystem.bootstrap { _ in LogfmtLogHandler(level: level, journal: journal) }
        let logger = Logger(label: "lstmd")
        DescriptorLimit.raise(logger: logger)
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: configuration, defaultModel: DefaultModel.url, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let signals = SignalRelay(daemon: daemon)
        let outcome: Daemon.StopOutcome
        do {
            outcome = try daemon.run()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        withExtendedLifetime(signals) {}
        if outcome == .snapshotNotWritten { throw ExitCode(2) }
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
