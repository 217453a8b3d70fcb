internal import CZeroMQ
internal import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A libzmq context: the I/O threads and the registry that sockets live in.
///
/// A context is thread-safe, so this type is `Sendable`: share one per process and create each
/// socket on the thread that will use it. Every `ZMQSocket` keeps its context alive.
///
/// Shutdown takes two steps, as in libzmq:
/// 1. `shutdown()` (or `terminate()`) makes every blocking call on every socket of the context
///    throw `ZMQError.contextTerminated`;
/// 2. `terminate()` then waits until every socket has been closed (by `close()` or deinit) and
///    until their pending outgoing messages are delivered or dropped according to each socket's
///    `linger` — which is infinite by default, so set `linger` on sockets that may hold
///    undeliverable messages, or termination can hang.
///
/// Deinit terminates a context that was not terminated explicitly; since sockets keep their context
/// alive, that only happens once no socket is left.
public final class ZMQContext: Sendable {
    private enum State {
        case open
        /// `zmq_ctx_shutdown` ran: the pointer is valid, but no new sockets.
        case shutDown
        /// `zmq_ctx_term` is running or ran: the pointer may be freed.
        case terminating
    }

    /// The `void *` from `zmq_ctx_new`, kept as a bit pattern because raw pointers are not
    /// `Sendable`; libzmq documents the context as safe to use from any thread.
    private let address: UInt
    /// Guards the pointer's lifetime: sockets are created only while `open`, and nothing touches
    /// the pointer once `zmq_ctx_term` may have freed it.
    private let state = Mutex(State.open)

    private var handle: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: address)! }

    /// Creates a context with `ioThreads` I/O threads (libzmq's default is 1; one thread handles
    /// about a gigabyte per second of traffic).
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let pointer = zmq_ctx_new() else { throw ZMQError.current("zmq_ctx_new()") }
        if zmq_ctx_set(pointer, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) != 0 {
            let error = ZMQError.current("zmq_ctx_set(ZMQ_IO_THREADS, \(ioThreads))")
            zmq_ctx_term(pointer)
            throw error
        }
        address = UInt(bitPattern: pointer)
    }

    deinit {
        if state.withLock({ $0 != .terminating }) { Self.term(handle) }
    }

    /// The number of I/O threads (`ZMQ_IO_THREADS`).
    public var ioThreads: Int {
        state.withLock { state in state != .terminating ? Int(zmq_ctx_get(handle, ZMQ_IO_THREADS)) : 0 }
    }

    /// Whether `shutdown()` or `terminate()` has been called.
    public var isTerminating: Bool { state.withLock { $0 != .open } }

    /// Makes every blocking operation on every socket of this context, now and later, throw
    /// `ZMQError.contextTerminated` (`zmq_ctx_shutdown`). Does not wait; sockets must still be
    /// closed. Calling it again, or after `terminate()`, does nothing.
    public func shutdown() {
        state.withLock { state in
            guard state == .open else { return }
            zmq_ctx_shutdown(handle)
            state = .shutDown
        }
    }

    /// Terminates the context (`zmq_ctx_term`): blocking operations throw
    /// `ZMQError.contextTerminated`, then this call waits until every socket of the context is
    /// closed and has lingered. Never call it from a thread that still owns an open socket of this
    /// context: it would wait forever. Only the first call waits; later calls return at once.
    public func terminate() {
        let shouldTerminate = state.withLock { state in
            guard state != .terminating else { return false }
            state = .terminating
            return true
        }
        guard shouldTerminate else { return }
        Self.term(handle)
    }

    private static func term(_ handle: UnsafeMutableRawPointer) {
        // EINTR is the only failure that leaves the context alive; retry as libzmq advises.
        _ = try? retryingOnInterrupt("zmq_ctx_term") { zmq_ctx_term(handle) }
    }

    /// Creates a libzmq socket while the context is known to be open, so that `terminate()` either
    /// waits for the new socket or the socket is refused.
    func makeSocketHandle(_ type: Int32, operation: @autoclosure () -> String) throws(ZMQError)
        -> UnsafeMutableRawPointer
    {
        // errno is read inside the lock: unlocking may make system calls that overwrite it.
        let (socket, code): (UnsafeMutableRawPointer?, Int32) = state.withLock { state in
            guard state == .open else { return (nil, ETERM) }
            let socket = zmq_socket(handle, type)
            return (socket, socket == nil ? zmq_errno() : 0)
        }
        guard let socket else { throw ZMQError(code: .init(rawValue: code), operation: operation()) }
        return socket
    }
}
