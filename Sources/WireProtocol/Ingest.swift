/// Byte 1 of an ingest header.
public enum IngestKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// One row of a stream (frame 3 carries it).
    case row = 0
    /// The client abandons the stream; the daemon frees it and publishes nothing for it.
    case end = 1

    public var description: String { self == .row ? "ROW" : "END" }
}

/// Byte 2 of an ingest header: how frame 3 encodes the row's values.
public enum RowDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// One byte per value; the daemon multiplies each by the model's input scale (e.g. 1/255).
    case uint8 = 0
    /// IEEE 754 binary32, little-endian, used as is.
    case float32 = 1

    /// Bytes per value.
    public var byteWidth: Int { self == .uint8 ? 1 : 4 }

    public var description: String { self == .uint8 ? "uint8" : "float32" }
}

/// Byte 3 of an ingest header.
public struct IngestFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Bit 0: this row is the stream's last; the daemon publishes FINAL after it and frees the stream.
    public static let last = IngestFlags(rawValue: 1)
    /// Every bit v1 defines; any other bit is `bad_flags`.
    public static let known: IngestFlags = [.last]

    public var description: String { contains(.last) ? "LAST" : "none" }
}

/// Frame 2 of an ingest message: `version(1) kind(1) dtype(1) flags(1) row(uint32 LE)`, 8 bytes in
/// LSP/1; LSP/2 adds `sequence(uint32 LE)`, 12 bytes.
public struct IngestHeader: WireHeader, Sendable, Hashable, CustomStringConvertible {
    /// Encoded size in bytes of an LSP/1 header (no sequence number).
    public static let size = 8

    public var kind: IngestKind
    public var dtype: RowDType
    public var flags: IngestFlags
    /// Row index within the stream, from 0.
    public var row: UInt32
    /// The client's number for the sequence this row belongs to (LSP/2); nil in LSP/1.
    public var sequence: UInt32?

    public init(kind: IngestKind, dtype: RowDType = .uint8, flags: IngestFlags = [], row: UInt32, sequence: UInt32? = nil) {
        self.kind = kind
        self.dtype = dtype
        self.flags = flags
        self.row = row
        self.sequence = sequence
    }

    /// Replaces `buffer`'s contents with the encoded bytes, keeping its capacity.
    public func encode(into buffer: inout [UInt8]) {
        encodeHeader(kind.rawValue, dtype.rawValue, flags.rawValue, row: row, sequence: sequence, into: &buffer)
    }

    /// Decodes and validates frame 2. `streamID` only labels the errors thrown.
    /// Checks, in order: size (8 or 12), version, size of that version, kind, dtype, flags.
    public init(bytes: UnsafeRawBufferPointer, streamID: StreamID? = nil) throws(WireError) {
        guard bytes.count == Self.size || bytes.count == Self.size + 4 else {
            throw WireError(.badHeaderSize, "ingest header is \(bytes.count) bytes; it must be 8 (version 1) or 12 (version 2)", streamID: streamID)
        }
        let row = readLittleEndianUInt32(bytes, at: 4)
        let sequence = bytes.count == 12 ? readLittleEndianUInt32(bytes, at: 8) : nil
        guard let size = ProtocolVersion.headerSize(bytes[0]) else {
            throw WireError(.badVersion, "protocol version \(bytes[0]) is not supported; this daemon speaks versions 1 and 2", streamID: streamID, row: row)
        }
        guard size == bytes.count else {
            throw WireError(.badHeaderSize, "a version \(bytes[0]) ingest header is \(size) bytes, not \(bytes.count)", streamID: streamID, row: row)
        }
        guard let kind = IngestKind(rawValue: bytes[1]) else {
            throw WireError(.badKind, "ingest kind \(bytes[1]) is unknown; expected 0 (ROW) or 1 (END)", streamID: streamID, row: row, sequence: sequence)
        }
        guard let dtype = RowDType(rawValue: bytes[2]) else {
            throw WireError(.badDType, "row dtype \(bytes[2]) is unknown; expected 0 (uint8) or 1 (float32)", streamID: streamID, row: row, sequence: sequence)
        }
        let flags = IngestFlags(rawValue: bytes[3])
        guard flags.isSubset(of: .known) else {
            throw WireError(.badFlags, "flags 0x\(hex(bytes[3])) set undefined bits 0x\(hex(flags.subtracting(.known).rawValue)); only bit 0 (LAST) is defined", streamID: streamID, row: row, sequence: sequence)
        }
        self.init(kind: kind, dtype: dtype, flags: flags, row: row, sequence: sequence)
    }

    /// Decodes and validates frame 2 from an array.
    public init(bytes: [UInt8], streamID: StreamID? = nil) throws(WireError) {
        self = try withRawBytes(bytes) { (raw) throws(WireError) in try IngestHeader(bytes: raw, streamID: streamID) }
    }

    public var description: String {
        "\(kind) row \(row)\(sequence.map { " sequence \($0)" } ?? "") \(dtype) flags \(flags)"
    }
}

/// A decoded ingest message that owns its bytes (decoded from `[[UInt8]]` frames, or built by a client).
public struct IngestMessage: Sendable, Equatable {
    public var streamID: StreamID
    public var header: IngestHeader
    /// Frame 3: the row's encoded values; empty for END.
    public var row: [UInt8]

    public init(streamID: StreamID, header: IngestHeader, row: [UInt8]) {
        self.streamID = streamID
        self.header = header
        self.row = row
    }

    /// A ROW of uint8 values (the daemon multiplies them by the model's input scale); LSP/2 when
    /// it names its sequence.
    public static func row(_ index: UInt32, of streamID: StreamID, sequence: UInt32?, pixels: [UInt8],
                           last: Bool = false) -> IngestMessage {
        IngestMessage(streamID: streamID,
                      header: IngestHeader(kind: .row, dtype: .uint8, flags: last ? .last : [], row: index, sequence: sequence),
                      row: pixels)
    }

    /// A ROW of float32 values, encoded little-endian; LSP/2 when it names its sequence.
    public static func row(_ index: UInt32, of streamID: StreamID, sequence: UInt32?, values: [Float],
                           last: Bool = false) -> IngestMessage {
        var bytes: [UInt8] = []
        encodeFloat32LittleEndian(values, into: &bytes)
        return IngestMessage(streamID: streamID,
                             header: IngestHeader(kind: .row, dtype: .float32, flags: last ? .last : [], row: index, sequence: sequence),
                             row: bytes)
    }

    /// An END: the client abandons the stream. `index` is informational (the next row it would have sent).
    public static func end(of streamID: StreamID, sequence: UInt32?, at index: UInt32 = 0) -> IngestMessage {
        IngestMessage(streamID: streamID, header: IngestHeader(kind: .end, row: index, sequence: sequence), row: [])
    }

    /// The frames to send: three for ROW, two for END.
    public var frames: [[UInt8]] {
        header.kind == .end ? [streamID.bytes, header.bytes] : [streamID.bytes, header.bytes, row]
    }
}

/// A decoded ingest message whose row still lives in the received frame (no copy).
/// Valid only while the buffers it was decoded from are.
public struct IngestView {
    public var streamID: StreamID
    public var header: IngestHeader
    /// Frame 3: the row's encoded values; empty for END.
    public var row: UnsafeRawBufferPointer
}

/// Decodes an ingest message from its frames (without a ROUTER's routing-id frame).
/// Checks, in order: frame count ≥ 1, stream id, frame count, header (size, version, kind, dtype,
/// flags), then that ROW has a frame 3 and END an empty or absent one. The row's values are decoded
/// and checked by the stream engine (`RowValues`), with the input scale of the stream's model.
public func decodeIngest(frames: [[UInt8]]) throws(WireError) -> IngestMessage {
    let view = try withUnsafeFrames(frames) { (raw) throws(WireError) in try decodeIngest(frames: raw) }
    return IngestMessage(streamID: view.streamID, header: view.header,
                         row: frames.count == 3 ? frames[2] : [])
}

/// Decodes an ingest message from received frame buffers without copying the row.
/// Same checks as `decodeIngest(frames: [[UInt8]])`.
/// The daemon can keep one array of views and refill it per message, so decoding allocates
/// nothing but the stream id's string (none for ids of up to 15 bytes).
public func decodeIngest(frames: [UnsafeRawBufferPointer]) throws(WireError) -> IngestView {
    try decodeIngest(frames: frames[...])
}

/// Decodes an ingest message from a slice of received frame buffers (e.g. a ROUTER message without
/// its routing-id frame), without copying the row.
public func decodeIngest(frames: ArraySlice<UnsafeRawBufferPointer>) throws(WireError) -> IngestView {
    guard let first = frames.first else {
        throw WireError(.badFrameCount, "ingest message has no frames; it must have 3 (ROW) or 2 (END)")
    }
    let streamID: StreamID
    do {
        streamID = try StreamID(bytes: first)
    } catch {
        throw WireError(.badStreamID, error.description)
    }
    guard frames.count == 2 || frames.count == 3 else {
        throw WireError(.badFrameCount, "ingest message has \(frames.count) frames; it must have 3 (ROW) or 2 (END)", streamID: streamID)
    }
    let start = frames.startIndex
    let header = try IngestHeader(bytes: frames[start + 1], streamID: streamID)
    let row = frames.count == 3 ? frames[start + 2] : UnsafeRawBufferPointer(start: nil, count: 0)
    switch header.kind {
    case .row where frames.count == 2:
        throw WireError(.badFrameCount, "ROW message has 2 frames; frame 3 must carry the row", streamID: streamID, row: header.row)
    case .end where !row.isEmpty:
        throw WireError(.badRowSize, "END message carries a \(row.count)-byte frame 3; END has no row (frame 3 absent or empty)", streamID: streamID, row: header.row)
    default:
        return IngestView(streamID: streamID, header: header, row: row)
    }
}

/// Replaces `buffer`'s contents with `values` as float32 little-endian, keeping its capacity.
public func encodeFloat32LittleEndian(_ values: UnsafeBufferPointer<Float>, into buffer: inout [UInt8]) {
    resize(&buffer, to: values.count * 4)
    buffer.withUnsafeMutableBytes { encodeFloat32LittleEndian(values, into: $0) }
}

/// Writes `values` as float32 little-endian into `raw` (4 bytes each).
func encodeFloat32LittleEndian(_ values: UnsafeBufferPointer<Float>, into raw: UnsafeMutableRawBufferPointer) {
    precondition(raw.count == 4 * values.count, "\(values.count) floats need \(4 * values.count) bytes, not \(raw.count)")
    for i in 0..<values.count {
        raw.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
    }
}

/// Replaces `buffer`'s contents with `values` as float32 little-endian, keeping its capacity.
public func encodeFloat32LittleEndian(_ values: [Float], into buffer: inout [UInt8]) {
    values.withUnsafeBufferPointer { encodeFloat32LittleEndian($0, into: &buffer) }
}

// MARK: - Byte helpers

/// A message header of either socket's protocol (ingest or prediction): version, three bytes, row,
/// and the sequence number in LSP/2.
public protocol WireHeader {
    /// Replaces `buffer`'s contents with the encoded bytes, keeping its capacity.
    func encode(into buffer: inout [UInt8])
}

extension WireHeader {
    /// The encoded bytes: 12 (LSP/2) with a sequence number, 8 (LSP/1) without.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }
}

/// Makes `buffer` exactly `count` bytes long without giving up its capacity (new bytes are 0).
func resize(_ buffer: inout [UInt8], to count: Int) {
    if buffer.count > count {
        buffer.removeLast(buffer.count - count)
    } else if buffer.count < count {
        buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
    }
}

/// Replaces `buffer`'s contents with a header: the version (2 with a sequence number, else 1),
/// three bytes, `row` as uint32 LE, then the sequence number as uint32 LE if there is one.
func encodeHeader(_ b1: UInt8, _ b2: UInt8, _ b3: UInt8, row: UInt32, sequence: UInt32?, into buffer: inout [UInt8]) {
    resize(&buffer, to: headerSize(sequence: sequence))
    buffer.withUnsafeMutableBytes { encodeHeader(b1, b2, b3, row: row, sequence: sequence, into: $0) }
}

/// The header size of a message with (LSP/2) or without (LSP/1) a sequence number.
public func headerSize(sequence: UInt32?) -> Int { sequence == nil ? 8 : 12 }

/// Writes a header into `raw` (8 or 12 bytes, as `headerSize(sequence:)` says).
func encodeHeader(_ b1: UInt8, _ b2: UInt8, _ b3: UInt8, row: UInt32, sequence: UInt32?, into raw: UnsafeMutableRawBufferPointer) {
    precondition(raw.count == headerSize(sequence: sequence), "this header is \(headerSize(sequence: sequence)) bytes, not \(raw.count)")
    raw[0] = sequence == nil ? ProtocolVersion.unsequenced : ProtocolVersion.sequenced
    raw[1] = b1
    raw[2] = b2
    raw[3] = b3
    raw.storeBytes(of: row.littleEndian, toByteOffset: 4, as: UInt32.self)
    if let sequence { raw.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt32.self) }
}

func readLittleEndianUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return byte < 16 ? "0" + digits : digits
}

/// Calls `body` with raw views of every frame (an array of up to 3 is expected; more are passed
/// through so that the frame count can be reported).
func withUnsafeFrames<R>(_ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws(WireError) -> R) throws(WireError) -> R {
    var views: [UnsafeRawBufferPointer] = []
    views.reserveCapacity(frames.count)
    return try withFrame(0)

    func withFrame(_ index: Int) throws(WireError) -> R {
        guard index < frames.count else { return try body(views) }
        return try withRawBytes(frames[index]) { (raw) throws(WireError) in
            views.append(raw)
            return try withFrame(index + 1)
        }
    }
}

/// `Array.withUnsafeBytes` with a typed error (the standard library's version only rethrows).
func withRawBytes<R, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result = array.withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
    return try result.get()
}
