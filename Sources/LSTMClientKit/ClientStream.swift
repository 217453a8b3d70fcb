import Synchronization
public import WireProtocol

/// One sequence of one stream: send its rows in order (row indexes and the sequence number are
/// the handle's), and read its predictions — `events` (an `AsyncSequence`) in async code,
/// `next()` / `result()` (blocking) elsewhere. The events end after the FINAL or a failure.
///
/// A handle may be used from any thread; rows sent from several threads at once are sent in the
/// order the handle numbered them. One reader at a time.
public final class ClientStream: Sendable {
    /// The stream id (frame 1 of its rows and the topic of its predictions).
    public var id: StreamID { state.id }
    /// The sequence number every row of this sequence carries.
    public var sequence: UInt32 { state.sequence }

    private let state: SequenceState
    private let link: DaemonLink
    private let inputSize: Int
    private let sequenceLength: Int?
    /// The next row index; nil once the last row (or END) was sent.
    private let nextRow = Mutex<UInt32?>(0)

    init(state: SequenceState, link: DaemonLink, inputSize: Int, sequenceLength: Int?) {
        self.state = state
        self.link = link
        self.inputSize = inputSize
        self.sequenceLength = sequenceLength
    }

    /// Sends the next row as uint8 values (the daemon scales them by its model's input scale).
    /// `last` ends the sequence: its answer is the FINAL. Returns the row's index.
    @discardableResult
    public func send(pixels: some Collection<UInt8>, last: Bool = false) throws(ClientError) -> UInt32 {
        try post(valueCount: pixels.count, last: last) { row in
            IngestMessage.row(row, of: state.id, sequence: state.sequence, pixels: Array(pixels), last: last)
        }
    }

    /// Sends the next row as float32 values, used as they are. Returns the row's index.
    @discardableResult
    public func send(values: [Float], last: Bool = false) throws(ClientError) -> UInt32 {
        try post(valueCount: values.count, last: last) { row in
            IngestMessage.row(row, of: state.id, sequence: state.sequence, values: values, last: last)
        }
    }

    /// Sends `rows` of uint8 values, LAST on the last one.
    public func send(rows: some Collection<some Collection<UInt8>>) throws(ClientError) {
        var remaining = rows.count
        for row in rows {
            remaining -= 1
            try send(pixels: row, last: remaining == 0)
        }
    }

    /// Abandons the stream (END): the daemon frees it; the events end without a FINAL.
    public func end() throws(ClientError) {
        let row = nextRow.withLock { next in
            defer { next = nil }
            return next
        }
        guard let row else { throw .streamOver(state.id) }
        let message = IngestMessage.end(of: state.id, sequence: state.sequence, at: row)
        guard link.post(.end(state, frames: message.frames)) else { throw .streamOver(state.id) }
    }

    private func post(valueCount count: Int, last: Bool, _ message: (UInt32) -> IngestMessage) throws(ClientError) -> UInt32 {
        guard count == inputSize else { throw .badRow(stream: state.id, values: count, expected: inputSize) }
        guard !state.mailbox.isClosed else { throw .streamOver(state.id) }
        // Numbering and posting under one lock keeps rows sent from several threads in order.
        let posted: UInt32? = nextRow.withLock { next in
            guard let row = next else { return nil }
            let isLast = last || sequenceLength.map { Int(row) + 1 >= $0 } ?? false
            guard link.post(.send(state, frames: message(row).frames, row: Int64(row), last: isLast)) else { return nil }
            next = isLast ? nil : row + 1
            return row
        }
        guard let posted else { throw .streamOver(state.id) }
        return posted
    }

    // MARK: Reading

    /// The stream's events as an `AsyncSequence`: PARTIALs, then the FINAL or the failure.
    public var events: Events { Events(mailbox: state.mailbox) }

    /// The next event, blocking the calling thread (at most about the client's timeout, after
    /// which it is a `timeout` failure); nil once the stream is over.
    public func next() -> StreamEvent? { state.mailbox.next() }

    /// Blocks until the stream is over and returns its FINAL, or its failure, skipping PARTIALs.
    /// Nil when the stream was ENDed.
    public func result() -> StreamEvent? {
        var last: StreamEvent?
        while let event = next() { last = event }
        return last
    }

    /// The async counterpart of `result()`.
    public func result() async -> StreamEvent? {
        var last: StreamEvent?
        for await event in events { last = event }
        return last
    }

    /// The events of a stream, as an `AsyncSequence` that never throws: a failure is an event.
    public struct Events: AsyncSequence, Sendable {
        public typealias Element = StreamEvent
        let mailbox: Mailbox

        public struct AsyncIterator: AsyncIteratorProtocol {
            let mailbox: Mailbox
            public mutating func next() async -> StreamEvent? { await mailbox.next() }
            public mutating func next(isolation actor: isolated (any Actor)?) async -> StreamEvent? { await mailbox.next() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(mailbox: mailbox) }
    }
}
