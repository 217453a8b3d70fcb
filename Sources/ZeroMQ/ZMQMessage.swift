internal import CZeroMQ

/// One frame of a ZeroMQ message, owning a libzmq `zmq_msg_t`.
///
/// Made for the hot path: create one (or one `ZMQMultipart`) and receive into it again and again.
/// Each receive releases the previous content and takes the new frame's buffer from libzmq
/// without copying it; frames of up to 33 bytes live inside the message and need no allocation.
///
/// Not `Sendable`: use it on the thread of the socket that fills it.
public final class ZMQMessage {
    /// Heap-allocated once so its address is stable for libzmq.
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty message.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    /// A message holding a copy of `bytes`, e.g. to send.
    public convenience init(_ bytes: UnsafeRawBufferPointer) {
        self.init()
        replace(with: bytes)
    }

    /// A message holding a copy of `bytes`.
    public convenience init(_ bytes: [UInt8]) {
        self.init()
        bytes.withUnsafeBytes { replace(with: $0) }
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The frame's size in bytes.
    public var count: Int { zmq_msg_size(pointer) }

    /// Whether the frame is empty.
    public var isEmpty: Bool { count == 0 }

    /// Whether more frames of the same message follow this received frame (`zmq_msg_more`).
    public var hasMore: Bool { zmq_msg_more(pointer) != 0 }

    /// Calls `body` with the frame's bytes, valid only during the call and until the next receive.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// A metadata property of the connection the received frame came from (`zmq_msg_gets`), e.g.
    /// `User-Id` (set by the ZAP handler that accepted the peer), `Peer-Address`, `Socket-Type`;
    /// nil when the connection has no such property.
    public func property(_ name: String) -> String? {
        zmq_msg_gets(pointer, name).map { String(cString: $0) }
    }

    /// Replaces the content with a copy of `bytes`.
    public func replace(with bytes: UnsafeRawBufferPointer) {
        zmq_msg_close(pointer)
        // init_size only fails when malloc does, which libzmq itself treats as fatal.
        precondition(zmq_msg_init_size(pointer, bytes.count) == 0, "zmq_msg_init_size(\(bytes.count)) failed: out of memory")
        if let source = bytes.baseAddress, !bytes.isEmpty {
            zmq_msg_data(pointer).copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// Releases the content; the message becomes empty.
    public func reset() {
        zmq_msg_close(pointer)
        zmq_msg_init(pointer)
    }
}

@available(*, unavailable, message: "A ZMQMessage belongs to the thread of the socket that fills it")
extension ZMQMessage: Sendable {}

/// A reusable multipart message: the frames of the last `ZMQSocket.receiveMultipart(into:)`.
///
/// Keeps its `ZMQMessage` frames across receives, so a steady stream of messages with the same
/// number of frames allocates nothing in Swift.
public final class ZMQMultipart: RandomAccessCollection {
    /// All that a receive changes, in one value: a receive is then one access to the object's
    /// state, so Swift's run-time exclusivity checks cost one check per message, not one per frame.
    private struct Frames {
        var messages: [ZMQMessage]
        /// Raw views of the received frames, refreshed after every receive (no allocation once grown).
        var views: [UnsafeRawBufferPointer] = []
        /// The number of frames received last.
        var count = 0

        /// Receives a whole message from `socket` into `messages`, growing them when needed.
        mutating func receive(from socket: UnsafeMutableRawPointer, dontWait: Bool) throws(ZMQError) -> Bool {
            count = 0
            views.removeAll(keepingCapacity: true)
            guard try receiveMessageFrame(into: message(0).pointer, from: socket, dontWait: dontWait) else { return false }
            var last = 0
            while messages[last].hasMore {
                last += 1
                // libzmq delivers the frames of a message together, so the rest is already queued.
                guard try receiveMessageFrame(into: message(last).pointer, from: socket, dontWait: true) else {
                    throw ZMQError.failed(operation: "zmq_msg_recv(frame \(last + 1))", code: .wouldBlock)
                }
            }
            count = last + 1
            for index in 0..<count {
                let message = messages[index].pointer
                views.append(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
            }
            return true
        }

        private mutating func message(_ index: Int) -> ZMQMessage {
            if index == messages.count { messages.append(ZMQMessage()) }
            return messages[index]
        }
    }

    private var state: Frames

    /// An empty multipart message with room for `capacity` frames before it grows.
    public init(capacity: Int = 4) {
        state = Frames(messages: (0..<Swift.max(1, capacity)).map { _ in ZMQMessage() })
    }

    public var startIndex: Int { 0 }
    /// The number of frames received last.
    public var endIndex: Int { state.count }

    /// Frame `index` of the last received message.
    public subscript(index: Int) -> ZMQMessage {
        precondition(index >= 0 && index < endIndex, "frame \(index) out of range 0..<\(endIndex)")
        return state.messages[index]
    }

    /// Copies of all frames' bytes.
    public var frames: [[UInt8]] { map(\.bytes) }

    /// Calls `body` with the received frames' bytes, without copying them; the buffers are valid
    /// only during the call.
    public func withUnsafeFrames<Result, Failure: Error>(
        _ body: (ArraySlice<UnsafeRawBufferPointer>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(state.views[...])
    }

    /// Forgets the frames (keeping their storage for reuse) and releases their buffers.
    public func removeAll() {
        for index in 0..<endIndex { state.messages[index].reset() }
        state.count = 0
        state.views.removeAll(keepingCapacity: true)
    }

    /// `ZMQSocket.receiveMultipart(into:dontWait:)`, on the socket's live handle.
    func receive(from socket: UnsafeMutableRawPointer, dontWait: Bool) throws(ZMQError) -> Bool {
        try state.receive(from: socket, dontWait: dontWait)
    }
}

@available(*, unavailable, message: "A ZMQMultipart belongs to the thread of the socket that fills it")
extension ZMQMultipart: Sendable {}

/// One `zmq_msg_recv` into `message`, retried on EINTR; false when nothing came (EAGAIN: `dontWait`
/// and nothing queued, or the receive timeout expired).
func receiveMessageFrame(into message: UnsafeMutablePointer<zmq_msg_t>, from socket: UnsafeMutableRawPointer,
                  dontWait: Bool) throws(ZMQError) -> Bool {
    try retryingOnInterrupt("zmq_msg_recv") { zmq_msg_recv(message, socket, dontWait ? ZMQ_DONTWAIT : 0) } != nil
}
