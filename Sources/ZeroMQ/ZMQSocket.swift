internal import CZeroMQ
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The messaging pattern of a socket.
public enum ZMQSocketType: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case pair, pub, sub, xpub, xsub, req, rep, dealer, router, pull, push

    var rawValue: Int32 {
        switch self {
        case .pair: return ZMQ_PAIR
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .xpub: return ZMQ_XPUB
        case .xsub: return ZMQ_XSUB
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .dealer: return ZMQ_DEALER
        case .router: return ZMQ_ROUTER
        case .pull: return ZMQ_PULL
        case .push: return ZMQ_PUSH
        }
    }

    /// The libzmq name, e.g. `PUSH`.
    public var description: String {
        switch self {
        case .pair: return "PAIR"
        case .pub: return "PUB"
        case .sub: return "SUB"
        case .xpub: return "XPUB"
        case .xsub: return "XSUB"
        case .req: return "REQ"
        case .rep: return "REP"
        case .dealer: return "DEALER"
        case .router: return "ROUTER"
        case .pull: return "PULL"
        case .push: return "PUSH"
        }
    }
}

/// A ZeroMQ socket, owning a libzmq socket handle; deinit closes it.
///
/// Not `Sendable`: libzmq sockets are not thread-safe. Create a socket on the thread that uses it,
/// or hand a socket that was never used to exactly one other thread (Swift's region isolation
/// allows sending a fresh socket into a `Task`; a `Thread` closure must create its own).
///
/// `linger` keeps libzmq's default, infinite: closing a socket with undelivered messages then
/// makes `ZMQContext.terminate()` wait for their delivery. Set `try socket.set(.linger, .zero)`
/// (or a bound) on sockets whose peers may be gone.
///
/// Sending and receiving retry on `EINTR`. A non-blocking call that would block, or a call whose
/// `sendTimeout`/`receiveTimeout` expires, returns `false`/`nil` instead of throwing. Context
/// termination throws `ZMQError.contextTerminated`.
public final class ZMQSocket {
    /// The socket's messaging pattern.
    public let type: ZMQSocketType
    /// The context the socket belongs to, kept alive by the socket.
    public let context: ZMQContext
    /// The libzmq socket; nil once closed.
    private var handle: UnsafeMutableRawPointer?
    /// Receives frames for the copying `receiveMultipart()`, allocated on first use.
    private lazy var scratch = ZMQMultipart(capacity: 1)

    /// Creates a socket of `type` in `context` (`zmq_socket`).
    public init(_ context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        self.type = type
        self.context = context
        handle = try context.makeSocketHandle(type.rawValue, operation: "zmq_socket(\(type))")
    }

    deinit { close() }

    /// Closes the socket (`zmq_close`). Pending outgoing messages linger per `linger`, in the
    /// background; later calls on this socket throw `ENOTSOCK`. Closing twice does nothing.
    public func close() {
        guard let socket = handle else { return }
        handle = nil
        zmq_close(socket)
    }

    /// Whether `close()` was called.
    public var isClosed: Bool { handle == nil }

    func liveHandle(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let socket = handle else {
            throw ZMQError.failed(operation: operation(), code: .notSocket)
        }
        return socket
    }

    // MARK: Endpoints

    /// Accepts connections on `endpoint` (`zmq_bind`), e.g. `tcp://127.0.0.1:*` (an ephemeral
    /// port; read it back from `lastEndpoint`), `ipc:///path`, `ipc://@abstract`, `inproc://name`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_bind(\"\(endpoint)\")")
        if zmq_bind(socket, endpoint) != 0 { throw ZMQError.current("zmq_bind(\"\(endpoint)\")") }
    }

    /// Connects to `endpoint` (`zmq_connect`); libzmq connects, and reconnects, in the background.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_connect(\"\(endpoint)\")")
        if zmq_connect(socket, endpoint) != 0 { throw ZMQError.current("zmq_connect(\"\(endpoint)\")") }
    }

    /// Stops accepting on `endpoint` (`zmq_unbind`); give the resolved `lastEndpoint` for wildcards.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_unbind(\"\(endpoint)\")")
        if zmq_unbind(socket, endpoint) != 0 { throw ZMQError.current("zmq_unbind(\"\(endpoint)\")") }
    }

    /// Disconnects from `endpoint` (`zmq_disconnect`).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_disconnect(\"\(endpoint)\")")
        if zmq_disconnect(socket, endpoint) != 0 { throw ZMQError.current("zmq_disconnect(\"\(endpoint)\")") }
    }

    // MARK: Sending

    /// Sends one frame, copying `bytes` (`zmq_send`); `more` marks that further frames of the same
    /// message follow. Frames of up to 33 bytes need no allocation inside libzmq.
    ///
    /// - Returns: `false` if the frame was not queued because `dontWait` was set and the socket
    ///   would block, or because `sendTimeout` expired; `true` once queued.
    @discardableResult
    public func sendFrame(_ bytes: UnsafeRawBufferPointer, more: Bool = false, dontWait: Bool = false)
        throws(ZMQError) -> Bool
    {
        let socket = try liveHandle("zmq_send")
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        return try retryingOnInterrupt("zmq_send(\(bytes.count) bytes)") {
            zmq_send(socket, bytes.baseAddress, bytes.count, flags)
        } != nil
    }

    /// Sends one frame holding a copy of `bytes`; see `sendFrame(_:more:dontWait:)` for the result.
    @inlinable @discardableResult
    public func sendFrame<Bytes: Collection<UInt8>>(_ bytes: Bytes, more: Bool = false, dontWait: Bool = false)
        throws(ZMQError) -> Bool
    {
        let outcome = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(ZMQError) -> Bool in
                try sendFrame(UnsafeRawBufferPointer(buffer), more: more, dontWait: dontWait)
            }
        }
        if let outcome { return try outcome.get() }
        return try sendFrame(Array(bytes), more: more, dontWait: dontWait)
    }

    /// Sends the message's content without copying (`zmq_msg_send`), e.g. a received routing id;
    /// on success the message becomes empty. See `sendFrame(_:more:dontWait:)` for the result.
    @discardableResult
    public func send(_ message: ZMQMessage, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let socket = try liveHandle("zmq_msg_send")
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        return try retryingOnInterrupt("zmq_msg_send(\(message.count) bytes)") {
            zmq_msg_send(message.pointer, socket, flags)
        } != nil
    }

    /// Sends a multipart message, one frame per element (at least one).
    ///
    /// `dontWait` applies to the first frame: once it is queued, libzmq accepts the rest of the
    /// message, so a message is never half sent.
    ///
    /// - Returns: `false` if nothing was sent because the socket would block (with `dontWait`) or
    ///   `sendTimeout` expired; `true` once the whole message is queued.
    @inlinable @discardableResult
    public func send<Frame: Collection<UInt8>>(_ frames: [Frame], dontWait: Bool = false) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let last = frames.count - 1
        for index in frames.indices {
            let queued = try sendFrame(frames[index], more: index < last, dontWait: dontWait && index == 0)
            if !queued {
                if index == 0 { return false }
                throw ZMQError.failed(operation: "zmq_send(frame \(index + 1) of \(frames.count))", code: .wouldBlock)
            }
        }
        return true
    }

    // MARK: Receiving

    /// Receives one frame into `message` without copying (`zmq_msg_recv`), releasing what the
    /// message held before. `message.hasMore` tells whether further frames follow.
    ///
    /// - Returns: `false` if no frame arrived: `dontWait` was set and none was queued, or
    ///   `receiveTimeout` expired.
    public func receive(into message: ZMQMessage, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try receiveMessageFrame(into: message.pointer, from: liveHandle("zmq_msg_recv"), dontWait: dontWait)
    }

    /// Receives a whole multipart message into `parts`, reusing its frames (no copies; no Swift
    /// allocation once `parts` has room for the message's frames).
    ///
    /// - Returns: `false`, with `parts` empty, if no message arrived (`dontWait` and none queued,
    ///   or `receiveTimeout` expired).
    public func receiveMultipart(into parts: ZMQMultipart, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try parts.receive(from: liveHandle("zmq_msg_recv"), dontWait: dontWait)
    }

    /// Receives one frame by copying it into `buffer` (`zmq_recv`).
    ///
    /// - Returns: the frame's full size, which is larger than `buffer.count` when the frame was
    ///   truncated; nil if no frame arrived (`dontWait`, or `receiveTimeout` expired). Whether
    ///   more frames follow is `hasMoreFrames`.
    public func receiveFrame(into buffer: UnsafeMutableRawBufferPointer, dontWait: Bool = false) throws(ZMQError) -> Int? {
        let socket = try liveHandle("zmq_recv")
        let flags = dontWait ? ZMQ_DONTWAIT : 0
        return try retryingOnInterrupt("zmq_recv") { zmq_recv(socket, buffer.baseAddress, buffer.count, flags) }.map(Int.init)
    }

    /// Receives a whole multipart message as copied frames. Convenient; allocates per frame.
    ///
    /// - Returns: nil if no message arrived (`dontWait` and none queued, or `receiveTimeout`
    ///   expired).
    public func receiveMultipart(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        let parts = scratch
        defer { parts.removeAll() }
        guard try receiveMultipart(into: parts, dontWait: dontWait) else { return nil }
        return parts.frames
    }
}

@available(*, unavailable, message: "A ZeroMQ socket must stay on one thread")
extension ZMQSocket: Sendable {}
