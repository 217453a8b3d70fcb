import Foundation

/// The events of one stream on their way from the client's I/O thread to whoever reads them: a
/// blocked thread (`next(until:)`) or a suspended task (`next()`), never both at once.
final class Mailbox: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let condition = NSCondition()
    private var events: [StreamEvent] = []
    private var head = 0
    /// A terminal event was delivered (or the stream was ENDed): after the queue, nothing follows.
    private var closed = false
    private var continuation: CheckedContinuation<StreamEvent?, Never>?
    /// Monotonic nanoseconds since a reader waits, nil when none does: the I/O thread times out a
    /// reader that waits for a stream with nothing in flight.
    private var waitingSince: UInt64?

    /// Hands `event` to the reader; after a terminal event the mailbox is closed.
    func deliver(_ event: StreamEvent) {
        condition.lock()
        guard !closed else { condition.unlock(); return }
        closed = event.isTerminal
        if let waiter = continuation {
            continuation = nil
            waitingSince = nil
            condition.unlock()
            waiter.resume(returning: event)
            return
        }
        events.append(event)
        condition.broadcast()
        condition.unlock()
    }

    /// Closes the mailbox without an event (END): readers get nil once the queue is empty.
    func close() {
        condition.lock()
        closed = true
        let waiter = continuation
        continuation = nil
        condition.broadcast()
        condition.unlock()
        waiter?.resume(returning: nil)
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// Since when a reader has been waiting, if one is.
    var readerWaitingSince: UInt64? {
        condition.lock()
        defer { condition.unlock() }
        return waitingSince
    }

    private func take() -> StreamEvent? {
        guard head < events.count else { return nil }
        let event = events[head]
        head += 1
        if head == events.count {
            events.removeAll(keepingCapacity: true)
            head = 0
        }
        return event
    }

    /// The next event, blocking the calling thread until it comes; nil once the stream is over.
    func next() -> StreamEvent? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let event = take() { waitingSince = nil; return event }
            if closed { waitingSince = nil; return nil }
            if waitingSince == nil { waitingSince = monotonicNanoseconds() }
            condition.wait()
        }
    }

    /// The next event, suspending the calling task until it comes; nil once the stream is over.
    func next() async -> StreamEvent? {
        await withCheckedContinuation { (waiter: CheckedContinuation<StreamEvent?, Never>) in
            condition.lock()
            if let event = take() {
                condition.unlock()
                waiter.resume(returning: event)
            } else if closed {
                condition.unlock()
                waiter.resume(returning: nil)
            } else {
                precondition(continuation == nil, "two tasks read one stream's events at once")
                continuation = waiter
                waitingSince = monotonicNanoseconds()
                condition.unlock()
            }
        }
    }
}
