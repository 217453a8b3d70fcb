import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension StreamSnapshot {
    /// Writes the file atomically: a new temporary file in the same directory (created exclusively,
    /// never through a symlink, mode 0600), fsync, rename, fsync of the directory, so that a crash
    /// leaves either the old snapshot or the new one, never a mix, and nobody can redirect the write.
    public func write(to url: URL) throws(SnapshotError) {
        let bytes = serialized()
        let directory = url.deletingLastPathComponent().path
        func fail(_ what: String) -> SnapshotError {
            .unwritable(path: url.path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        // A random name: a leftover of a crashed writer (or a planted file) is never reused.
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<8 where fd < 0 {
            temporary = url.path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 && errno != EEXIST { break }
        }
        guard fd >= 0 else { throw fail("create \(temporary)") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let error = fail("write \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, url.path) == 0 else {
            let error = fail("rename to \(url.lastPathComponent)")
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0, fsync(directoryFD) == 0 else {
            let error = fail("fsync of directory \(directory)")
            if directoryFD >= 0 { close(directoryFD) }
            throw error
        }
        close(directoryFD)
    }
}

/// write(2), named so that `StreamSnapshot.write(to:)` does not hide it.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}
