import Foundation

/// Every failure the protocol can report, with the snake_case string sent on the wire.
///
/// `Protocols/stream-protocol.md` §Errors says when each is sent, on which topic, and what happens
/// to the stream; `Protocols/control-protocol.md` covers the control-only codes.
public enum ErrorCode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    // Decoding an ingest message (the message is discarded; the stream is unchanged).
    /// Frame 1 is not a valid stream id (empty, > 255 bytes, bad UTF-8, NUL, leading `$`). Topic `$errors`.
    case badStreamID = "bad_stream_id"
    /// Not 3 frames (2 are also allowed for END).
    case badFrameCount = "bad_frame_count"
    /// Frame 2 is not 8 bytes (version 1) or 12 bytes (version 2).
    case badHeaderSize = "bad_header_size"
    /// Header byte 0 is not a protocol version spoken here (1 or 2).
    case badVersion = "bad_version"
    /// Header byte 1 is not a known ingest kind.
    case badKind = "bad_kind"
    /// Header byte 2 is not a known row dtype.
    case badDType = "bad_dtype"
    /// Header byte 3 has bits set that v1 does not define.
    case badFlags = "bad_flags"
    /// Frame 3's length is not the model's input size × the dtype's size.
    case badRowSize = "bad_row_size"
    /// A row value is NaN or infinite (after scaling).
    case nonFiniteInput = "non_finite_input"

    // Sequencing (the stream engine).
    /// The first row of an unknown stream is not row 0.
    case notStarted = "not_started"
    /// A row index beyond the next expected row: the stream is dropped.
    case gap = "gap"
    /// The daemon holds its maximum number of streams: the new stream is refused.
    case capacity = "capacity"
    /// The stream was idle longer than the idle timeout and was dropped.
    case evicted = "evicted"
    /// END (or control `drop`) for a stream that is not live.
    case unknownStream = "unknown_stream"
    /// Row index ≥ the model's sequence length.
    case rowOutOfRange = "row_out_of_range"
    /// The model the stream started on was unloaded: the stream is dropped.
    case modelChanged = "model_changed"
    /// The stream was dropped by the control command `drop`.
    case dropped = "dropped"
    /// The ROUTER peer the stream is bound to did not read and passed its bound: stream dropped.
    case overflow = "overflow"
    /// The daemon is stopping: live streams are dropped, new rows refused.
    case shuttingDown = "shutting_down"
    /// A bug or resource failure inside the daemon.
    case `internal` = "internal"

    // Control channel only.
    /// The control request is not a JSON object with a string `command` and valid arguments.
    case badRequest = "bad_request"
    /// The control request names a command the daemon does not know.
    case unknownCommand = "unknown_command"
    /// `reload` could not load or validate the new model; the current model keeps serving.
    case reloadFailed = "reload_failed"
    /// The command changes the daemon and the client's CURVE key is not an admin key.
    case forbidden = "forbidden"

    // Client side only: never sent by a daemon.
    /// A prediction's body does not match its kind (probabilities not a multiple of 4 bytes,
    /// or an ERROR body that is not the JSON object of the spec).
    case badBody = "bad_body"

    public var description: String { rawValue }
}

/// A protocol failure: its wire code, a human-readable message, and, when they could be read, the
/// stream and row it concerns — everything the daemon needs to publish it (`topic`, `header`, `body`).
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The protocol code (`bad_row_size`, `gap`, ...).
    public var code: ErrorCode
    /// What exactly was wrong, for people: names the value and what was expected.
    public var message: String
    /// The stream concerned; nil when the stream id could not be read (answered on `$errors`).
    public var streamID: StreamID?
    /// The row index of the offending message, or the stream's next row; nil when unknown.
    public var row: UInt32?
    /// The sequence number (LSP/2) of the message or stream concerned: the ERROR then has a version
    /// 2 header that echoes it. Nil for LSP/1 clients and unreadable headers.
    public var sequence: UInt32?

    public init(_ code: ErrorCode, _ message: String, streamID: StreamID? = nil, row: UInt32? = nil, sequence: UInt32? = nil) {
        self.code = code
        self.message = message
        self.streamID = streamID
        self.row = row
        self.sequence = sequence
    }

    /// The topic (frame 1) of the ERROR that reports this failure: the stream id, or `$errors`.
    public var topic: String { streamID?.string ?? errorsTopic }

    /// The header (frame 2) of the ERROR that reports this failure. The row index is
    /// `PredictionHeader.noRow` when unknown.
    public var header: PredictionHeader {
        PredictionHeader(kind: .error, argmax: PredictionHeader.errorArgmax, row: row ?? PredictionHeader.noRow,
                         sequence: sequence)
    }

    /// The JSON body (frame 3) of the ERROR that reports this failure.
    public var body: ErrorBody { ErrorBody(code: code.rawValue, message: message) }

    /// The three frames of the ERROR prediction message reporting this failure.
    public var predictionFrames: [[UInt8]] {
        [Array(topic.utf8), header.bytes, body.jsonBytes]
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let streamID { text += " (stream \(streamID.debugDescription)" + (row.map { ", row \($0))" } ?? ")") }
        return text
    }
}

/// The JSON body of an ERROR prediction, and the `error` member of a failed control reply:
/// `{"code":"gap","message":"..."}`.
public struct ErrorBody: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The protocol code. A string rather than `ErrorCode` so that clients can read codes
    /// added by later daemons; see `knownCode`.
    public var code: String
    /// A human-readable message.
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The code as a known `ErrorCode`, or nil for a code this library does not know.
    public var knownCode: ErrorCode? { ErrorCode(rawValue: code) }

    /// Compact UTF-8 JSON with sorted keys and unescaped slashes, e.g.
    /// `{"code":"gap","message":"row 5 arrived, row 3 expected"}`.
    public var jsonBytes: [UInt8] {
        // Encoding two strings cannot fail.
        (try? Array(ControlJSON.encoder.encode(self))) ?? []
    }

    /// Parses an ERROR body; throws `bad_body` unless it is a JSON object with string `code` and `message`.
    public init(jsonBytes: [UInt8]) throws(WireError) {
        do {
            self = try ControlJSON.decoder.decode(ErrorBody.self, from: Data(jsonBytes))
        } catch {
            throw WireError(.badBody, "ERROR body is not a JSON object with string members \"code\" and \"message\" (\(jsonBytes.count) bytes)")
        }
    }

    public var description: String { "\(code): \(message)" }
}
