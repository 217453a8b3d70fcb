import Foundation

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
    // @unchecked: the buffers are guarded by `lock`; the Process is touched by the owning test only.
    public let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    /// Starts `executable arguments` with this process's environment, minus `unsetting`, plus `setting`.
    public init(_ executable: URL, _ arguments: [String], unsetting: [String] = [], setting: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for name in unsetting { environment[name] = nil }
        environment.merge(setting) { $1 }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outPipe
        process.standardError = errPipe
        outPipe.fileHandleForReading.readabilityHandler = { [lock] handle in
            let chunk = handle.availableData
            lock.lock()
            self.out.append(chunk)
            lock.unlock()
        }
        errPipe.fileHandleForReading.readabilityHandler = { [lock] handle in
            let chunk = handle.availableData
            lock.lock()
            self.err.append(chunk)
            lock.unlock()
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
    }

    public var stdoutSoFar: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    public var stderrSoFar: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

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
            throw HarnessError("\(name) did not write \"\(text)\" to stderr; it wrote: \(stderrSoFar)")
        }
    }

    /// Waits for the process to exit (terminating it after `seconds`) and returns what it wrote.
    public func finish(seconds: Double = 120) throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("\(name) \(process.arguments ?? []) still running after \(seconds) s; stderr: \(stderrSoFar)")
        }
        process.waitUntilExit()
        // Collect what is still in the pipes once the writer has gone.
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
        let restOut = outPipe.fileHandleForReading.readDataToEndOfFile()
        let restErr = errPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        defer { lock.unlock() }
        out.append(restOut)
        err.append(restErr)
        return ProcessResult(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                             stdoutBytes: [UInt8](out), stderr: String(decoding: err, as: UTF8.self))
    }

    private var name: String { process.executableURL?.lastPathComponent ?? "process" }
}

/// Runs `executable arguments` to completion (at most `seconds`).
public func runProcess(_ executable: String, _ arguments: [String], unsetting: [String] = [],
                       seconds: Double = 120) throws -> ProcessResult {
    try ChildProcess(URL(fileURLWithPath: executable), arguments, unsetting: unsetting).finish(seconds: seconds)
}
