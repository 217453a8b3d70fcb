import CTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    /// False when a signal ended the process (then `status` is the signal number).
    public var exitedNormally: Bool
    public var stdoutBytes: [UInt8]
    public var stderr: String

    public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    /// Both streams, standard output first (for messages that may go to either).
    public var output: String { stdout + stderr }
}

/// A failure of the test harness itself (not of the code under test).
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The one way tests run a program: a child process whose standard output and error are collected
/// while it runs (a full pipe never blocks it), with standard input closed. `finish` waits for it,
/// bounded in time.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: every stored property is immutable or guarded by a lock of its own.
    public let process: SpawnedProcess
    private let out: PipeCollector
    private let err: PipeCollector

    /// Starts `executable arguments` with this process's environment, minus `unsetting`, plus `setting`.
    public init(_ executable: URL, _ arguments: [String], unsetting: [String] = [], setting: [String: String] = [:]) throws {
        var environment = ProcessInfo.processInfo.environment
        for name in unsetting { environment[name] = nil }
        environment.merge(setting) { $1 }
        let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard nothing >= 0 else { throw HarnessError("cannot open /dev/null: errno \(errno)") }
        defer { close(nothing) }
        let out = try PipeCollector(), err = try PipeCollector()
        do {
            process = try SpawnedProcess(executable.path, arguments, environment: environment, standardInput: nothing,
                                         standardOutput: out.writeEnd, standardError: err.writeEnd)
        } catch {
            out.startCollecting()
            err.startCollecting()
            throw error
        }
        self.out = out
        self.err = err
        out.startCollecting()
        err.startCollecting()
    }

    public var stdoutSoFar: String { String(decoding: out.bytes, as: UTF8.self) }
    public var stderrSoFar: String { String(decoding: err.bytes, as: UTF8.self) }

    /// Whether standard error contains `text` within `seconds`: output arrives asynchronously, even
    /// after the process has exited.
    public func stderr(contains text: String, within seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if stderrSoFar.contains(text) { return true }
            usleep(10_000)
        } while Date() < deadline
        return false
    }

    /// Waits until standard error contains `text` (at most `seconds`).
    public func waitForStderr(containing text: String, seconds: Double = 20) throws {
        guard stderr(contains: text, within: seconds) else {
            throw HarnessError("\(process.name) did not write \"\(text)\" to stderr; it wrote: \(stderrSoFar)")
        }
    }

    /// Waits for the process to exit (terminating it after `seconds`) and returns what it wrote.
    public func finish(seconds: Double = 120) throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("\(process.name) \(process.arguments) still running after \(seconds) s; stderr: \(stderrSoFar)")
        }
        // The pipes end when every copy of their write ends is closed: normally at once.
        _ = out.waitForEnd(seconds: 10)
        _ = err.waitForEnd(seconds: 10)
        return ProcessResult(status: process.terminationStatus, exitedNormally: process.exitedNormally ?? false,
                             stdoutBytes: out.bytes, stderr: String(decoding: err.bytes, as: UTF8.self))
    }
}

/// Everything written into a pipe, read by a thread of its own that blocks in read(2) until the end.
///
/// Not `FileHandle.readabilityHandler`: on Linux its dispatch read source races its own teardown in
/// libdispatch's epoll code (swift-corelibs-libdispatch#949), which killed a CI run with SIGSEGV in
/// `_dispatch_event_loop_drain` while many tests started and finished children at once.
final class PipeCollector: @unchecked Sendable {
    // @unchecked: `collected` and `ended` are guarded by `condition`.
    let writeEnd: Int32
    private let readEnd: Int32
    private let condition = NSCondition()
    private var collected: [UInt8] = []
    private var ended = false

    init() throws {
        var ends: [Int32] = [0, 0]
        // Close-on-exec: no other child started meanwhile may hold this pipe open.
        guard pipe2(&ends, O_CLOEXEC) == 0 else { throw HarnessError("cannot make a pipe: errno \(errno)") }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    /// Closes this process's write end (the child has its own) and starts reading.
    func startCollecting() {
        close(writeEnd)
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count > 0 {
                    condition.withLock { collected += buffer[..<count] }
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(readEnd)
            condition.withLock {
                ended = true
                condition.broadcast()
            }
        }
        thread.start()
    }

    var bytes: [UInt8] { condition.withLock { collected } }

    /// Waits until the pipe has ended (at most `seconds`); whether it has.
    func waitForEnd(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        return condition.withLock {
            while !ended { if !condition.wait(until: deadline) { break } }
            return ended
        }
    }
}

/// Runs `executable arguments` to completion (at most `seconds`).
public func runProcess(_ executable: String, _ arguments: [String], unsetting: [String] = [],
                       seconds: Double = 120) throws -> ProcessResult {
    try ChildProcess(URL(fileURLWithPath: executable), arguments, unsetting: unsetting).finish(seconds: seconds)
}
