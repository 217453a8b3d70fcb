import Foundation

/// Keeps a second daemon off `ipc://` endpoints a live one serves. libzmq unlinks whatever file is
/// at an ipc path when it binds, so without this a second lstmd would silently take the sockets
/// over and leave the first unreachable. Each ipc path gets a lock file beside it (`PATH.lock`,
/// `flock`ed for the life of the process, so the kernel releases it even after `kill -9`); with the
/// lock held, a socket file left at the path by a dead daemon is removed, and anything that is not
/// a socket is refused rather than deleted. Abstract endpoints (`ipc://@name`) need none: the
/// kernel refuses a second bind.
public final class IPCEndpointLock: Sendable {
    private let descriptors: [Int32]

    /// Locks every ipc endpoint among `endpoints` (socket name, endpoint), or throws naming the first
    /// that is served by a live process or is not a socket; then no lock is kept.
    public init(_ endpoints: [(socket: String, endpoint: String)]) throws(IPCEndpointError) {
        var descriptors: [Int32] = []
        for (socket, endpoint) in endpoints {
            guard endpoint.hasPrefix("ipc://") else { continue }
            let path = String(endpoint.dropFirst("ipc://".count))
            guard !path.hasPrefix("@"), !path.isEmpty else { continue }
            do throws(IPCEndpointError) {
                descriptors.append(try Self.lock(path, socket: socket, endpoint: endpoint))
            } catch {
                for descriptor in descriptors { close(descriptor) }
                throw error
            }
        }
        self.descriptors = descriptors
    }

    /// Gives the locks up; the lock files stay, unlocked.
    deinit {
        for descriptor in descriptors { close(descriptor) }
    }

    private static func lock(_ path: String, socket: String, endpoint: String) throws(IPCEndpointError) -> Int32 {
        let lockPath = path + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw .unusable(socket: socket, endpoint: endpoint, reason: "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw .inUse(socket: socket, endpoint: endpoint, holder: holder.flatMap(Int32.init))
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                close(descriptor)
                throw .unusable(socket: socket, endpoint: endpoint, reason: "\(path) exists and is not a socket; refusing to replace it")
            }
            unlink(path)  // a dead daemon's socket: nobody holds its lock
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(descriptor, 0) == 0 { _ = pid.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } }
        return descriptor
    }
}

/// An ipc endpoint lstmd must not bind.
public enum IPCEndpointError: Error, Equatable, CustomStringConvertible {
    case inUse(socket: String, endpoint: String, holder: Int32?)
    case unusable(socket: String, endpoint: String, reason: String)

    public var description: String {
        switch self {
        case let .inUse(socket, endpoint, holder):
            "the \(socket) endpoint \(endpoint) is served by a running lstmd\(holder.map { " (pid \($0))" } ?? ""); stop it or choose another path"
        case let .unusable(socket, endpoint, reason):
            "cannot use the \(socket) endpoint \(endpoint): \(reason)"
        }
    }
}
