import Foundation

/// Element types of a safetensors tensor that this module reads and writes. Every one is upcast to
/// `Float` on load.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }
}

/// One tensor: row-major values, its shape, and the dtype it is stored as in a file.
public struct SafetensorsTensor: Sendable, Equatable {
    public var shape: [Int]
    /// Row-major values, `shape.reduce(1, *)` of them.
    public var values: [Float]
    /// The dtype read from the file, or the one `SafetensorsFile.serialized()` writes.
    public var dtype: SafetensorsDType

    public init(shape: [Int], values: [Float], dtype: SafetensorsDType = .f32) {
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
}

/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON header, then the data buffer. The header maps each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data buffer) and may
/// hold `"__metadata__"`, a string → string map. The tensors must cover the data buffer exactly,
/// without overlap or holes.
public struct SafetensorsFile: Sendable, Equatable {
    /// The largest header accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    public var tensors: [String: SafetensorsTensor]
    public var metadata: [String: String]

    public init(tensors: [String: SafetensorsTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Parses and validates a whole file. Never traps, whatever the bytes.
    public init(bytes: [UInt8]) throws(ModelError) {
        guard bytes.count >= 8 else { throw .fileTooShort(byteCount: bytes.count) }
        let declared = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared <= UInt64(Self.maxHeaderLength) else {
            throw .headerTooLarge(limit: Self.maxHeaderLength)
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw .truncatedHeader(declaredLength: declared, availableBytes: bytes.count - 8)
        }
        let dataStart = 8 + headerLength
        let dataByteCount = bytes.count - dataStart

        let entries = try Self.parseHeader(bytes[8..<dataStart])
        var metadata: [String: String] = [:]
        var ranges: [(name: String, begin: Int, end: Int)] = []
        var descriptors: [String: (dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int)] = [:]

        for (name, value) in entries {
            if name == "__metadata__" {
                metadata = try Self.metadataMap(value)
                continue
            }
            let entry = try Self.tensorEntry(name: name, value)
            guard entry.begin <= entry.end, entry.end <= dataByteCount else {
                throw .tensorOffsetsOutOfRange(tensor: name, begin: entry.begin, end: entry.end, dataByteCount: dataByteCount)
            }
            let expected = try Self.byteCount(name: name, shape: entry.shape, dtype: entry.dtype)
            guard expected == entry.end - entry.begin else {
                throw .tensorSizeMismatch(tensor: name, shape: entry.shape, dtype: entry.dtype.rawValue,
                                          expectedBytes: expected, actualBytes: entry.end - entry.begin)
            }
            descriptors[name] = entry
            ranges.append((name, entry.begin, entry.end))
        }

        // Walk the tensors in data order: each must start where the previous one ended.
        ranges.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        var previous: String?
        for range in ranges {
            if range.begin < covered, let previous {
                throw .tensorsOverlap(first: previous, second: range.name)
            }
            if range.begin > covered {
                throw .uncoveredData(offset: covered, byteCount: range.begin - covered, dataByteCount: dataByteCount)
            }
            covered = range.end
            previous = range.name
        }
        guard covered == dataByteCount else {
            throw .uncoveredData(offset: covered, byteCount: dataByteCount - covered, dataByteCount: dataByteCount)
        }

        var tensors: [String: SafetensorsTensor] = [:]
        bytes.withUnsafeBytes { raw in
            for (name, d) in descriptors {
                let data = UnsafeRawBufferPointer(rebasing: raw[(dataStart + d.begin)..<(dataStart + d.end)])
                tensors[name] = SafetensorsTensor(shape: d.shape, values: Self.decode(data, as: d.dtype), dtype: d.dtype)
            }
        }
        self.init(tensors: tensors, metadata: metadata)
    }

    /// The file's bytes: tensors in name order, each stored as its `dtype`, header padded with
    /// spaces to a multiple of 8 bytes so the data buffer stays aligned. Deterministic.
    public func serialized() -> [UInt8] {
        let names = tensors.keys.sorted()
        var header: [String: HeaderEntry] = [:]
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            precondition(tensor.values.count == tensor.shape.reduce(1, *),
                         "tensor \(name): \(tensor.values.count) values for shape \(tensor.shape)")
            let end = offset + tensor.values.count * tensor.dtype.byteWidth
            header[name] = .tensor(dtype: tensor.dtype.rawValue, shape: tensor.shape, offsets: [offset, end])
            offset = end
        }
        if !metadata.isEmpty { header["__metadata__"] = .metadata(metadata) }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and integers cannot fail.
        var json = [UInt8](try! encoder.encode(HeaderDocument(entries: header)))
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        for name in names {
            Self.encode(tensors[name]!, into: &bytes)
        }
        return bytes
    }
}

// MARK: - Header parsing

extension SafetensorsFile {
    private static func parseHeader(_ header: ArraySlice<UInt8>) throws(ModelError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(header))
        } catch {
            throw .invalidHeaderJSON(reason: describe(error))
        }
        guard case .object(let entries) = value else { throw .headerNotObject }
        return entries
    }

    private static func metadataMap(_ value: JSONValue) throws(ModelError) -> [String: String] {
        guard case .object(let object) = value else {
            throw .metadataNotStringMap(reason: "it is \(value.kind), not an object")
        }
        var map: [String: String] = [:]
        for (key, entry) in object {
            guard case .string(let string) = entry else {
                throw .metadataNotStringMap(reason: "value of \(key) is \(entry.kind)")
            }
            map[key] = string
        }
        return map
    }

    private static func tensorEntry(name: String, _ value: JSONValue) throws(ModelError)
        -> (dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int)
    {
        guard case .object(let fields) = value else {
            throw .invalidTensorEntry(tensor: name, reason: "entry is \(value.kind), not an object")
        }
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw .invalidTensorEntry(tensor: name, reason: "dtype must be a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(tensor: name, dtype: dtypeName)
        }
        guard let shape = fields["shape"]?.nonNegativeIntegers else {
            throw .invalidTensorEntry(tensor: name, reason: "shape must be an array of non-negative integers")
        }
        guard let offsets = fields["data_offsets"]?.nonNegativeIntegers, offsets.count == 2 else {
            throw .invalidTensorEntry(tensor: name, reason: "data_offsets must be two non-negative integers")
        }
        return (dtype, shape, offsets[0], offsets[1])
    }

    /// shape × dtype bytes, refusing sizes that overflow `Int`.
    private static func byteCount(name: String, shape: [Int], dtype: SafetensorsDType) throws(ModelError) -> Int {
        var count = dtype.byteWidth
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw .invalidTensorEntry(tensor: name, reason: "shape \(shape) is too large")
            }
            count = product
        }
        return count
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            if let underlying = context.underlyingError { return "\(context.debugDescription) \(underlying)" }
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

// MARK: - Element conversion

extension SafetensorsFile {
    private static func decode(_ data: UnsafeRawBufferPointer, as dtype: SafetensorsDType) -> [Float] {
        let count = data.count / dtype.byteWidth
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            switch dtype {
            case .f32:
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<count {
                    buffer[i] = HalfPrecision.float(binary16: UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                // bfloat16 is the upper half of a float32.
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                }
            }
            initialized = count
        }
    }

    private static func encode(_ tensor: SafetensorsTensor, into bytes: inout [UInt8]) {
        switch tensor.dtype {
        case .f32:
            for value in tensor.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
        case .f16:
            for value in tensor.values {
                withUnsafeBytes(of: HalfPrecision.binary16Bits(value).littleEndian) { bytes.append(contentsOf: $0) }
            }
        case .bf16:
            for value in tensor.values {
                withUnsafeBytes(of: HalfPrecision.bfloat16Bits(value).littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
    }
}

// MARK: - JSON

/// Any JSON value, decoded with Foundation's JSONDecoder (which bounds nesting depth).
private indirect enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The array's elements when all are integers in 0...Int.max.
    var nonNegativeIntegers: [Int]? {
        guard case .array(let elements) = self else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .integer(let value) = element, value >= 0 else { return nil }
            result.append(Int(value))
        }
        return result
    }
}

/// The header as written: tensor entries and `__metadata__`, keys sorted by the encoder.
private struct HeaderDocument: Encodable {
    var entries: [String: HeaderEntry]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (name, entry) in entries {
            try container.encode(entry, forKey: Key(stringValue: name))
        }
    }
}

private enum HeaderEntry: Encodable {
    case tensor(dtype: String, shape: [Int], offsets: [Int])
    case metadata([String: String])

    enum CodingKeys: String, CodingKey {
        case dtype
        case shape
        case dataOffsets = "data_offsets"
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case let .tensor(dtype, shape, offsets):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(dtype, forKey: .dtype)
            try container.encode(shape, forKey: .shape)
            try container.encode(offsets, forKey: .dataOffsets)
        case let .metadata(map):
            var container = encoder.singleValueContainer()
            try container.encode(map)
        }
    }
}
