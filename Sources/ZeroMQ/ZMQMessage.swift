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
    private var storage: [ZMQMessage]
    /// Raw views of the received frames, refreshed after every receive (no allocation once grown).
    private var views: [UnsafeRawBufferPointer] = []
    /// The number of frames received last.
    public private(set) var endIndex = 0

    /// An empty multipart message with room for `capacity` frames before it grows.
    public init(capacity: Int = 4) {
        storage = (0..<Swift.max(1, capacity)).map { _ in ZMQMessage() }
    }

    public var startIndex: Int { 0 }

    /// Frame `index` of the last received message.
    public subscript(index: Int) -> ZMQMessage {
        precondition(index >= 0 && index < endIndex, "frame \(index) out of range 0..<\(endIndex)")
        return storage[index]
    }

    /// Copies of all frames' bytes.
    public var frames: [[UInt8]] { map(\.bytes) }

    /// Calls `body` with the received frames' bytes, without copying them; the buffers are valid
    /// only during the call.
    public func withUnsafeFrames<Result, Failure: Error>(
        _ body: (ArraySlice<UnsafeRawBufferPointer>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(views[...])
    }

    /// Forgets the frames (keeping their storage for reuse) and releases their buffers.
    public func removeAll() {
        for index in 0..<endIndex { storage[index].reset() }
        setCount(0)
    }

    /// The message to receive frame `index` into, growing the storage when needed.
    func slot(_ index: Int) -> ZMQMessage {
        if index == storage.count { storage.append(ZMQMessage()) }
        return storage[index]
    }

    /// Sets the number of valid frames after a receive.
    func setCount(_ count: Int) {
        endIndex = count
        views.removeAll(keepingCapacity: true)
        for index in 0..<count {
            let message = storage[index].pointer
            views.append(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
        }
    }
}

@available(*, unavailable, message: "A ZMQMultipart belongs to the thread of the socket that fills it")
extension ZMQMultipart: Sendable {}
