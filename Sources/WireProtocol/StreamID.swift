/// A stream id: 1–255 bytes of UTF-8, no NUL, not starting with `$` (reserved for topics like
/// `$errors`). Ids are compared byte for byte: no Unicode normalization, so "é" as one code point
/// and "e" + combining accent are two different streams.
public struct StreamID: Sendable, Hashable, Comparable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The largest stream id, in bytes: a topic must fit the rest of the protocol's limits.
    public static let maxByteCount = 255

    /// The id as a string (always valid UTF-8).
    public let string: String

    /// Validates `string`; throws the specific rule it breaks.
    public init(_ string: String) throws(StreamIDError) {
        try withRawBytes(Array(string.utf8)) { (bytes) throws(StreamIDError) in try StreamID.validate(bytes) }
        self.string = string
    }

    /// Validates the bytes of frame 1 of an ingest message; throws the specific rule they break.
    public init(bytes: UnsafeRawBufferPointer) throws(StreamIDError) {
        try StreamID.validate(bytes)
        string = String(decoding: bytes, as: UTF8.self)
    }

    /// Validates `bytes`; throws the specific rule they break.
    public init(bytes: [UInt8]) throws(StreamIDError) {
        self = try withRawBytes(bytes) { (raw) throws(StreamIDError) in try StreamID(bytes: raw) }
    }

    /// The UTF-8 bytes of the id (frame 1 of ingest and prediction messages).
    public var bytes: [UInt8] { Array(string.utf8) }

    // Ids key the engine's stream table: compare and hash the UTF-8 bytes in one pass each.
    public static func == (lhs: StreamID, rhs: StreamID) -> Bool {
        var lhs = lhs.string, rhs = rhs.string
        return lhs.withUTF8 { left in rhs.withUTF8 { right in left.elementsEqual(right) } }
    }

    public func hash(into hasher: inout Hasher) {
        var string = string
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Byte-wise order, matching the `==` above.
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    public var description: String { string }
    public var debugDescription: String { "\"\(string)\"" }

    static func validate(_ bytes: UnsafeRawBufferPointer) throws(StreamIDError) {
        if bytes.isEmpty { throw .empty }
        if bytes.count > maxByteCount { throw .tooLong(byteCount: bytes.count) }
        if bytes[0] == UInt8(ascii: "$") { throw .reservedPrefix }
        if let offset = bytes.firstIndex(of: 0) { throw .containsNUL(offset: offset) }
        if let offset = firstInvalidUTF8Offset(bytes) { throw .invalidUTF8(offset: offset) }
    }
}

/// Why bytes are not a valid stream id.
public enum StreamIDError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Zero bytes.
    case empty
    /// More than 255 bytes.
    case tooLong(byteCount: Int)
    /// Not well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF);
    /// `offset` is the first byte of the first ill-formed sequence.
    case invalidUTF8(offset: Int)
    /// A zero byte at `offset`.
    case containsNUL(offset: Int)
    /// Starts with `$`, which is reserved for daemon topics such as `$errors`.
    case reservedPrefix

    public var description: String {
        switch self {
        case .empty: "stream id is empty; it must be 1 to 255 bytes of UTF-8"
        case .tooLong(let count): "stream id is \(count) bytes; at most \(StreamID.maxByteCount) are allowed"
        case .invalidUTF8(let offset): "stream id is not valid UTF-8 (ill-formed sequence at byte \(offset))"
        case .containsNUL(let offset): "stream id contains a NUL byte at byte \(offset)"
        case .reservedPrefix: "stream id starts with '$', which is reserved for daemon topics such as $errors"
        }
    }
}

/// The offset of the first ill-formed UTF-8 sequence in `bytes` (RFC 3629 §4), or nil if well formed.
func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
        let lead = bytes[i]
        if lead < 0x80 { i += 1; continue }
        // Sequence length and the allowed range of the second byte (excludes overlongs,
        // surrogates U+D800–DFFF and code points above U+10FFFF).
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return i
        }
        if i + length > n { return i }
        if !(low...high).contains(bytes[i + 1]) { return i }
        for k in 2..<max(length, 2) where !(0x80...0xBF).contains(bytes[i + k]) { return i }
        i += length
    }
    return nil
}
