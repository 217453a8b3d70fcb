import Foundation
import TestSupport
import WireProtocol
import ZeroMQ

/// A real `lstmd` process started by a test, on ipc endpoints in its own temporary directory, and
/// stopped (SIGTERM, then SIGKILL) when the test is done with it.
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: the process is touched only by the test that owns this object.
    public let directory: URL
    public let ingest: String
    public let predictions: String
    public let control: String
    public let results: String
    private let child: ChildProcess
    public var process: SpawnedProcess { child.process }

    /// Starts `lstmd` with `arguments` added to the endpoint flags, and waits until it answers `ping`.
    /// `launcher` (a program and its arguments, e.g. `prlimit --nofile=64:4096`) runs lstmd instead.
    public init(arguments: [String] = [], environment: [String: String] = [:], directory: URL? = nil,
                launcher: [String] = [], waitUntilReady: Bool = true) throws {
        let dir = try directory ?? Self.makeTemporaryDirectory()
        self.directory = dir
        ingest = "ipc://\(dir.path)/ingest"
        predictions = "ipc://\(dir.path)/predictions"
        control = "ipc://\(dir.path)/control"
        results = "ipc://\(dir.path)/results"
        let lstmd = Fixtures.productsDirectory.appendingPathComponent("lstmd")
        let command = launcher + [lstmd.path, "--ingest", ingest, "--predictions", predictions, "--control", control,
                                  "--results", results] + arguments
        child = try ChildProcess(URL(fileURLWithPath: command[0]), Array(command.dropFirst()), setting: environment)
        if waitUntilReady { try self.waitUntilReady() }
    }

    deinit {
        if process.isRunning {
            process.terminate()
            if !Self.wait(for: process, seconds: 5) { process.send(SIGKILL) }
        }
    }

    /// What the daemon has written to stderr so far.
    public var log: String { child.stderrSoFar }

    /// Whether the daemon's log contains `text` within `seconds` (it arrives asynchronously).
    public func logContains(_ text: String, within seconds: Double = 10) -> Bool {
        child.stderr(contains: text, within: seconds)
    }

    public static func makeTemporaryDirectory() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("lstmd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Polls `ping` until the daemon answers (at most `seconds`).
    public func waitUntilReady(seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard process.isRunning else {
                throw HarnessError("lstmd exited with status \(process.terminationStatus) before it was ready:\n\(log)")
            }
            if (try? request(.ping, timeoutMilliseconds: 300)) != nil { return }
        }
        throw HarnessError("lstmd did not answer ping within \(seconds) s:\n\(log)")
    }

    /// Sends one control request and returns the reply (a fresh REQ socket each time, so that a lost
    /// reply cannot wedge the next request).
    public func request(_ request: ControlRequest, timeoutMilliseconds: Int = 5000) throws -> ControlReply {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .req)
        try socket.set(.linger, .zero)
        try socket.set(.receiveTimeout, .milliseconds(timeoutMilliseconds))
        try socket.connect(control)
        try socket.send([request.jsonBytes])
        guard let frames = try socket.receiveMultipart(), frames.count == 1 else {
            throw HarnessError("no reply to \(request.command) within \(timeoutMilliseconds) ms")
        }
        return try ControlReply(jsonBytes: frames[0], for: request)
    }

    /// The daemon's status; fails the test when the reply is not a status.
    public func status() throws -> StatusReply {
        guard case let .status(status) = try request(.status) else { throw HarnessError("status reply expected") }
        return status
    }

    /// Sends SIGTERM and waits for the exit status (nil when it did not exit within `seconds`).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, seconds: Double = 20) -> Int32? {
        process.send(signal)
        return Self.wait(for: process, seconds: seconds) ? process.terminationStatus : nil
    }

    static func wait(for process: SpawnedProcess, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return !process.isRunning
    }
}


