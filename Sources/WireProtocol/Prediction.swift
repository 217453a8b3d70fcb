/// Byte 1 of a prediction header.
public enum PredictionKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Class probabilities after a row that was not the stream's last.
    case partial = 0
    /// Class probabilities after the stream's last row; the stream is over.
    case final = 1
    /// A failure; the body is an `ErrorBody` JSON object.
    case error = 2

    public var description: String {
        switch self {
        case .partial: "PARTIAL"
        case .final: "FINAL"
        case .error: "ERROR"
        }
    }
}

/// Frame 2 of a prediction message: `version(1) kind(1) argmax(1) reserved=0(1) row(uint32 LE)`,
/// 8 bytes in LSP/1; LSP/2 adds the stream's `sequence(uint32 LE)`, 12 bytes.
public struct PredictionHeader: WireHeader, Sendable, Hashable, CustomStringConvertible {
    /// Encoded size in bytes of an LSP/1 header; an LSP/2 one is 12.
    public static let size = 8
    /// The argmax byte of every ERROR (so a model has at most 255 classes, 0...254).
    public static let errorArgmax: UInt8 = 255
    /// The row index of an ERROR that concerns no particular row (e.g. on `$errors`).
    public static let noRow = UInt32.max

    public var kind: PredictionKind
    /// Index of the most probable class (the lowest index on ties); 255 for ERROR.
    public var argmax: UInt8
    /// Index of the row just applied (PARTIAL, FINAL) or concerned (ERROR).
    public var row: UInt32
    /// The sequence number of the stream's sequence (LSP/2), echoed from its rows; nil in LSP/1.
    public var sequence: UInt32?

    public init(kind: PredictionKind, argmax: UInt8, row: UInt32, sequence: UInt32? = nil) {
        self.kind = kind
        self.argmax = argmax
        self.row = row
        self.sequence = sequence
    }

    /// Replaces `buffer`'s contents with the encoded bytes, keeping its capacity.
    public func encode(into buffer: inout [UInt8]) {
        encodeHeader(kind.rawValue, argmax, 0, row: row, sequence: sequence, into: &buffer)
    }

    /// Decodes frame 2 of a prediction. Checks size, version and kind; the reserved byte is ignored.
    public init(bytes: [UInt8]) throws(WireError) {
        self = try withRawBytes(bytes) { (raw) throws(WireError) in try PredictionHeader(bytes: raw) }
    }

    /// Decodes frame 2 of a prediction in place; same checks as `init(bytes: [UInt8])`.
    public init(bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count == Self.size || bytes.count == Self.size + 4 else {
            throw WireError(.badHeaderSize, "prediction header is \(bytes.count) bytes; it must be 8 (version 1) or 12 (version 2)")
        }
        let row = readLittleEndianUInt32(bytes, at: 4)
        guard let size = ProtocolVersion.headerSize(bytes[0]) else {
            throw WireError(.badVersion, "prediction has protocol version \(bytes[0]); this client speaks versions 1 and 2", row: row)
        }
        guard size == bytes.count else {
            throw WireError(.badHeaderSize, "a version \(bytes[0]) prediction header is \(size) bytes, not \(bytes.count)", row: row)
        }
        let sequence = size == 12 ? readLittleEndianUInt32(bytes, at: 8) : nil
        guard let kind = PredictionKind(rawValue: bytes[1]) else {
            throw WireError(.badKind, "prediction kind \(bytes[1]) is unknown; expected 0 (PARTIAL), 1 (FINAL) or 2 (ERROR)", row: row)
        }
        self.init(kind: kind, argmax: bytes[2], row: row, sequence: sequence)
    }

    public var description: String { "\(kind) row \(row)\(sequence.map { " sequence \($0)" } ?? "") argmax \(argmax)" }
}

/// Frame 1 of a prediction message.
public enum PredictionTopic: Sendable, Hashable, CustomStringConvertible {
    /// Predictions and errors of one stream.
    case stream(StreamID)
    /// `$errors`: answers to messages whose stream id could not be read.
    case errors

    /// The frame's bytes.
    public var bytes: [UInt8] {
        switch self {
        case .stream(let id): id.bytes
        case .errors: Array(errorsTopic.utf8)
        }
    }

    public var description: String {
        switch self {
        case .stream(let id): id.string
        case .errors: errorsTopic
        }
    }
}

/// Frame 3 of a prediction message.
public enum PredictionBody: Sendable, Equatable {
    /// PARTIAL and FINAL: one probability per class.
    case probabilities([Float])
    /// ERROR: what went wrong.
    case error(ErrorBody)
}

/// A whole prediction message, as a client receives it.
public struct PredictionMessage: Sendable, Equatable {
    public var topic: PredictionTopic
    public var header: PredictionHeader
    public var body: PredictionBody

    public init(topic: PredictionTopic, header: PredictionHeader, body: PredictionBody) {
        self.topic = topic
        self.header = header
        self.body = body
    }

    /// The three frames.
    public var frames: [[UInt8]] {
        switch body {
        case .probabilities(let probabilities):
            var bytes: [UInt8] = []
            encodeFloat32LittleEndian(probabilities, into: &bytes)
            return [topic.bytes, header.bytes, bytes]
        case .error(let error):
            return [topic.bytes, header.bytes, error.jsonBytes]
        }
    }

    /// Decodes a received prediction (SUB or DEALER). Checks frame count, topic, header, then
    /// that the body matches the kind (`bad_body` otherwise).
    public init(frames: [[UInt8]]) throws(WireError) {
        let decoded = try withUnsafeFrames(frames) { (raw) throws(WireError) in
            let view = try decodePrediction(frames: raw[...])
            let body: PredictionBody = switch view.header.kind {
            case .partial, .final: .probabilities(view.probabilities)
            case .error: .error(try view.errorBody())
            }
            return (view.streamID, view.header, body)
        }
        topic = decoded.0.map { .stream($0) } ?? .errors
        header = decoded.1
        body = decoded.2
    }
}

/// A received prediction read in place from its frames: what a client's hot loop needs, with no
/// copy and no allocation. Valid only while the buffers it was decoded from are.
public struct PredictionView {
    /// Frame 1: a valid stream id, or `$errors`.
    public var topic: UnsafeRawBufferPointer
    /// Whether the topic is `$errors` (an answer to a message whose stream id could not be read).
    public var isErrorsTopic: Bool
    public var header: PredictionHeader
    /// Frame 3: float32 LE probabilities (a whole number of values) or an ERROR's JSON.
    public var body: UnsafeRawBufferPointer

    /// The topic's stream, nil for `$errors` (makes a String: not for the hot loop).
    public var streamID: StreamID? { topicStreamID(topic, isErrorsTopic: isErrorsTopic) }

    /// The probabilities of a PARTIAL or FINAL.
    public var probabilities: [Float] {
        (0..<body.count / 4).map { Float(bitPattern: readLittleEndianUInt32(body, at: 4 * $0)) }
    }

    /// The body of an ERROR; `bad_body` when it is not the JSON object the spec gives.
    public func errorBody() throws(WireError) -> ErrorBody {
        do { return try ErrorBody(jsonBytes: Array(body)) } catch {
            throw WireError(error.code, error.message, streamID: streamID, row: header.row)
        }
    }
}

/// The stream a validated prediction topic names, nil for `$errors`.
private func topicStreamID(_ topic: UnsafeRawBufferPointer, isErrorsTopic: Bool) -> StreamID? {
    isErrorsTopic ? nil : try? StreamID(bytes: topic)
}

/// Decodes a received prediction from its frame buffers without copying. Checks frame count,
/// topic, header, and for PARTIAL and FINAL that the body is whole float32 values (`bad_body`);
/// an ERROR's JSON is checked by `errorBody()`.
public func decodePrediction(frames: ArraySlice<UnsafeRawBufferPointer>) throws(WireError) -> PredictionView {
    guard frames.count == 3 else {
        throw WireError(.badFrameCount, "prediction message has \(frames.count) frames; it must have 3")
    }
    let start = frames.startIndex
    let topic = frames[start]
    let isErrorsTopic = topic.elementsEqual(errorsTopic.utf8)
    if !isErrorsTopic {
        do { try StreamID.validate(topic) } catch {
            throw WireError(.badStreamID, "prediction topic: \(error.description)")
        }
    }
    // Errors name the stream; its String is made only then.
    func streamID() -> StreamID? { topicStreamID(topic, isErrorsTopic: isErrorsTopic) }
    let header: PredictionHeader
    do { header = try PredictionHeader(bytes: frames[start + 1]) } catch {
        throw WireError(error.code, error.message, streamID: streamID(), row: error.row)
    }
    let body = frames[start + 2]
    if header.kind != .error && body.count % 4 != 0 {
        throw WireError(.badBody, "\(header.kind) body is \(body.count) bytes, not a whole number of float32 values",
                        streamID: streamID(), row: header.row)
    }
    return PredictionView(topic: topic, isErrorsTopic: isErrorsTopic, header: header, body: body)
}

/// Encodes a PARTIAL or FINAL into memory the caller owns (the daemon's hot path: nothing to
/// allocate or to check out): frame 2 into `header` (`headerSize(sequence:)` bytes: 12 with a
/// sequence number, 8 without), frame 3, float32 LE, into `body` (4 bytes per probability).
/// Returns the argmax it wrote. `probabilities` holds 1 to 255 values.
@discardableResult
public func encodePrediction(kind: PredictionKind, row: UInt32, sequence: UInt32? = nil, probabilities: UnsafeBufferPointer<Float>,
                             header: UnsafeMutableRawBufferPointer, body: UnsafeMutableRawBufferPointer) -> UInt8 {
    precondition(kind != .error, "an ERROR carries an ErrorBody, not probabilities")
    let best = argmax(probabilities)
    encodeHeader(kind.rawValue, best, 0, row: row, sequence: sequence, into: header)
    encodeFloat32LittleEndian(probabilities, into: body)
    return best
}

/// Index of the largest value; the lowest index on ties. `values` holds 1 to 255 values.
public func argmax(_ values: UnsafeBufferPointer<Float>) -> UInt8 {
    precondition(!values.isEmpty && values.count < 256, "argmax needs 1 to 255 classes, got \(values.count)")
    var best = 0
    for i in 1..<values.count where values[i] > values[best] { best = i }
    return UInt8(best)
}
