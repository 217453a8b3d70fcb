import Foundation

/// A control request (REQ → REP, one JSON frame): `{"command":"status"}`,
/// `{"command":"drop","stream":"abc"}`, `{"command":"reload","model":"/path"}`.
public enum ControlRequest: Sendable, Equatable, CustomStringConvertible {
    /// Model, limits, counters, live streams, uptime.
    case status
    /// One page of the live streams (all of them when the reply's cursor is 0).
    case streams(StreamsPage = StreamsPage())
    /// Drop one live stream (its subscribers get ERROR `dropped`).
    case drop(stream: StreamID)
    /// Liveness check.
    case ping
    /// Load a model (this path, or the path the current model was loaded from) for new streams.
    case reload(model: String?)
    /// Counters in the Prometheus text exposition format.
    case metrics

    /// The `command` string.
    public var command: String {
        switch self {
        case .status: "status"
        case .streams: "streams"
        case .drop: "drop"
        case .ping: "ping"
        case .reload: "reload"
        case .metrics: "metrics"
        }
    }

    /// Every command this library knows.
    public static let commands = ["status", "streams", "drop", "ping", "reload", "metrics"]

    /// The request frame: compact JSON, sorted keys.
    public var jsonBytes: [UInt8] {
        var object: [String: String] = ["command": command]
        switch self {
        case .drop(let stream): object["stream"] = stream.string
        case .reload(let model?): object["model"] = model
        default: break
        }
        if case .streams(let page) = self, page != StreamsPage() {
            struct PageRequest: Encodable { let command: String, cursor: UInt64, limit: Int }
            return ControlJSON.encode(PageRequest(command: command, cursor: page.cursor, limit: page.limit))
        }
        return ControlJSON.encode(object)
    }

    /// Parses a request frame. Throws `bad_request` (not a JSON object, `command` missing or not a
    /// string, an argument missing or invalid) or `unknown_command`. Unknown members are ignored.
    public init(jsonBytes: [UInt8]) throws(WireError) {
        let parsed = try? JSONSerialization.jsonObject(with: Data(jsonBytes), options: [])
        guard let object = parsed as? [String: Any] else {
            throw WireError(.badRequest, "control request is not a JSON object")
        }
        guard let command = object["command"] as? String else {
            throw WireError(.badRequest, "control request has no string member \"command\"")
        }
        switch command {
        case "status": self = .status
        case "streams": self = .streams(try StreamsPage(object))
        case "ping": self = .ping
        case "metrics": self = .metrics
        case "drop":
            guard let stream = object["stream"] as? String else {
                throw WireError(.badRequest, "\"drop\" needs a string member \"stream\"")
            }
            do { self = .drop(stream: try StreamID(stream)) } catch {
                throw WireError(.badRequest, "\"drop\": \(error.description)")
            }
        case "reload":
            switch object["model"] {
            case nil, is NSNull: self = .reload(model: nil)
            case let path as String where !path.isEmpty: self = .reload(model: path)
            default: throw WireError(.badRequest, "\"reload\": \"model\" must be a non-empty string path when present")
            }
        default:
            throw WireError(.unknownCommand, "unknown command \"\(command)\"; known: \(Self.commands.joined(separator: ", "))")
        }
    }

    public var description: String { String(decoding: jsonBytes, as: UTF8.self) }
}

/// A loaded model as the control replies describe it.
public struct ModelInfo: Sendable, Equatable, Codable {
    /// The file it was loaded from; nil when built in memory.
    public var path: String?
    /// Hex SHA-256 of the model file's bytes.
    public var sha256: String
    public var shape: ModelShapeInfo
    /// Rows per sequence (28 for MNIST); nil when the model does not say (streams end on LAST).
    public var sequenceLength: Int?
    /// The factor uint8 rows are multiplied by.
    public var inputScale: Float
    /// One label per class.
    public var labels: [String]
    /// When it was loaded, ISO 8601 UTC (`2026-11-29T01:52:42Z`).
    public var loadedAt: String
    /// Live streams running on this model.
    public var liveStreams: Int

    public init(path: String?, sha256: String, shape: ModelShapeInfo, sequenceLength: Int?, inputScale: Float,
                labels: [String], loadedAt: String, liveStreams: Int) {
        self.path = path
        self.sha256 = sha256
        self.shape = shape
        self.sequenceLength = sequenceLength
        self.inputScale = inputScale
        self.labels = labels
        self.loadedAt = loadedAt
        self.liveStreams = liveStreams
    }

    enum CodingKeys: String, CodingKey {
        case path, sha256, shape, labels
        case sequenceLength = "sequence_length", inputScale = "input_scale"
        case loadedAt = "loaded_at", liveStreams = "live_streams"
    }
}

/// A model's sizes.
public struct ModelShapeInfo: Sendable, Equatable, Codable {
    /// Values per row (I).
    public var inputSize: Int
    /// LSTM units per layer (H).
    public var hiddenSize: Int
    /// LSTM layers (L).
    public var layers: Int
    /// Output classes (C ≤ 255).
    public var classes: Int

    public init(inputSize: Int, hiddenSize: Int, layers: Int, classes: Int) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.classes = classes
    }

    enum CodingKeys: String, CodingKey {
        case layers, classes
        case inputSize = "input_size", hiddenSize = "hidden_size"
    }
}

/// Reply to `status`.
public struct StatusReply: Sendable, Equatable, Codable {
    /// The daemon's version (`lstmd --version`).
    public var version: String
    public var protocolVersion: Int
    public var uptimeSeconds: Double
    public var publication: PublicationMode
    /// The model new streams start on.
    public var model: ModelInfo
    /// Older models still serving the streams that started on them.
    public var previousModels: [ModelInfo]
    public var counters: Counters
    public var liveStreams: Int
    /// Streams the daemon holds at most (`capacity` beyond).
    public var maxStreams: Int
    /// Idle time after which a stream is evicted.
    public var idleTimeoutSeconds: Double

    public init(version: String, protocolVersion: Int = Int(ProtocolVersion.current), uptimeSeconds: Double,
                publication: PublicationMode, model: ModelInfo, previousModels: [ModelInfo], counters: Counters,
                liveStreams: Int, maxStreams: Int, idleTimeoutSeconds: Double) {
        self.version = version
        self.protocolVersion = protocolVersion
        self.uptimeSeconds = uptimeSeconds
        self.publication = publication
        self.model = model
        self.previousModels = previousModels
        self.counters = counters
        self.liveStreams = liveStreams
        self.maxStreams = maxStreams
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case version, publication, model, counters
        case protocolVersion = "protocol_version", uptimeSeconds = "uptime_seconds"
        case previousModels = "previous_models", liveStreams = "live_streams"
        case maxStreams = "max_streams", idleTimeoutSeconds = "idle_timeout_seconds"
    }
}

/// One live stream in the reply to `streams`.
public struct StreamInfo: Sendable, Equatable, Codable {
    public var id: StreamID
    /// The row index the stream expects next.
    public var nextRow: UInt32
    /// The sequence number of the stream's current sequence (stream protocol §6.1); nil (absent in
    /// JSON) for a stream of a version 1 client, which has none.
    public var sequence: UInt32?
    /// SHA-256 of the model the stream runs on.
    public var model: String
    /// Seconds since its last applied row.
    public var idleSeconds: Double

    public init(id: StreamID, nextRow: UInt32, sequence: UInt32?, model: String, idleSeconds: Double) {
        self.id = id
        self.nextRow = nextRow
        self.sequence = sequence
        self.model = model
        self.idleSeconds = idleSeconds
    }

    enum CodingKeys: String, CodingKey {
        case id, sequence, model
        case nextRow = "next_row", idleSeconds = "idle_seconds"
    }
}

/// Which page of the live streams a `streams` request asks for. Like Redis' `SCAN`: start at
/// cursor 0, then send the cursor of each reply until a reply's cursor is 0. A stream that is live
/// for the whole scan is listed exactly once; one started or ended meanwhile may or may not be.
/// Each request costs the daemon its page, never a pass over every stream.
public struct StreamsPage: Sendable, Equatable {
    /// Streams per page when the request does not say.
    public static let defaultLimit = 1_000
    /// The most streams a page may ask for.
    public static let maxLimit = 10_000

    /// 0 for the first page, then the `cursor` of the previous reply.
    public var cursor: UInt64
    /// At most this many streams (1…`maxLimit`).
    public var limit: Int

    public init(cursor: UInt64 = 0, limit: Int = defaultLimit) {
        self.cursor = cursor
        self.limit = limit
    }

    /// The optional members `cursor` (a non-negative integer) and `limit` (1…`maxLimit`) of a request.
    init(_ request: [String: Any]) throws(WireError) {
        self.init()
        if let value = request["cursor"] {
            guard !Self.isBoolean(value), let cursor = value as? UInt64 else {
                throw WireError(.badRequest, "\"streams\": \"cursor\" must be 0 or the cursor of the previous reply")
            }
            self.cursor = cursor
        }
        if let value = request["limit"] {
            guard !Self.isBoolean(value), let limit = value as? Int, (1...Self.maxLimit).contains(limit) else {
                throw WireError(.badRequest, "\"streams\": \"limit\" must be an integer in 1…\(Self.maxLimit)")
            }
            self.limit = limit
        }
    }

    /// JSON `true` and `false` also cast to integers.
    private static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }
}

/// Reply to `streams`: one page of the live streams (see `StreamsPage`).
public struct StreamsReply: Sendable, Equatable, Codable {
    /// Live streams, at most the page's limit, in the daemon's order (not sorted).
    public var streams: [StreamInfo]
    /// The cursor of the next page; 0 when this page is the last.
    public var cursor: UInt64

    public init(streams: [StreamInfo], cursor: UInt64 = 0) {
        self.streams = streams
        self.cursor = cursor
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        streams = try container.decode([StreamInfo].self, forKey: .streams)
        // Daemons before paging sent every stream and no cursor.
        cursor = try container.decodeIfPresent(UInt64.self, forKey: .cursor) ?? 0
    }
}

/// Reply to `drop`.
public struct DropReply: Sendable, Equatable, Codable {
    /// The stream dropped.
    public var stream: StreamID
    /// The row it expected next when dropped.
    public var nextRow: UInt32

    public init(stream: StreamID, nextRow: UInt32) {
        self.stream = stream
        self.nextRow = nextRow
    }

    enum CodingKeys: String, CodingKey {
        case stream
        case nextRow = "next_row"
    }
}

/// Reply to `ping`.
public struct PingReply: Sendable, Equatable, Codable {
    public var protocolVersion: Int
    public var uptimeSeconds: Double

    public init(protocolVersion: Int = Int(ProtocolVersion.current), uptimeSeconds: Double) {
        self.protocolVersion = protocolVersion
        self.uptimeSeconds = uptimeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version", uptimeSeconds = "uptime_seconds"
    }
}

/// Reply to `reload`.
public struct ReloadReply: Sendable, Equatable, Codable {
    /// The model new streams now start on.
    public var model: ModelInfo
    /// Older models still serving their streams.
    public var previousModels: [ModelInfo]

    public init(model: ModelInfo, previousModels: [ModelInfo]) {
        self.model = model
        self.previousModels = previousModels
    }

    enum CodingKeys: String, CodingKey {
        case model
        case previousModels = "previous_models"
    }
}

/// Reply to `metrics`.
public struct MetricsReply: Sendable, Equatable, Codable {
    /// Prometheus text exposition format 0.0.4.
    public var metrics: String
    public init(metrics: String) { self.metrics = metrics }
}

/// A control reply: `{"ok":true, ...fields of the command's reply}` or
/// `{"ok":false,"error":{"code":"...","message":"..."}}`.
public enum ControlReply: Sendable, Equatable {
    case status(StatusReply)
    case streams(StreamsReply)
    case drop(DropReply)
    case ping(PingReply)
    case reload(ReloadReply)
    case metrics(MetricsReply)
    case failure(ErrorBody)

    /// A failure reply for `error`.
    public init(_ error: WireError) { self = .failure(error.body) }

    /// The reply frame: compact JSON, sorted keys.
    public var jsonBytes: [UInt8] {
        switch self {
        case .status(let reply): ControlJSON.encode(Success(payload: reply))
        case .streams(let reply): ControlJSON.encode(Success(payload: reply))
        case .drop(let reply): ControlJSON.encode(Success(payload: reply))
        case .ping(let reply): ControlJSON.encode(Success(payload: reply))
        case .reload(let reply): ControlJSON.encode(Success(payload: reply))
        case .metrics(let reply): ControlJSON.encode(Success(payload: reply))
        case .failure(let error): ControlJSON.encode(Failure(error: error))
        }
    }

    /// Parses the reply to `request`. Throws `bad_body` when it is not the JSON the spec defines.
    public init(jsonBytes: [UInt8], for request: ControlRequest) throws(WireError) {
        let data = Data(jsonBytes)
        do {
            let ok = try ControlJSON.decoder.decode(OK.self, from: data).ok
            if !ok {
                self = .failure(try ControlJSON.decoder.decode(Failure.self, from: data).error)
                return
            }
            let decoder = ControlJSON.decoder
            switch request {
            case .status: self = .status(try decoder.decode(StatusReply.self, from: data))
            case .streams: self = .streams(try decoder.decode(StreamsReply.self, from: data))
            case .drop: self = .drop(try decoder.decode(DropReply.self, from: data))
            case .ping: self = .ping(try decoder.decode(PingReply.self, from: data))
            case .reload: self = .reload(try decoder.decode(ReloadReply.self, from: data))
            case .metrics: self = .metrics(try decoder.decode(MetricsReply.self, from: data))
            }
        } catch {
            throw WireError(.badBody, "reply to \"\(request.command)\" is not the JSON the control protocol defines: \(error)")
        }
    }

    private struct OK: Decodable { var ok: Bool }

    /// `{"ok":true}` merged with the payload's members.
    private struct Success<Payload: Encodable>: Encodable {
        var payload: Payload
        enum Keys: String, CodingKey { case ok }
        func encode(to encoder: any Encoder) throws {
            try payload.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(true, forKey: .ok)
        }
    }

    private struct Failure: Codable {
        var ok = false
        var error: ErrorBody
    }
}

extension StreamID: Codable {
    public init(from decoder: any Decoder) throws {
        let string = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(string) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(string)
    }
}

/// The JSON settings of the protocol: compact, sorted keys, `/` unescaped.
enum ControlJSON {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static var decoder: JSONDecoder { JSONDecoder() }

    /// Encodes values that cannot fail to encode (no non-finite floats reach here: the daemon's
    /// counters and times are finite).
    static func encode(_ value: some Encodable) -> [UInt8] {
        do { return Array(try encoder.encode(value)) } catch {
            preconditionFailure("control JSON encoding failed: \(error)")
        }
    }
}
