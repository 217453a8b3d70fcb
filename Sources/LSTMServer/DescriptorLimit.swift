#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The process's limit on open descriptors (`RLIMIT_NOFILE`), which bounds lstmd's connections:
/// every client connection holds one.
///
/// Why it is raised at start: libzmq 4.3.4 (Debian's) aborts the whole process when an `ipc://`
/// listener's accept fails with EMFILE (`ipc_listener.cpp`, an assertion; its tcp listener
/// handles it). With a shell's usual soft limit of 1,024, a thousand local connections killed
/// lstmd. Raising the soft limit to the hard one (what the operator allows; `LimitNOFILE=` in the
/// systemd units) is all a process may do; the hard limit must exceed the connections the host
/// will ever see.
public enum DescriptorLimit {
    /// Raises the soft limit to the hard one (at most 2²⁰, beyond which no connection count of
    /// lstmd's makes sense) and logs it when it did; a failure is logged and otherwise harmless.
    public static func raise(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = min(limit.rlim_max, 1 << 20)
        guard before < limit.rlim_cur else { return }
        if setrlimit(resource, &limit) == 0 {
            logger.info("descriptor limit raised", metadata: [
                "soft": "\(limit.rlim_cur)", "was": "\(before)", "hard": "\(limit.rlim_max)",
            ])
        } else {
            logger.warning("cannot raise the descriptor limit", metadata: [
                "soft": "\(before)", "hard": "\(limit.rlim_max)", "error": "\(String(cString: strerror(errno)))",
            ])
        }
    }
}

extension DescriptorLimit {
    /// `RLIMIT_NOFILE` as getrlimit(2) takes it: Glibc imports it as an enum case, Darwin as an `Int32`.
    static var resource: Int32 {
        #if canImport(Glibc)
        Int32(RLIMIT_NOFILE.rawValue)
        #else
        RLIMIT_NOFILE
        #endif
    }
}
