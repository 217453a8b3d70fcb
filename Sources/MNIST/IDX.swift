import Checksums
import Foundation

/// The IDX format of the MNIST files: a big-endian header (magic number, then one 32-bit size per
/// dimension) followed by unsigned bytes, row-major.
public enum IDX {
    /// Magic number of a one-dimensional unsigned-byte file (labels).
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Magic number of a three-dimensional unsigned-byte file (images).
    public static let imagesMagic: UInt32 = 0x0000_0803

    /// The bytes of the file at `url`, decompressed when the file starts with the gzip magic.
    public static func contents(of url: URL) throws(MNISTError) -> [UInt8] {
        let stored: [UInt8]
        do {
            stored = [UInt8](try Data(contentsOf: url))
        } catch {
            throw .unreadable(file: url.path, reason: readFailureReason(error, url: url))
        }
        return try decoded(stored, file: url.path)
    }

    /// A file's stored bytes, decompressed when they start with the gzip magic. `file` names it in errors.
    public static func decoded(_ stored: [UInt8], file: String) throws(MNISTError) -> [UInt8] {
        Gzip.isCompressed(stored) ? try Gzip.decompress(stored, file: file) : stored
    }

    /// The labels of an idx1 file's (decompressed) bytes, each checked to be a digit 0...9.
    /// `file` names the file in errors.
    public static func labels(from bytes: [UInt8], file: String) throws(MNISTError) -> [UInt8] {
        let header = try readHeader(bytes, file: file, magic: labelsMagic, dimensions: 1)
        let count = header[0]
        try checkLength(bytes, file: file, expected: 8 + count)
        let labels = Array(bytes[8...])
        if let index = labels.firstIndex(where: { $0 > 9 }) {
            throw .labelOutOfRange(file: file, index: index, value: labels[index])
        }
        return labels
    }

    /// The pixels of an idx3 file's (decompressed) bytes: `count` images of 28 × 28, as one
    /// row-major buffer [count × 28 × 28]. `file` names the file in errors. Pass the bytes with
    /// `consume` to have the pixels moved down in place rather than copied to a new buffer.
    public static func images(from bytes: consuming [UInt8], file: String) throws(MNISTError)
        -> (count: Int, pixels: [UInt8])
    {
        let header = try readHeader(bytes, file: file, magic: imagesMagic, dimensions: 3)
        let (count, rows, columns) = (header[0], header[1], header[2])
        guard rows == MNISTDataset.rows && columns == MNISTDataset.columns else {
            throw .wrongDimensions(
                file: file, expectedRows: MNISTDataset.rows, expectedColumns: MNISTDataset.columns,
                rows: rows, columns: columns)
        }
        try checkLength(bytes, file: file, expected: 16 + count * rows * columns)
        bytes.removeFirst(16)
        return (count, bytes)
    }

    /// SHA-256 of `bytes` as 64 lowercase hex digits, the form of the canonical table.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hex(bytes)
    }

    /// Checks the magic number and returns the `dimensions` sizes that follow it.
    private static func readHeader(_ bytes: [UInt8], file: String, magic: UInt32, dimensions: Int)
        throws(MNISTError) -> [Int]
    {
        let headerLength = 4 + 4 * dimensions
        if bytes.count >= 4 {
            let found = bigEndianUInt32(bytes, at: 0)
            guard found == magic else { throw .badMagic(file: file, expected: magic, found: found) }
        }
        guard bytes.count >= headerLength else {
            throw .truncated(file: file, expectedBytes: headerLength, actualBytes: bytes.count)
        }
        return (0..<dimensions).map { Int(bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
    }

    private static func checkLength(_ bytes: [UInt8], file: String, expected: Int) throws(MNISTError) {
        if bytes.count < expected {
            throw .truncated(file: file, expectedBytes: expected, actualBytes: bytes.count)
        }
        if bytes.count > expected {
            throw .trailingBytes(file: file, expectedBytes: expected, actualBytes: bytes.count)
        }
    }

    private static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// Foundation's read errors on Linux are generic; say "no such file" where that is the cause.
    private static func readFailureReason(_ error: any Error, url: URL) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            return "no such file"
        }
        if isDirectory.boolValue { return "it is a directory" }
        return error.localizedDescription
    }
}
