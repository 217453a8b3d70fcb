import Dispatch
import Foundation
import Synchronization
import ZeroMQ

/// The transports the tests exercise.
enum Transport: String, CaseIterable, CustomStringConvertible {
    case inproc, ipc, tcp
    var description: String { rawValue }
}

/// A bound receiver and a connected sender of the given types over `transport`, with linger 0 so
/// that tests never wait on undelivered messages. Removes any ipc directory on deinit.
final class SocketPair {
    let context: ZMQContext
    let bound: ZMQSocket
    let connected: ZMQSocket
    let endpoint: String
    private let directory: URL?

    init(_ transport: Transport, bound boundType: ZMQSocketType, connected connectedType: ZMQSocketType,
         configure: (ZMQSocket, ZMQSocket) throws -> Void = { _, _ in }) throws {
        context = try ZMQContext()
        bound = try ZMQSocket(context, type: boundType)
        connected = try ZMQSocket(context, type: connectedType)
        try bound.set(.linger, .zero)
        try connected.set(.linger, .zero)
        try configure(bound, connected)
        switch transport {
        case .inproc:
            directory = nil
            try bound.bind("inproc://test-\(UUID().uuidString)")
        case .ipc:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmq-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            self.directory = directory
            try bound.bind("ipc://\(directory.path)/socket")
        case .tcp:
            directory = nil
            try bound.bind("tcp://127.0.0.1:*")
        }
        endpoint = try bound.lastEndpoint
        try connected.connect(endpoint)
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

/// A value set by another thread.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// Runs `body` on a new thread; the semaphore is signalled when it returns.
func runOnThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread {
        body()
        done.signal()
    }.start()
    return done
}

/// Bytes of a string, for readable frames.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `count` bytes of a repeating, position-dependent pattern.
func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }
