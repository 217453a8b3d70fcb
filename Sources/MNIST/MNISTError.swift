import Foundation

/// Everything that can go wrong while reading, verifying or fetching MNIST files. Each case names
/// the file (its path or its canonical name) and what exactly was wrong with it.
public enum MNISTError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The file could not be read at all (permissions, a directory in its place, an I/O error).
    case unreadable(file: String, reason: String)
    /// The first four bytes are not the IDX magic number of the expected kind.
    case badMagic(file: String, expected: UInt32, found: UInt32)
    /// The file (after decompression) is shorter than its header says it must be.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    /// The file (after decompression) is longer than its header says it must be.
    case trailingBytes(file: String, expectedBytes: Int, actualBytes: Int)
    /// An image file whose images are not 28 × 28.
    case wrongDimensions(file: String, expectedRows: Int, expectedColumns: Int, rows: Int, columns: Int)
    /// A label outside 0...9.
    case labelOutOfRange(file: String, index: Int, value: UInt8)
    /// zlib refused the gzip stream; `reason` is zlib's own message where it gave one.
    case corruptGzip(file: String, reason: String)
    /// The gzip stream decompresses to more than `limit` bytes (a gzip bomb, or not an MNIST file).
    case decompressedTooLarge(file: String, limit: Int)
    /// The image and label files of one split hold different numbers of items.
    case countMismatch(imagesFile: String, imageCount: Int, labelsFile: String, labelCount: Int)
    /// The SHA-256 of the decompressed bytes is not the expected one (hex, lowercase).
    case checksumMismatch(file: String, expected: String, actual: String)
    /// Files of a split missing from an MNIST directory (canonical names, without `.gz`).
    case missingFiles(names: [String], directory: String)
    /// No MNIST directory was given by flag or by `LSTMD_MNIST_DIR`.
    case directoryNotSpecified
    /// The MNIST directory given does not exist or is not a directory.
    case directoryNotFound(path: String)
    /// One source (mirror) could not deliver a file: HTTP status, connection error, missing file.
    case sourceUnavailable(file: String, source: String, reason: String)
    /// Every source was tried for `file` and none delivered valid bytes; one failure per source,
    /// in the order tried.
    case fetchFailed(file: String, failures: [MNISTError])
    /// A fetched file could not be written into the target directory.
    case cannotWrite(file: String, reason: String)

    /// How to get the data, appended to errors about a missing directory or missing files.
    public static let fetchHint =
        "fetch it with `lstm-train fetch-mnist --to DIR`, or set LSTMD_MNIST_DIR to a directory "
        + "holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        + "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "cannot read \(file): \(reason)"
        case let .badMagic(file, expected, found):
            return "\(file) is not an IDX file of the expected kind: magic number is \(hex(found)), "
                + "expected \(hex(expected))"
        case let .truncated(file, expectedBytes, actualBytes):
            return "\(file) is truncated: its header calls for \(expectedBytes) bytes, "
                + "it has \(actualBytes)"
        case let .trailingBytes(file, expectedBytes, actualBytes):
            return "\(file) has \(actualBytes - expectedBytes) bytes more than its header calls for "
                + "(\(actualBytes) instead of \(expectedBytes))"
        case let .wrongDimensions(file, expectedRows, expectedColumns, rows, columns):
            return "\(file) holds \(rows) × \(columns) images, expected "
                + "\(expectedRows) × \(expectedColumns)"
        case let .labelOutOfRange(file, index, value):
            return "\(file): label \(index) is \(value), outside 0...9"
        case let .corruptGzip(file, reason):
            return "\(file) is not a valid gzip stream: \(reason)"
        case let .decompressedTooLarge(file, limit):
            return "\(file) decompresses to more than \(limit) bytes, the most an IDX file may hold here "
                + "(MNIST's largest is 47,040,016): a gzip bomb, or not an MNIST file"
        case let .countMismatch(imagesFile, imageCount, labelsFile, labelCount):
            return "\(imagesFile) holds \(imageCount) images but \(labelsFile) holds "
                + "\(labelCount) labels"
        case let .checksumMismatch(file, expected, actual):
            return "checksum mismatch for \(file): SHA-256 of the decompressed bytes is \(actual), "
                + "expected \(expected)"
        case let .missingFiles(names, directory):
            let list = names.map { "\($0)(.gz)" }.joined(separator: ", ")
            return "MNIST file\(names.count == 1 ? "" : "s") missing in \(directory): \(list); "
                + Self.fetchHint
        case .directoryNotSpecified:
            return "no MNIST directory given: pass one on the command line or set LSTMD_MNIST_DIR; "
                + "to download the data, run `lstm-train fetch-mnist --to DIR`"
        case let .directoryNotFound(path):
            return "MNIST directory \(path) does not exist or is not a directory; " + Self.fetchHint
        case let .sourceUnavailable(file, source, reason):
            return "\(source) could not deliver \(file): \(reason)"
        case let .fetchFailed(file, failures):
            let tried = failures.map { "\n  - \($0.description)" }.joined()
            return "could not fetch \(file) from any source:\(tried)"
        case let .cannotWrite(file, reason):
            return "cannot write \(file): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}

/// `0x00000803` style, as IDX magic numbers are usually written.
private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
