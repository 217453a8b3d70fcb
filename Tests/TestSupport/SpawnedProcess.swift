import CTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started the way a shell starts one, and reaped by its owner.
///
/// Not Foundation's `Process`: `posix_spawn` hands a child the calling thread's signal mask, and a
/// test's threads are dispatch workers that block nearly every signal, so a `SIGTERM` sent to a child
/// started from one stayed pending for ever (seen with `sh` and `sleep`). Here every signal starts at
/// its default action and unblocked, and the child inherits no descriptor of this process beyond the
/// three it is given.
public final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: `waitStatus` is guarded by `lock`; the rest is immutable.
    public let processIdentifier: pid_t
    public let executable: String
    public let arguments: [String]
    private let lock = NSLock()
    private var waitStatus: Int32?

    /// Starts `executable arguments` with `environment`, its standard input, output and error on the
    /// given descriptors (this process keeps its own copies; close them when the child has them).
    public init(_ executable: String, _ arguments: [String], environment: [String: String],
                standardInput: Int32, standardOutput: Int32, standardError: Int32) throws {
        self.executable = executable
        self.arguments = arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        posix_spawn_file_actions_adddup2(&actions, standardError, 2)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw HarnessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        processIdentifier = pid
    }

    /// Stops an abandoned child (SIGTERM, SIGKILL 10 s later) and reaps it on a thread of its own.
    deinit {
        guard isRunning else { return }
        let pid = processIdentifier
        kill(pid, SIGTERM)
        Thread.detachNewThread {
            var status: Int32 = 0
            for _ in 0..<1_000 where waitpid(pid, &status, WNOHANG) == 0 { usleep(10_000) }
            if waitpid(pid, &status, WNOHANG) == 0 {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            }
        }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        lock.withLock {
            if waitStatus != nil { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            waitStatus = status
            return false
        }
    }

    /// Blocks until the child has exited.
    public func waitUntilExit() {
        // WNOWAIT leaves the child to be reaped under the lock, so no pid is ever signalled after
        // it could have been reused.
        var info = siginfo_t()
        while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        _ = isRunning
    }

    /// Sends `signal` unless the child has been reaped.
    public func send(_ signal: Int32) {
        lock.withLock { if waitStatus == nil { kill(processIdentifier, signal) } }
    }

    /// Sends SIGTERM.
    public func terminate() { send(SIGTERM) }

    /// False when a signal ended the child; nil while it runs.
    public var exitedNormally: Bool? { lock.withLock { waitStatus.map { $0 & 0x7F == 0 } } }

    /// The exit status, or the number of the signal that ended the child (0 while it runs).
    public var terminationStatus: Int32 {
        lock.withLock {
            guard let status = waitStatus else { return 0 }
            return status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        }
    }

    var name: String { URL(fileURLWithPath: executable).lastPathComponent }
}
