import Foundation
import Histogram
import LSTMClientKit
import MNIST
import WireProtocol

/// How rows are paced.
enum Pacing {
    /// Each stream sends its next row once the previous row's prediction arrived. In `final`
    /// publication mode (no PARTIALs) a stream sends all its rows, then waits for its FINAL.
    case closedLoop
    /// Rows leave at a fixed total rate, round robin over the streams, whatever the replies.
    /// Latency is measured from each row's scheduled time, so a client that falls behind does
    /// not hide the delay (no coordinated omission).
    case openLoop(rowsPerSecond: Double)
}

/// How rows reach the daemon and predictions come back.
enum Transport: String, Encodable {
    /// PUSH to the ingest endpoint, SUB on the predictions endpoint: best effort (spec §10).
    case pubsub = "pub"
    /// DEALER on the results endpoint, both ways: lossless (spec §11).
    case router

    var name: String { self == .pubsub ? "PUSH + PUB/SUB" : "DEALER/ROUTER" }
}

/// What to send, how and where.
struct TrafficPlan {
    var transport: Transport
    /// The daemons: each stream goes to the one rendezvous hashing of its id picks
    /// (Protocols/rendezvous.md), so one daemon gets every stream.
    var daemons: [DaemonEndpoints]
    /// CURVE keys of every socket; nil for plain ZeroMQ.
    var curve: CurveKeys?
    /// Streams in flight at once; each sends one digit after the other.
    var concurrentStreams: Int
    /// Sockets the rows are spread over (each stream always uses the same one, which keeps its
    /// rows in order).
    var connections: Int
    var pacing: Pacing
    var publication: PublicationMode
    var digits: MNISTDataset
    /// Send each of the first `imageCount` digits once (eval); nil: cycle through the digits
    /// until `duration` (bench).
    var imageCount: Int?
    /// Seconds of sending (bench).
    var duration: Double?
    /// Seconds to wait for answers still due after the last row was sent.
    var drainTimeout: Double
    /// Closed loop: seconds after which an answer is counted lost and its stream moves on. Any
    /// pacing: a daemon that has not answered anything this long after its first answer became
    /// due ends the run with `CommandError.noAnswer` (its rows go nowhere or its answers do).
    var stallTimeout: Double
    /// Prefix of every stream id of this run (and the SUB subscription).
    var streamPrefix: String
    /// A progress line on standard error while running (a capable terminal only).
    var progress: ProgressLine? = Terminal.isCapable(STDERR_FILENO) ? ProgressLine() : nil
}

/// What happened to the rows of a run. Every answer that was due is counted exactly once:
/// `answersExpected = predictions + errorAnswers + lost`.
struct TrafficResult {
    /// ROW messages sent.
    var rowsSent = 0
    /// Answers due: one per row in `partial` mode, one per digit whose last row was sent in `final` mode.
    var answersExpected = 0
    /// PARTIALs and FINALs that answered a row.
    var predictions = 0
    /// ERRORs that answered a row.
    var errorAnswers = 0
    /// Every ERROR received for this run's streams, by code.
    var errorsByCode: [String: Int] = [:]
    /// Answers due that never came (within the stall or drain timeout).
    var lost = 0
    /// Messages for this run's streams that answered no row due (late, after being counted lost).
    var unexpected = 0
    /// Messages that could not be decoded.
    var undecodable = 0
    /// Digits started and digits with a FINAL.
    var digitsStarted = 0
    var digitsFinished = 0
    /// Eval: the FINAL argmax per digit index, nil when none came.
    var finalArgmax: [UInt8?] = []
    /// FINALs for a digit that already had one.
    var duplicateFinals = 0
    /// Streams abandoned at the end with an END (bench: digits cut off by the duration).
    var streamsEnded = 0
    /// Seconds from the first row sent to the end of the run.
    var elapsedSeconds = 0.0
    /// Row-to-answer latency in microseconds.
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// Whether SIGINT/SIGTERM cut the run short.
    var interrupted = false
}

/// Runs a plan against the daemon: many concurrent streams, interleaved rows, predictions read
/// while sending (the DEALER path requires it), every due answer accounted for.
///
/// What stays here is bench's and eval's own: pacing, the accounting of due answers, latency and
/// accuracy. Sockets, framing and decoding are the client library's (`BatchConnection`); its
/// stream handles would cost this loop an I/O-thread hop and a mailbox per prediction, about 2.5×
/// the client CPU per row, which a load generator cannot spend.
final class TrafficRunner {
    private let plan: TrafficPlan
    private let rows = Digits.rows
    private var result = TrafficResult()

    /// One stream: one digit sent row by row.
    private final class StreamRun {
        let id: StreamID
        /// The run's counter in the id (prefix + key): the `streams` key.
        let key: Int
        /// The stream's sequence number (LSP/2): every row carries it, every answer echoes it.
        let sequence: UInt32
        let digit: Int
        let slot: Int
        /// The daemon its id hashes to, and that daemon's socket its rows go to (the slot's connection).
        let daemon: Int
        let socket: Int
        var nextRow = 0
        /// Per row: when its answer became due (ns), 0 when none is due.
        var dueSince: [UInt64]
        var dueCount = 0
        /// FINAL or ERROR received, or given up: the slot has moved on.
        var over = false

        init(id: StreamID, key: Int, sequence: UInt32, digit: Int, slot: Int, daemon: Int, socket: Int, rows: Int) {
            self.id = id
            self.key = key
            self.sequence = sequence
            self.digit = digit
            self.slot = slot
            self.daemon = daemon
            self.socket = socket
            dueSince = Array(repeating: 0, count: rows)
        }
    }

    /// Live streams by key: predictions find theirs from the topic's digits, without a String.
    private var streams: [Int: StreamRun] = [:]
    private let prefixBytes: [UInt8]
    private var slots: [StreamRun?]
    /// Closed loop: slots whose stream may send its next row, first come first served.
    private var ready: [Int] = []
    private var readyHead = 0
    private var digitsAssigned = 0
    /// Sequence numbers are this plus the stream's key: different from any earlier run's with
    /// the same prefix, so that a late answer to one of those is never taken for this run's.
    private let sequenceBase = UInt32.random(in: 0...UInt32.max)
    private var dueTotal = 0
    private var stoppedSending = false
    /// Per daemon: when its first answer became due (ns), and whether any answer came from it; a
    /// daemon silent for the stall timeout after that is a wrong endpoint, not lost messages.
    private var firstDueAt: [UInt64?]
    private var answered: [Bool]
    private var unansweredDaemons: Int

    /// The sockets, their poller and the reused buffers of the hot loop.
    private let connection: BatchConnection

    init(plan: TrafficPlan) throws {
        self.plan = plan
        prefixBytes = Array(plan.streamPrefix.utf8)
        slots = Array(repeating: nil, count: plan.concurrentStreams)
        firstDueAt = Array(repeating: nil, count: plan.daemons.count)
        answered = Array(repeating: false, count: plan.daemons.count)
        unansweredDaemons = plan.daemons.count
        if let count = plan.imageCount { result.finalArgmax = Array(repeating: nil, count: count) }
        connection = try BatchConnection(
            daemons: plan.daemons, options: ClientOptions(lossless: plan.transport == .router, curve: plan.curve),
            connectionsPerDaemon: plan.connections, subscriptionPrefix: prefixBytes)
    }

    /// Sends and receives until the plan is done (or interrupted), then returns the tally. Throws
    /// `CommandError.noAnswer` when a daemon answered nothing at all: at once when it stays silent
    /// for the stall timeout after its first answer became due, or at the end of a shorter run.
    func run() throws -> TrafficResult {
        let start = monotonicNanoseconds()
        let sendingEnds = plan.duration.map { start + UInt64($0 * 1e9) }
        var drainDeadline: UInt64?
        var lastStallCheck = start
        var nextTick = 0   // open loop: index of the next scheduled row
        var silent: [Int] = []

        if case .closedLoop = plan.pacing {
            for slot in 0..<plan.concurrentStreams { startDigit(in: slot) }
        }
        while true {
            var now = monotonicNanoseconds()
            if unansweredDaemons > 0 {
                silent = silentDaemons(dueBefore: now - min(now, UInt64(plan.stallTimeout * 1e9)))
                if !silent.isEmpty { break }
            }
            if !stoppedSending && (Interrupts.isRaised || sendingEnds.map { now >= $0 } ?? false) {
                result.interrupted = Interrupts.isRaised
                stoppedSending = true
            }
            if stoppedSending && drainDeadline == nil { drainDeadline = now + UInt64(plan.drainTimeout * 1e9) }
            if stoppedSending && (dueTotal == 0 || now >= drainDeadline! || Interrupts.isRaised) { break }
            if plan.imageCount != nil && !stoppedSending && digitsAssigned == plan.imageCount && streams.isEmpty {
                stoppedSending = true
                break
            }

            var waitMilliseconds = 10
            if !stoppedSending {
                switch plan.pacing {
                case .closedLoop:
                    try sendReady(now: now)
                    if readyHead < ready.count && !connection.hasBlockedSocket { waitMilliseconds = 0 }
                case .openLoop(let rate):
                    let interval = 1e9 / rate
                    var sentThisTurn = 0
                    while !connection.hasBlockedSocket && sentThisTurn < 4096 {
                        let scheduled = start + UInt64(Double(nextTick) * interval)
                        guard scheduled <= now, sendingEnds.map({ scheduled < $0 }) ?? true else { break }
                        if try sendScheduledRow(scheduledAt: scheduled) { nextTick += 1 }
                        sentThisTurn += 1
                    }
                    let next = start + UInt64(Double(nextTick) * interval)
                    now = monotonicNanoseconds()
                    waitMilliseconds = connection.hasBlockedSocket ? 10 : next > now ? Int(min(10, (next - now) / 1_000_000)) : 0
                }
            }
            if case .closedLoop = plan.pacing, now - lastStallCheck > 100_000_000 {
                lastStallCheck = now
                checkStalls(now: now)
            }
            try connection.wait(milliseconds: waitMilliseconds)
            try receiveAvailable()
            plan.progress?.update(now: now) { progressText(elapsed: Double(now - start) / 1e9) }
        }
        plan.progress?.finish()
        let end = monotonicNanoseconds()
        result.lost += dueTotal
        dueTotal = 0
        try endUnfinishedStreams()
        result.elapsedSeconds = Double(end - start) / 1e9
        if !silent.isEmpty { throw noAnswer(from: silent, seconds: plan.stallTimeout) }
        // A run shorter than the stall timeout: a daemon that answered nothing still fails it.
        if !result.interrupted && unansweredDaemons > 0 {
            let late = silentDaemons(dueBefore: end)
            if let lastDue = late.compactMap({ firstDueAt[$0] }).max() {
                throw noAnswer(from: late, seconds: (Double(end - lastDue) / 1e8).rounded() / 10)
            }
        }
        return result
    }

    /// The daemons that have not answered anything though an answer was due from them before `dueBefore` (ns).
    private func silentDaemons(dueBefore: UInt64) -> [Int] {
        plan.daemons.indices.filter { !answered[$0] && firstDueAt[$0].map { $0 < dueBefore } ?? false }
    }

    /// The error for `daemons` that answered nothing `seconds` after their first answer was due:
    /// where answers were awaited and where the rows went, as `classify` says it.
    private func noAnswer(from daemons: [Int], seconds: Double) -> CommandError {
        .noAnswer(paths: daemons.map { index in
            let daemon = plan.daemons[index]
            return plan.transport == .router ? (daemon.results, daemon.results) : (daemon.predictions, daemon.ingest)
        }, seconds: seconds)
    }

    /// What the progress line shows: digits done of the total (eval), or seconds of the duration (bench).
    private func progressText(elapsed: Double) -> String {
        let done = plan.imageCount.map { "\(result.digitsStarted - streams.count)/\($0) digits" }
            ?? plan.duration.map { String(format: "%.0f/%.0f s", min(elapsed, $0), $0) } ?? ""
        return "\(done), \(result.rowsSent) rows sent, \(result.predictions) predictions"
            + (stoppedSending ? ", waiting for the last answers" : "")
    }

    // MARK: Sending

    /// Gives `slot` a new stream on the next digit, if any is left; closed loop: it is ready to send.
    private func startDigit(in slot: Int) {
        slots[slot] = nil
        guard !stoppedSending else { return }
        let digit: Int
        if let count = plan.imageCount {
            guard digitsAssigned < count else { return }
            digit = digitsAssigned
        } else {
            digit = digitsAssigned % plan.digits.count
        }
        // The prefix was validated by the caller and the counter adds only digits.
        guard let id = try? StreamID(plan.streamPrefix + String(digitsAssigned)) else { return }
        // Hashed once per stream, off the per-row path.
        let daemon = connection.daemon(for: id)
        let run = StreamRun(id: id, key: digitsAssigned, sequence: sequenceBase &+ UInt32(truncatingIfNeeded: digitsAssigned),
                            digit: digit, slot: slot, daemon: daemon, socket: connection.socket(daemon: daemon, slot: slot), rows: rows)
        digitsAssigned += 1
        result.digitsStarted += 1
        streams[run.key] = run
        slots[slot] = run
        if case .closedLoop = plan.pacing { ready.append(slot) }
    }

    /// Closed loop: sends one row for each ready slot, until a socket would block.
    private func sendReady(now: UInt64) throws {
        var budget = 4096
        while readyHead < ready.count && budget > 0 {
            let slot = ready[readyHead]
            // A slot can be queued twice (a new digit while an old turn is pending): skip what cannot send.
            guard let run = slots[slot], !run.over, run.nextRow < rows else { readyHead += 1; continue }
            guard try send(run, dueAt: monotonicNanoseconds()) else { return }
            readyHead += 1
            budget -= 1
            // Without PARTIALs nothing answers the row, so the stream sends its next row at its next turn.
            if plan.publication == .final && run.nextRow < rows { ready.append(slot) }
        }
        if readyHead > 4096 && readyHead * 2 > ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
    }

    /// Open loop: sends the row scheduled at `scheduledAt` on the next slot in turn. False when the
    /// socket would block (the row stays scheduled).
    private func sendScheduledRow(scheduledAt: UInt64) throws -> Bool {
        let slot = result.rowsSent % plan.concurrentStreams
        if slots[slot].map({ $0.over || $0.nextRow >= rows }) ?? true {
            if let previous = slots[slot], previous.dueCount == 0 { streams[previous.key] = nil }
            startDigit(in: slot)
        }
        guard let run = slots[slot] else { return true }
        return try send(run, dueAt: scheduledAt)
    }

    /// Sends `run`'s next row straight from the digit's pixels (no allocation). False when its
    /// socket would block.
    private func send(_ run: StreamRun, dueAt: UInt64) throws -> Bool {
        let row = run.nextRow
        let isLast = row == rows - 1
        let start = (run.digit * rows + row) * Digits.columns
        let sent = try plan.digits.images.withUnsafeBytes { images in
            try connection.sendRow(UInt32(row), of: run.id, sequence: run.sequence,
                                   values: UnsafeRawBufferPointer(rebasing: images[start..<(start + Digits.columns)]),
                                   last: isLast, on: run.socket)
        }
        guard sent else { return false }
        run.nextRow += 1
        result.rowsSent += 1
        if plan.publication == .partial || isLast {
            run.dueSince[row] = dueAt
            run.dueCount += 1
            dueTotal += 1
            result.answersExpected += 1
            if firstDueAt[run.daemon] == nil { firstDueAt[run.daemon] = dueAt }
        }
        return true
    }

    /// Sends END for streams cut off before their last row, so the daemon frees them now rather
    /// than at its idle timeout.
    private func endUnfinishedStreams() throws {
        for run in streams.values where !run.over && run.nextRow > 0 && run.nextRow < rows {
            if try connection.sendEnd(of: run.id, sequence: run.sequence, at: UInt32(run.nextRow), on: run.socket) {
                result.streamsEnded += 1
            }
        }
    }

    // MARK: Receiving

    /// Reads what is waiting, in place (no copies): the decoding and bookkeeping per prediction
    /// must stay far cheaper than the daemon's work for it, or the load generator sets the pace.
    private func receiveAvailable() throws {
        try connection.receiveAvailable({ handle($0, at: monotonicNanoseconds()) }, undecodable: { _ in result.undecodable += 1 })
    }

    /// The key of a topic "prefix + decimal counter", nil for anything else.
    private func streamKey(_ topic: UnsafeRawBufferPointer) -> Int? {
        guard topic.count > prefixBytes.count, topic.count - prefixBytes.count <= 18,
              topic.starts(with: prefixBytes) else { return nil }
        var key = 0
        for byte in topic.dropFirst(prefixBytes.count) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            key = key * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return key
    }

    private func handle(_ message: PredictionView, at now: UInt64) {
        guard !message.isErrorsTopic, let key = streamKey(message.topic), let run = streams[key],
              message.header.sequence == run.sequence, run.id.string.utf8.elementsEqual(message.topic) else {
            result.unexpected += 1
            return
        }
        if !answered[run.daemon] {
            answered[run.daemon] = true
            unansweredDaemons -= 1
        }
        let row = Int(message.header.row)
        let answersDueRow = row < rows && run.dueSince[row] != 0
        if answersDueRow {
            let waited = now > run.dueSince[row] ? now - run.dueSince[row] : 0
            result.latency.record(max(1, waited / 1000))
            run.dueSince[row] = 0
            run.dueCount -= 1
            dueTotal -= 1
        }
        switch message.header.kind {
        case .partial, .final:
            guard answersDueRow else { result.unexpected += 1; break }
            result.predictions += 1
            if message.header.kind == .final {
                result.digitsFinished += 1
                if plan.imageCount != nil {
                    if result.finalArgmax[run.digit] != nil {
                        result.duplicateFinals += 1
                    } else {
                        result.finalArgmax[run.digit] = message.header.argmax
                    }
                }
                finish(run)
            } else if case .closedLoop = plan.pacing, !run.over {
                ready.append(run.slot)
            }
        case .error:
            // An ERROR whose JSON cannot be read still ends its stream.
            let code = (try? message.errorBody().code) ?? "bad_body"
            result.errorsByCode[code, default: 0] += 1
            if answersDueRow { result.errorAnswers += 1 }
            // Whatever the code (a later daemon may add codes), the stream is given up.
            finish(run)
        }
        if run.over && run.dueCount == 0 && slots[run.slot] !== run { streams[run.key] = nil }
    }

    /// The stream is over (FINAL, ERROR or given up): closed loop, its slot takes the next digit.
    private func finish(_ run: StreamRun) {
        guard !run.over else { return }
        run.over = true
        if case .closedLoop = plan.pacing, slots[run.slot] === run {
            if run.dueCount == 0 { streams[run.key] = nil }
            startDigit(in: run.slot)
        }
    }

    /// Closed loop: answers due longer than the stall timeout are counted lost; the stream then
    /// sends its next row, or, if the lost answer was its FINAL, the slot moves on.
    private func checkStalls(now: UInt64) {
        let limit = UInt64(plan.stallTimeout * 1e9)
        for case let run? in slots where run.dueCount > 0 {
            // Rows sent after `now` was read are due later than `now`: not stalled.
            for row in 0..<rows where run.dueSince[row] != 0 && now > run.dueSince[row] && now - run.dueSince[row] > limit {
                run.dueSince[row] = 0
                run.dueCount -= 1
                dueTotal -= 1
                result.lost += 1
                if row == rows - 1 {
                    finish(run)
                } else if plan.publication == .partial && !run.over {
                    ready.append(run.slot)
                }
            }
        }
    }
}
