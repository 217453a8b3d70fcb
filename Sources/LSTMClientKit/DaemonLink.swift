import Foundation
import Synchronization
import WireProtocol
import ZeroMQ

/// One sequence of a stream as the I/O thread tracks it.
final class SequenceState: @unchecked Sendable {
    // @unchecked: `id`, `sequence` and `mailbox` are immutable or thread-safe; every other field is
    // touched by the I/O thread only.
    let id: StreamID
    let idBytes: [UInt8]
    let sequence: UInt32
    let mailbox = Mailbox()
    /// The last row sent (frames, index, whether it carried LAST), for recovery.
    var lastFrames: [[UInt8]] = []
    var lastSentRow: Int64 = -1
    var sentLast = false
    /// The highest row whose PARTIAL was delivered.
    var lastSeenRow: Int64 = -1
    /// When something last happened to the stream (sent, received, resent), monotonic ns.
    var lastActivity: UInt64 = 0
    var resentSinceActivity = false

    init(id: StreamID, sequence: UInt32) {
        self.id = id
        idBytes = id.bytes
        self.sequence = sequence
    }
}

/// The socket-owning side of a `DaemonClient`: one thread that alone touches the ZeroMQ sockets
/// (libzmq sockets are not thread-safe). Callers post commands to its inbox and wake it through a
/// pipe; it sends them in order, reads predictions into the streams' mailboxes, resends a row
/// whose prediction PUB dropped, and fails streams whose daemon stays silent.
final class DaemonLink: @unchecked Sendable {
    // @unchecked: `inbox` is a Mutex, the pipe's descriptors are immutable, and every other field
    // belongs to the I/O thread.
    enum Command {
        case register(SequenceState)
        case send(SequenceState, frames: [[UInt8]], row: Int64, last: Bool)
        case end(SequenceState, frames: [[UInt8]])
    }

    private struct Inbox {
        var commands: [Command] = []
        var closing = false
    }

    let endpoints: DaemonEndpoints
    let options: ClientOptions
    let publication: PublicationMode
    private let inbox = Mutex(Inbox())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)

    // I/O thread only.
    private var streams: [[UInt8]: SequenceState] = [:]
    private var subscribed: Set<[UInt8]> = []
    private let prefix: [UInt8]
    private var outgoing: [Command] = []
    private var outgoingHead = 0
    /// Sends wait until then for a new subscription to reach the daemon (monotonic ns).
    private var sendableAt: UInt64 = 0
    private var blockedSince: UInt64?

    /// Starts the I/O thread; it creates its sockets itself. Throws when they cannot be set up.
    init(context: ZMQContext, endpoints: DaemonEndpoints, options: ClientOptions, publication: PublicationMode,
         prefix: [UInt8]) throws(ClientError) {
        self.endpoints = endpoints
        self.options = options
        self.publication = publication
        self.prefix = prefix
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw .socket(what: "cannot create the wake-up pipe", error: .failed(operation: "pipe", code: .init(rawValue: errno)))
        }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let started = Mutex<Result<Void, ClientError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            let sockets: Sockets
            do throws(ClientError) {
                sockets = try Sockets(context: context, endpoints: endpoints, options: options, prefix: prefix)
                // Set here, on the thread that reads it (ThreadSanitizer caught it set by init after
                // the thread had started).
                if !options.lossless { sendableAt = monotonicNanoseconds() + nanoseconds(options.subscriptionWait) }
                started.withLock { $0 = .success(()) }
            } catch {
                started.withLock { $0 = .failure(error) }
                ready.signal()
                finished.signal()
                return
            }
            ready.signal()
            run(sockets)
            finished.signal()
        }
        thread.name = "lstmd-client \(endpoints.name)"
        thread.start()
        ready.wait()
        if case .failure(let error) = started.withLock({ $0 }) {
            close(wakeRead)
            close(wakeWrite)
            throw error
        }
    }

    /// Posts a command; false when the link is closing.
    @discardableResult
    func post(_ command: Command) -> Bool {
        let accepted = inbox.withLock { inbox in
            guard !inbox.closing else { return false }
            inbox.commands.append(command)
            return true
        }
        if accepted { wake() }
        return accepted
    }

    /// Stops the thread: every stream still open fails with `clientClosed`. Waits for it.
    func shutdown() {
        let first = inbox.withLock { inbox in
            defer { inbox.closing = true }
            return !inbox.closing
        }
        guard first else { return }
        wake()
        finished.wait()
        close(wakeRead)
        close(wakeWrite)
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: The I/O thread

    /// The thread's sockets: PUSH + SUB, or one DEALER.
    private struct Sockets {
        let sender: ZMQSocket
        let receiver: ZMQSocket

        init(context: ZMQContext, endpoints: DaemonEndpoints, options: ClientOptions, prefix: [UInt8]) throws(ClientError) {
            if options.lossless {
                sender = try ClientSockets.dealer(context, endpoint: endpoints.results, curve: options.curve)
                receiver = sender
            } else {
                receiver = try ClientSockets.subscriber(context, endpoint: endpoints.predictions, prefixes: [prefix],
                                                        curve: options.curve)
                sender = try ClientSockets.pusher(context, endpoint: endpoints.ingest, curve: options.curve)
            }
        }
    }

    private func run(_ sockets: Sockets) {
        let poller = ZMQPoller()
        let received = ZMQMultipart(capacity: 3)
        var drain = [UInt8](repeating: 0, count: 256)
        do throws(ZMQError) {
            let receiverEntry = try poller.add(sockets.receiver, events: .readable)
            let senderEntry = sockets.sender === sockets.receiver ? receiverEntry : try poller.add(sockets.sender, events: [])
            let wakeEntry = poller.add(fileDescriptor: wakeRead, events: .readable)
            var lastTimerCheck: UInt64 = 0
            while true {
                let (commands, closing) = inbox.withLock { inbox in
                    defer { inbox.commands.removeAll(keepingCapacity: true) }
                    return (inbox.commands, inbox.closing)
                }
                if closing { break }
                for command in commands { accept(command, sockets) }
                try flush(sockets.sender)
                let now = monotonicNanoseconds()
                if now &- lastTimerCheck > 50_000_000 {
                    lastTimerCheck = now
                    checkTimers(now: now, sender: sockets.sender)
                }
                var waitMilliseconds = 50
                if outgoingHead < outgoing.count && blockedSince == nil && sendableAt > now {
                    waitMilliseconds = Int(min(50, (sendableAt - now) / 1_000_000 + 1))
                }
                var receiverEvents: ZMQEvents = .readable
                if blockedSince != nil {
                    if senderEntry == receiverEntry { receiverEvents.insert(.writable) } else { poller.setEvents(.writable, at: senderEntry) }
                } else if senderEntry != receiverEntry {
                    poller.setEvents([], at: senderEntry)
                }
                poller.setEvents(receiverEvents, at: receiverEntry)
                guard try poller.poll(timeout: .milliseconds(waitMilliseconds)) > 0 else { continue }
                if poller.isReadable(wakeEntry) {
                    while read(wakeRead, &drain, drain.count) > 0 {}
                }
                if poller.isWritable(senderEntry) { blockedSince = nil }
                if poller.isReadable(receiverEntry) { try receive(from: sockets.receiver, into: received) }
            }
        } catch {
            // A socket failed under us (only when the context is torn down): fail what is open.
        }
        for state in streams.values { state.mailbox.deliver(.failed(.clientClosed)) }
        streams.removeAll()
        for case .register(let state) in inbox.withLock({ $0.commands }) { state.mailbox.deliver(.failed(.clientClosed)) }
        sockets.receiver.close()
        sockets.sender.close()
    }

    private func accept(_ command: Command, _ sockets: Sockets) {
        switch command {
        case .register(let state):
            if let previous = streams[state.idBytes], previous !== state {
                previous.mailbox.deliver(.failed(.superseded))
            }
            streams[state.idBytes] = state
            state.lastActivity = monotonicNanoseconds()
            if !options.lossless && !state.idBytes.starts(with: prefix) && !subscribed.contains(state.idBytes) {
                // An id outside the client's prefix needs its own subscription, and time for it to arrive.
                try? sockets.receiver.subscribe(state.idBytes)
                subscribed.insert(state.idBytes)
                sendableAt = monotonicNanoseconds() + nanoseconds(options.subscriptionWait)
            }
        case .send, .end:
            outgoing.append(command)
        }
    }

    /// Sends queued commands in order until the socket would block (or subscriptions must settle).
    private func flush(_ sender: ZMQSocket) throws(ZMQError) {
        let now = monotonicNanoseconds()
        guard now >= sendableAt else { return }
        while outgoingHead < outgoing.count {
            let command = outgoing[outgoingHead]
            switch command {
            case let .send(state, frames, row, last):
                if state.mailbox.isClosed { break }   // failed meanwhile: its rows are moot
                guard try sender.send(frames, dontWait: true) else { return markBlocked(now: now) }
                state.lastFrames = frames
                state.lastSentRow = row
                state.sentLast = last
                state.lastActivity = now
                state.resentSinceActivity = false
            case let .end(state, frames):
                guard try sender.send(frames, dontWait: true) else { return markBlocked(now: now) }
                forget(state)
                state.mailbox.close()
            case .register:
                break
            }
            outgoingHead += 1
            blockedSince = nil
        }
        outgoing.removeAll(keepingCapacity: true)
        outgoingHead = 0
    }

    /// The socket is full. After a whole timeout of it, every stream with rows waiting fails.
    private func markBlocked(now: UInt64) {
        let since = blockedSince ?? now
        blockedSince = since
        guard now - since > nanoseconds(options.timeout) else { return }
        for case let .send(state, _, _, _) in outgoing[outgoingHead...] {
            fail(state, .sendBlocked(seconds: options.timeout, daemon: endpoints.name))
        }
        outgoing.removeAll(keepingCapacity: true)
        outgoingHead = 0
        blockedSince = nil
    }

    private func receive(from socket: ZMQSocket, into received: ZMQMultipart) throws(ZMQError) {
        for _ in 0..<10_000 {
            guard try socket.receiveMultipart(into: received, dontWait: true) else { return }
            let now = monotonicNanoseconds()
            received.withUnsafeFrames { frames in
                guard let view = try? decodePrediction(frames: frames) else { return }
                // `$errors` answers messages whose stream id the daemon could not read: this client
                // sends only valid ids, so none concerns one of its streams.
                guard !view.isErrorsTopic, let state = streams[Array(view.topic)], view.header.sequence == state.sequence else { return }
                let row = view.header.row
                switch view.header.kind {
                case .partial:
                    // A repeat (after a resend) or a PARTIAL older than one already seen.
                    guard Int64(row) > state.lastSeenRow else { return }
                    state.lastSeenRow = Int64(row)
                    state.lastActivity = now
                    state.resentSinceActivity = false
                    state.mailbox.deliver(.partial(prediction(view, state)))
                case .final:
                    forget(state)
                    state.mailbox.deliver(.final(prediction(view, state)))
                case .error:
                    let body = try? view.errorBody()
                    fail(state, .daemon(code: body?.code ?? ErrorCode.badBody.rawValue,
                                        message: body?.message ?? "the ERROR's body could not be read",
                                        row: row == PredictionHeader.noRow ? nil : row))
                }
            }
        }
    }

    private func prediction(_ view: PredictionView, _ state: SequenceState) -> Prediction {
        Prediction(streamID: state.id, sequence: state.sequence, row: view.header.row,
                   argmax: Int(view.header.argmax), probabilities: view.probabilities)
    }

    /// Recovery and timeouts of streams waiting for a prediction.
    private func checkTimers(now: UInt64, sender: ZMQSocket) {
        let timeout = nanoseconds(options.timeout)
        let recovery = nanoseconds(options.recoveryDelay)
        for state in Array(streams.values) {
            let awaiting = state.sentLast || (publication == .partial && state.lastSeenRow < state.lastSentRow)
            let readerSince = state.mailbox.readerWaitingSince
            guard awaiting || readerSince != nil else { continue }
            let since = max(state.lastActivity, awaiting ? 0 : readerSince ?? 0)
            let silent = now > since ? now - since : 0
            if silent > timeout {
                fail(state, .timeout(seconds: options.timeout, daemon: endpoints.name))
            } else if awaiting, silent > recovery, !state.resentSinceActivity, !options.lossless, !state.sentLast,
                      blockedSince == nil, outgoingHead == outgoing.count,
                      (try? sender.send(state.lastFrames, dontWait: true)) == true {
                // stream-protocol.md §6 rule 3: the daemon publishes the last applied row's prediction again.
                state.resentSinceActivity = true
            }
        }
    }

    private func fail(_ state: SequenceState, _ failure: StreamFailure) {
        forget(state)
        state.mailbox.deliver(.failed(failure))
    }

    private func forget(_ state: SequenceState) {
        guard streams[state.idBytes] === state else { return }
        // Its subscription (if it had its own) stays: the id is likely to be used again.
        streams[state.idBytes] = nil
    }
}
