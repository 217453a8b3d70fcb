import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole regular file of bounded size: a directory, FIFO, device or a file over the limit is
/// refused by what it is, before a byte is read, and a FIFO cannot block the caller (it is opened
/// non-blocking and refused after `fstat`).
public enum RegularFile {
    /// The file's bytes, or why they cannot be read.
    public static func read(path: String, maxByteCount: Int) throws(RegularFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .cannotOpen(reason: String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegular(kind: kind(of: status.st_mode)) }
        let size = Int(status.st_size)
        guard size <= maxByteCount else { throw .tooLarge(byteCount: size, limit: maxByteCount) }
        // A file that grows while it is read is cut at the size fstat gave; one that shrinks ends early.
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = systemRead(fd, buffer.baseAddress! + initialized, size - initialized)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }
                initialized += n
            }
        }
        guard failure == 0 else { throw .readFailed(reason: String(cString: strerror(failure))) }
        return bytes
    }

    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "of another kind"
        }
    }
}

/// Why `RegularFile.read` refused a path.
public enum RegularFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(reason: String)
    case notRegular(kind: String)
    case tooLarge(byteCount: Int, limit: Int)
    case readFailed(reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(reason): reason
        case let .notRegular(kind): "it is \(kind), not a regular file"
        case let .tooLarge(byteCount, limit): "it has \(byteCount) bytes, more than the limit of \(limit)"
        case let .readFailed(reason): "read failed: \(reason)"
        }
    }
}

/// read(2), named so that `RegularFile.read(path:maxByteCount:)` does not hide it.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(fd, buffer, count)
    #else
    Darwin.read(fd, buffer, count)
    #endif
}
