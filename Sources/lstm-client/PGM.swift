import Foundation

/// A grey-scale image read from a PGM (Netpbm "P2" plain or "P5" raw) file, samples scaled to
/// 0...255.
struct PGMImage: Equatable {
    var width: Int
    var height: Int
    /// Row-major [height × width], 0...255 (scaled from the file's maxval).
    var pixels: [UInt8]

    /// Reads the file at `path`; `expectedWidth`/`expectedHeight` are checked when given.
    init(contentsOf path: String, width expectedWidth: Int? = nil, height expectedHeight: Int? = nil) throws(PGMError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        do {
            try self.init(bytes: [UInt8](data), width: expectedWidth, height: expectedHeight)
        } catch {
            throw .inFile(path: path, error)
        }
    }

    /// Parses PGM bytes: magic, width, height, maxval (1...255), then the samples; `#` comments
    /// are allowed in the header (and in a P2 raster).
    init(bytes: [UInt8], width expectedWidth: Int? = nil, height expectedHeight: Int? = nil) throws(PGMError) {
        var reader = Reader(bytes: bytes)
        let magic = bytes.prefix(2)
        guard magic.count == 2, magic.first == UInt8(ascii: "P"),
              magic.last == UInt8(ascii: "2") || magic.last == UInt8(ascii: "5") else {
            throw .badMagic(found: String(decoding: magic, as: UTF8.self))
        }
        let isPlain = magic.last == UInt8(ascii: "2")
        reader.offset = 2
        let width = try reader.number("width")
        let height = try reader.number("height")
        let maxValue = try reader.number("maxval")
        guard width > 0, height > 0 else { throw .badHeader("width and height must be positive, got \(width) × \(height)") }
        guard (1...255).contains(maxValue) else { throw .unsupportedMaxValue(maxValue) }
        if let expectedWidth, let expectedHeight, width != expectedWidth || height != expectedHeight {
            throw .wrongSize(width: width, height: height, expectedWidth: expectedWidth, expectedHeight: expectedHeight)
        }
        let count = width * height
        var samples = [Int]()
        samples.reserveCapacity(count)
        if isPlain {
            for index in 0..<count {
                guard let value = try reader.optionalNumber("sample \(index)") else {
                    throw .truncated(expectedSamples: count, foundSamples: index)
                }
                guard value <= maxValue else { throw .sampleAboveMaxValue(index: index, value: value, maxValue: maxValue) }
                samples.append(value)
            }
        } else {
            // Exactly one whitespace byte separates maxval from the raster.
            guard reader.offset < bytes.count, Reader.isWhitespace(bytes[reader.offset]) else {
                throw .truncated(expectedSamples: count, foundSamples: 0)
            }
            let raster = bytes[(reader.offset + 1)...]
            guard raster.count >= count else { throw .truncated(expectedSamples: count, foundSamples: raster.count) }
            for (index, byte) in raster.prefix(count).enumerated() {
                guard Int(byte) <= maxValue else {
                    throw .sampleAboveMaxValue(index: index, value: Int(byte), maxValue: maxValue)
                }
                samples.append(Int(byte))
            }
        }
        self.width = width
        self.height = height
        pixels = samples.map { UInt8(($0 * 255 + maxValue / 2) / maxValue) }
    }

    /// Header and P2 tokens: decimal numbers separated by whitespace and `#` comments.
    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        static func isWhitespace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
        }

        mutating func skipSeparators() {
            while offset < bytes.count {
                if Self.isWhitespace(bytes[offset]) {
                    offset += 1
                } else if bytes[offset] == UInt8(ascii: "#") {
                    while offset < bytes.count && bytes[offset] != 0x0A && bytes[offset] != 0x0D { offset += 1 }
                } else {
                    return
                }
            }
        }

        /// The next number, or nil at the end of the bytes.
        mutating func optionalNumber(_ what: String) throws(PGMError) -> Int? {
            skipSeparators()
            guard offset < bytes.count else { return nil }
            var value = 0
            let start = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
                value = value * 10 + Int(bytes[offset] - UInt8(ascii: "0"))
                guard value <= 1 << 24 else { throw .badHeader("\(what) is too large") }
                offset += 1
            }
            guard offset > start else {
                throw .badHeader("\(what): expected a decimal number at byte \(start), found 0x\(String(bytes[start], radix: 16))")
            }
            return value
        }

        mutating func number(_ what: String) throws(PGMError) -> Int {
            guard let value = try optionalNumber(what) else { throw .badHeader("the file ends before the \(what)") }
            return value
        }
    }
}

/// Why a file is not a usable PGM digit.
indirect enum PGMError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// Not `P2` or `P5`.
    case badMagic(found: String)
    case badHeader(String)
    /// maxval above 255 (two bytes per sample) or 0.
    case unsupportedMaxValue(Int)
    case wrongSize(width: Int, height: Int, expectedWidth: Int, expectedHeight: Int)
    case truncated(expectedSamples: Int, foundSamples: Int)
    case sampleAboveMaxValue(index: Int, value: Int, maxValue: Int)
    /// Any of the above, for the file at `path`.
    case inFile(path: String, PGMError)

    var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .badMagic(found):
            "not a PGM image: it starts with \"\(found)\", expected P2 (plain) or P5 (raw); PNG and other formats are not read"
        case let .badHeader(reason): "bad PGM header: \(reason)"
        case let .unsupportedMaxValue(value): "PGM maxval \(value) is not supported; it must be 1 to 255 (one byte per sample)"
        case let .wrongSize(width, height, expectedWidth, expectedHeight):
            "the image is \(width) × \(height) pixels; a digit must be \(expectedWidth) × \(expectedHeight)"
        case let .truncated(expected, found): "PGM raster is truncated: \(found) of \(expected) samples"
        case let .sampleAboveMaxValue(index, value, maxValue): "PGM sample \(index) is \(value), above maxval \(maxValue)"
        case let .inFile(path, error): "\(path): \(error)"
        }
    }
}
