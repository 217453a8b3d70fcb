import Foundation
import TOMLKit
import WireProtocol

/// Everything the daemon can be told, with its defaults. Filled from the config file first, then
/// from command-line flags, which win. Keys in the TOML file are the flag names without `--`.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The model file; nil serves the model embedded in `lstmd`.
    public var model: String?
    /// PULL endpoint that receives rows (protocol v1 ingest).
    public var ingest = "tcp://127.0.0.1:5555"
    /// PUB endpoint that publishes predictions.
    public var predictions = "tcp://127.0.0.1:5556"
    /// REP endpoint for control requests.
    public var control = "tcp://127.0.0.1:5557"
    /// ROUTER endpoint of the lossless result path; nil disables it.
    public var results: String? = "tcp://127.0.0.1:5558"
    /// Publish after every row (`partial`) or only the final prediction (`final`).
    public var publish: PublicationMode = .partial
    /// Most streams advanced in one batched step.
    public var maxBatch = 256
    /// How long to wait for more rows before a step that is not full; 0 steps at once.
    public var batchDelayMicroseconds = 0
    /// Microseconds the loop keeps polling without sleeping after a message arrived: the next row of
    /// a lone stream then skips the wake-up of a sleeping poll (p50 ~0.09 ms instead of ~0.14 ms
    /// here), for at most this much busy CPU per message; 0 always sleeps in poll.
    public var busyPollMicroseconds = 100
    /// Most live streams.
    public var maxStreams = 100_000
    /// Seconds without a row before a stream is evicted; 0 never evicts.
    public var idleTimeoutSeconds = 60.0
    /// PUB high-water mark: messages queued per subscriber before PUB drops.
    public var publishHighWaterMark = 100_000
    /// Messages queued per client, each way, on the ROUTER path before backpressure.
    public var resultsHighWaterMark = 10_000
    /// Largest ingest message accepted, in bytes; larger ones are dropped by libzmq.
    public var maxMessageSize = 65_536
    /// Directory for stream snapshots across restarts; nil keeps none.
    public var stateDirectory: String?
    /// Seconds between snapshots of the live streams while serving (with a state directory), so
    /// that after a crash streams resume from a recent point with a `gap` error instead of being
    /// unknown; 0 writes one only at a graceful stop.
    public var snapshotIntervalSeconds = 30.0
    /// Seconds a graceful stop may take to drain queued rows and write the snapshot.
    public var drainTimeoutSeconds = 10.0
    /// `host:port` of the Prometheus metrics HTTP endpoint; nil disables it.
    public var metrics: String?
    /// OpenBLAS threads for row steps (1 is fastest for small batches on 2 cores).
    public var blasThreads = 1
    /// swift-log level name: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    // Issue 15 (security): reload's directory, CURVE keys, protected mode.
    /// The only directory `reload` loads model files from (relative names are resolved there);
    /// nil: the directory of `model`, and no reload by path when the embedded model serves.
    public var modelDirectory: String?
    /// The daemon's CURVE secret key file (e.g. `$CREDENTIALS_DIRECTORY/lstmd.key`); nil: plain ZeroMQ.
    public var curveSecretKey: String?
    /// Public keys of the clients admitted under CURVE: a file, or a directory of `*.pub` files.
    public var curveAuthorizedKeys: String?
    /// Public keys admitted under CURVE that may also `reload` and `drop`.
    public var curveAdminKeys: String?
    /// Serve plain ZeroMQ on non-loopback tcp endpoints (protected mode off).
    public var insecure = false

    public init() {}

    /// The directory `reload` may load from (see `modelDirectory`).
    public var reloadDirectory: String? {
        modelDirectory ?? model.map { ($0 as NSString).deletingLastPathComponent }.map { $0.isEmpty ? "." : $0 }
    }

    /// Every socket the daemon binds, by name, for the exposure check.
    public var boundEndpoints: [(socket: String, endpoint: String)] {
        [("ingest", ingest), ("predictions", predictions), ("control", control)] + (results.map { [("results", $0)] } ?? [])
    }

    /// Checks values that flags and files can both get wrong.
    public func validate() throws(ConfigurationError) {
        func require(_ condition: Bool, _ key: String, _ message: String) throws(ConfigurationError) {
            if !condition { throw .invalidValue(key: key, message: message) }
        }
        try require((1...65_536).contains(maxBatch), "max-batch", "must be between 1 and 65536, got \(maxBatch)")
        try require(batchDelayMicroseconds >= 0 && batchDelayMicroseconds <= 1_000_000,
                    "batch-delay-us", "must be between 0 and 1000000, got \(batchDelayMicroseconds)")
        try require(busyPollMicroseconds >= 0 && busyPollMicroseconds <= 1_000_000,
                    "busy-poll-us", "must be between 0 and 1000000, got \(busyPollMicroseconds)")
        try require(maxStreams >= 1, "max-streams", "must be at least 1, got \(maxStreams)")
        try require(idleTimeoutSeconds.isFinite && idleTimeoutSeconds >= 0,
                    "idle-timeout", "must be 0 (never) or a positive number of seconds, got \(idleTimeoutSeconds)")
        try require(publishHighWaterMark >= 0, "pub-hwm", "must be 0 (unlimited) or positive")
        try require(resultsHighWaterMark >= 1, "results-hwm", "must be at least 1")
        try require(maxMessageSize >= 64, "max-message-size", "must be at least 64 bytes, got \(maxMessageSize)")
        try require(snapshotIntervalSeconds.isFinite && snapshotIntervalSeconds >= 0,
                    "snapshot-interval", "must be 0 (only at stop) or a positive number of seconds")
        try require(drainTimeoutSeconds.isFinite && drainTimeoutSeconds > 0,
                    "drain-timeout", "must be a positive number of seconds")
        try require((1...64).contains(blasThreads), "blas-threads", "must be between 1 and 64")
        try require(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel),
                    "log-level", "must be one of trace, debug, info, notice, warning, error, critical; got \(logLevel)")
        for (key, endpoint) in [("ingest", ingest), ("predictions", predictions), ("control", control),
                                ("results", results ?? "tcp://")] {
            try require(endpoint.contains("://"), key, "'\(endpoint)' is not a ZeroMQ endpoint (e.g. tcp://127.0.0.1:5555, ipc:///run/lstmd/\(key))")
        }
        try require(curveSecretKey != nil || (curveAuthorizedKeys == nil && curveAdminKeys == nil),
                    "curve-authorized-keys", "and curve-admin-keys need curve-secret-key (the daemon's own key)")
        try require(curveSecretKey == nil || curveAuthorizedKeys != nil || curveAdminKeys != nil,
                    "curve-secret-key", "needs curve-authorized-keys or curve-admin-keys: the keys of the clients to admit")
        if let metrics {
            try require(Self.parseHostPort(metrics) != nil, "metrics", "'\(metrics)' is not host:port (e.g. 127.0.0.1:9464)")
        }
    }

    /// Splits `host:port`; nil when malformed.
    public static func parseHostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port), colon != text.startIndex else { return nil }
        return (String(text[..<colon]), port)
    }

    // MARK: Config file

    /// Reads a TOML config file over these defaults. Unknown keys and wrong types are errors.
    public static func load(fileAt path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadableFile(path: path, reason: error.localizedDescription)
        }
        var decoder = TOMLDecoder()
        decoder.strictDecoding = true
        let file: DaemonSettings
        do { file = try decoder.decode(DaemonSettings.self, from: text) } catch let error as UnexpectedKeysError {
            let keys = error.keys.keys.sorted().joined(separator: ", ")
            throw .unknownKeys(path: path, keys: keys)
        } catch {
            throw .malformedFile(path: path, reason: Self.describe(error))
        }
        return DaemonConfiguration().overlaid(with: file)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.typeMismatch(type, context):
            return "key '\(context.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type)"
        case let DecodingError.dataCorrupted(context):
            return "key '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        default:
            return String(describing: error)
        }
    }

    /// This configuration with every value `settings` gives replacing the current one.
    public func overlaid(with settings: DaemonSettings) -> DaemonConfiguration {
        var c = self
        settings.apply(to: &c)
        return c
    }
}

/// A configuration that cannot be used, with the key or file at fault.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case malformedFile(path: String, reason: String)
    case unknownKeys(path: String, keys: String)
    case invalidValue(key: String, message: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): "cannot read config file \(path): \(reason)"
        case let .malformedFile(path, reason): "config file \(path) is not valid: \(reason)"
        case let .unknownKeys(path, keys): "config file \(path) has unknown keys: \(keys) (see lstmd --help for the names)"
        case let .invalidValue(key, message): "\(key) \(message)"
        }
    }
}

/// Settings as a config file or the command line gives them: every key optional, named as the flag.
public struct DaemonSettings: Decodable, Sendable {
    public var model: String?
    public var ingest: String?
    public var predictions: String?
    public var control: String?
    public var results: String?
    public var publish: PublicationMode?
    public var maxBatch: Int?
    public var batchDelayUs: Int?
    public var busyPollUs: Int?
    public var maxStreams: Int?
    public var idleTimeout: Double?
    public var pubHwm: Int?
    public var resultsHwm: Int?
    public var maxMessageSize: Int?
    public var stateDir: String?
    public var snapshotInterval: Double?
    public var drainTimeout: Double?
    public var metrics: String?
    public var blasThreads: Int?
    public var logLevel: String?
    public var modelDir: String?
    public var curveSecretKey: String?
    public var curveAuthorizedKeys: String?
    public var curveAdminKeys: String?
    public var insecure: Bool?

    public init(
        model: String? = nil,
        ingest: String? = nil,
        predictions: String? = nil,
        control: String? = nil,
        results: String? = nil,
        publish: PublicationMode? = nil,
        maxBatch: Int? = nil,
        batchDelayUs: Int? = nil,
        busyPollUs: Int? = nil,
        maxStreams: Int? = nil,
        idleTimeout: Double? = nil,
        pubHwm: Int? = nil,
        resultsHwm: Int? = nil,
        maxMessageSize: Int? = nil,
        stateDir: String? = nil,
        snapshotInterval: Double? = nil,
        drainTimeout: Double? = nil,
        metrics: String? = nil,
        blasThreads: Int? = nil,
        logLevel: String? = nil,
        modelDir: String? = nil,
        curveSecretKey: String? = nil,
        curveAuthorizedKeys: String? = nil,
        curveAdminKeys: String? = nil,
        insecure: Bool? = nil
    ) {
        self.model = model
        self.ingest = ingest
        self.predictions = predictions
        self.control = control
        self.results = results
        self.publish = publish
        self.maxBatch = maxBatch
        self.batchDelayUs = batchDelayUs
        self.busyPollUs = busyPollUs
        self.maxStreams = maxStreams
        self.idleTimeout = idleTimeout
        self.pubHwm = pubHwm
        self.resultsHwm = resultsHwm
        self.maxMessageSize = maxMessageSize
        self.stateDir = stateDir
        self.snapshotInterval = snapshotInterval
        self.drainTimeout = drainTimeout
        self.metrics = metrics
        self.blasThreads = blasThreads
        self.logLevel = logLevel
        self.modelDir = modelDir
        self.curveSecretKey = curveSecretKey
        self.curveAuthorizedKeys = curveAuthorizedKeys
        self.curveAdminKeys = curveAdminKeys
        self.insecure = insecure
    }

    enum CodingKeys: String, CodingKey {
        case model, ingest, predictions, control, results, publish, metrics
        case maxBatch = "max-batch", batchDelayUs = "batch-delay-us", maxStreams = "max-streams"
        case idleTimeout = "idle-timeout", pubHwm = "pub-hwm", resultsHwm = "results-hwm"
        case maxMessageSize = "max-message-size", stateDir = "state-dir", drainTimeout = "drain-timeout"
        case snapshotInterval = "snapshot-interval", busyPollUs = "busy-poll-us"
        case blasThreads = "blas-threads", logLevel = "log-level"
        case modelDir = "model-dir", curveSecretKey = "curve-secret-key", curveAuthorizedKeys = "curve-authorized-keys"
        case curveAdminKeys = "curve-admin-keys", insecure
    }

    func apply(to c: inout DaemonConfiguration) {
        if let model { c.model = model }
        if let ingest { c.ingest = ingest }
        if let predictions { c.predictions = predictions }
        if let control { c.control = control }
        if let results { c.results = results == "none" ? nil : results }
        if let publish { c.publish = publish }
        if let maxBatch { c.maxBatch = maxBatch }
        if let batchDelayUs { c.batchDelayMicroseconds = batchDelayUs }
        if let busyPollUs { c.busyPollMicroseconds = busyPollUs }
        if let maxStreams { c.maxStreams = maxStreams }
        if let idleTimeout { c.idleTimeoutSeconds = idleTimeout }
        if let pubHwm { c.publishHighWaterMark = pubHwm }
        if let resultsHwm { c.resultsHighWaterMark = resultsHwm }
        if let maxMessageSize { c.maxMessageSize = maxMessageSize }
        if let stateDir { c.stateDirectory = stateDir }
        if let snapshotInterval { c.snapshotIntervalSeconds = snapshotInterval }
        if let drainTimeout { c.drainTimeoutSeconds = drainTimeout }
        if let metrics { c.metrics = metrics }
        if let blasThreads { c.blasThreads = blasThreads }
        if let logLevel { c.logLevel = logLevel }
        if let modelDir { c.modelDirectory = modelDir }
        if let curveSecretKey { c.curveSecretKey = curveSecretKey }
        if let curveAuthorizedKeys { c.curveAuthorizedKeys = curveAuthorizedKeys }
        if let curveAdminKeys { c.curveAdminKeys = curveAdminKeys }
        if let insecure { c.insecure = insecure }
    }
}
