import Foundation
import LSTMCore
import TOMLKit
import WireProtocol

/// Everything the daemon can be told; the initial values are the defaults. Filled from the config
/// file first, then from command-line options, which win; both are mapped onto the properties by
/// the one list of declarations, `DaemonSetting.all`.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The model file; nil serves the model embedded in `lstmd`.
    public var model: String?
    /// PULL endpoint that receives rows (protocol v2 ingest; v1 is accepted too).
    public var ingest = DefaultEndpoints.ingest
    /// PUB endpoint that publishes predictions.
    public var predictions = DefaultEndpoints.predictions
    /// REP endpoint for control requests.
    public var control = DefaultEndpoints.control
    /// ROUTER endpoint of the lossless result path; nil disables it.
    public var results: String? = DefaultEndpoints.results
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
    /// Most connections to the predictions endpoint (tcp and ipc); one more is refused.
    public var maxSubscribers = 1024
    /// Messages queued per client, each way, on the ROUTER path before backpressure.
    public var resultsHighWaterMark = 10_000
    /// Most connections to the results endpoint (tcp and ipc); one more is refused.
    public var maxResultsPeers = 1024
    /// libzmq's limit on an inbound ingest message, in bytes: a larger one makes libzmq close its
    /// connection unread. Anything below it that is malformed or oversized for the model (a row longer
    /// than the model's input) is refused on its own, with its specific error, the connection kept.
    /// 16 MiB: above the largest row of any model lstmd loads (2²⁰ float32 values, 4 MiB), so that
    /// every message a client may send by mistake gets its own answer.
    public var maxMessageSize = 16 << 20
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
    /// swift-log level name: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    /// The only directory `reload` loads model files from (relative names are resolved there);
    /// nil: the directory of `model`, and no reload by path when the embedded model serves.
    public var modelDirectory: String?
    /// The daemon's CURVE secret key file (e.g. `/run/credentials/lstmd.service/lstmd.key`, where
    /// systemd's `LoadCredential=` puts it); nil: plain ZeroMQ.
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

    /// Every socket the daemon binds, by name, for the exposure check and the ipc locks.
    public var boundEndpoints: [(socket: String, endpoint: String)] {
        [("ingest", ingest), ("predictions", predictions), ("control", control)] + (results.map { [("results", $0)] } ?? [])
    }

    /// Checks every setting (`DaemonSetting.all`): the same checks for flags and files.
    public func validate() throws(ConfigurationError) {
        for setting in DaemonSetting.all {
            if let message = setting.problem(self) { throw .invalidValue(key: setting.key, message: message) }
        }
    }

    /// Splits `host:port`; nil when malformed.
    public static func parseHostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port), colon != text.startIndex else { return nil }
        return (String(text[..<colon]), port)
    }

    // MARK: Config file

    /// The largest config file read: lstmd's own settings take a few KiB.
    static let maxConfigFileBytes = 1 << 20

    /// Reads a TOML config file over these defaults. Keys are the settings' keys
    /// (`DaemonSetting.all`); unknown keys and values of the wrong type are errors that name them.
    public static func load(fileAt path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path: path, maxByteCount: Self.maxConfigFileBytes) } catch {
            throw .unreadableFile(path: path, reason: error.description)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadableFile(path: path, reason: "it is not UTF-8 text")
        }
        // toml++ aborts the process on some malformed table headers: refuse those first.
        if let problem = TOMLSubsetCheck.problem(in: text) { throw .malformedFile(path: path, reason: problem) }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw .malformedFile(path: path, reason: "\(error.description) (line \(error.source.begin.line), column \(error.source.begin.column))")
        } catch {
            throw .malformedFile(path: path, reason: String(describing: error))
        }
        let unknown = table.keys.filter { DaemonSetting.named($0) == nil }
        guard unknown.isEmpty else { throw .unknownKeys(path: path, keys: unknown.sorted().joined(separator: ", ")) }
        var configuration = DaemonConfiguration()
        for key in table.keys {
            let setting = DaemonSetting.named(key)!
            let value = table[key]!
            let given: DaemonSetting.Value
            switch value.type {
            case .string: given = .text(value.string!)
            case .int: given = .integer(value.int!)
            case .double: given = .number(value.double!)
            case .bool: given = .boolean(value.bool!)
            default: throw .wrongType(path: path, key: key, expected: setting.kind.description, found: "a \(value.type)")
            }
            try setting.assign(given, to: &configuration, from: path)
        }
        return configuration
    }
}

/// A configuration that cannot be used, with the key or file at fault.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case malformedFile(path: String, reason: String)
    case unknownKeys(path: String, keys: String)
    case wrongType(path: String, key: String, expected: String, found: String)
    case unknownOption(String)
    case missingValue(option: String)
    case invalidValue(key: String, message: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): "cannot read config file \(path): \(reason)"
        case let .malformedFile(path, reason): "config file \(path) is not valid: \(reason)"
        case let .unknownKeys(path, keys): "config file \(path) has unknown keys: \(keys) (see lstmd --help for the names)"
        case let .wrongType(path, key, expected, found): "config file \(path): key '\(key)' must be \(expected), not \(found)"
        case let .unknownOption(option): "unknown option '\(option)' (see lstmd --help)"
        case let .missingValue(option): "option '\(option)' needs a value"
        case let .invalidValue(key, message): "\(key) \(message)"
        }
    }
}
