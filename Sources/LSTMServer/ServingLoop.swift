import Logging
import LSTMStreaming
import WireProtocol
import ZeroMQ

/// The single thread that owns every socket and the engine: poll, read rows, step, drain.
/// No locks on the hot path; other threads reach it only through `takeRequests`. Predictions leave
/// through `PredictionOutput`, control requests are answered by `ControlService`, models are
/// the engine's generations (`ModelRegistry`).
final class ServingLoop {
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let takeRequests: () -> [Daemon.Request]
    private let channels: StatusChannels
    private let engine: StreamEngine
    private let registry: ModelRegistry
    private let output: PredictionOutput
    private let control: ControlService
    private let counters = DaemonCounters()
    private let snapshots: SnapshotStore?
    private let snapshotWriter: SnapshotWriter?

    private let sockets: DaemonSockets
    private var results: ResultsRouter? { sockets.results }
    private let poller: ZMQPoller
    private let ingestEntry: Int
    private let controlEntry: Int
    private let resultsEntry: Int?
    private let received = ZMQMultipart(capacity: 4)
    private let controlReceived = ZMQMultipart(capacity: 1)
    /// Whether the sockets are CURVE servers: control requests then carry their sender's role.
    private let curve: Bool

    private var stopping = false
    private var lastWatchdog: UInt64 = 0
    private var lastHousekeeping: UInt64 = 0
    private var lastEvictionSlice: UInt64 = 0
    static let evictionSliceRecords = 2_048
    static let evictionSliceNanoseconds: UInt64 = 10_000_000
    private var lastSnapshot: UInt64 = 0
    /// When a socket was last readable; with `--busy-poll-us` the loop polls without sleeping for
    /// that long after it, saving the wake-up of a blocked poll on the next row.
    private var lastActivity: UInt64 = 0
    private let busyPollNanoseconds: UInt64

    /// Messages read from the ingest socket before the loop steps again, so that a flood of rows
    /// cannot starve stepping and publishing.
    private static let readBudget = 4096
    /// Rows accepted but not yet stepped, at most (~9 MB at input size 28; stream-protocol.md §14).
    private static let maxQueuedRows = 65_536

    init(configuration: DaemonConfiguration, model: LoadedModel, context: ZMQContext, curve: ZMQCurveServer?,
         limits: ConnectionLimits, logger: Logger, status channels: StatusChannels,
         takeRequests: @escaping () -> [Daemon.Request]) throws {
        self.configuration = configuration
        self.curve = curve != nil
        self.logger = logger
        self.channels = channels
        self.takeRequests = takeRequests
        engine = StreamEngine(model: model.model, origin: model.origin, configuration: EngineConfiguration(
            maxBatch: configuration.maxBatch, maxStreams: configuration.maxStreams,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds > 0 ? configuration.idleTimeoutSeconds : nil))
        registry = ModelRegistry(engine: engine, configured: model, modelDirectory: configuration.reloadDirectory,
                                 channels: channels, logger: logger)
        snapshots = configuration.stateDirectory.map { SnapshotStore(directory: $0, logger: logger) }
        snapshotWriter = snapshots.map { store in SnapshotWriter { store.save($0) } }
        busyPollNanoseconds = UInt64(configuration.busyPollMicroseconds) * 1000

        sockets = try DaemonSockets(configuration: configuration, context: context, curve: curve, limits: limits,
                                    logger: logger)
        output = PredictionOutput(publisher: sockets.publisher, results: sockets.results, mode: configuration.publish,
                                  counters: counters, logger: logger)
        control = ControlService(engine: engine, registry: registry, output: output, counters: counters,
                                 channels: channels, configuration: configuration, logger: logger,
                                 startedAt: monotonicNanoseconds())
        let poller = ZMQPoller()
        ingestEntry = try poller.add(sockets.ingest, events: .readable)
        controlEntry = try poller.add(sockets.control, events: .readable)
        resultsEntry = try sockets.results.map { router throws(ZMQError) in try poller.add(router.socket, events: .readable) }
        self.poller = poller
    }

    /// Serves until a stop request, then stops gracefully (see `finish`).
    func run() throws -> Daemon.StopOutcome {
        snapshots?.restore(into: engine, now: monotonicNanoseconds())
        lastSnapshot = monotonicNanoseconds()
        let current = registry.current
        logger.info("serving", metadata: [
            "model": "\(current.origin.path ?? "embedded default")",
            "sha256": "\(current.model.sha256.prefix(16))",
            "hidden_units": "\(current.model.shape.hiddenSize)", "layers": "\(current.model.shape.layers)",
            "ingest": "\(configuration.ingest)", "predictions": "\(configuration.predictions)",
            "control": "\(configuration.control)", "results": "\(configuration.results ?? "off")",
        ])
        channels.modelChanged(current.model)
        channels.notify { try $0.ready() }
        channels.readiness.enter(.serving)
        reportStatus(now: monotonicNanoseconds())
        while !stopping {
            try iterate()
        }
        return try finish()
    }

    // MARK: One turn of the loop

    private func iterate() throws {
        for request in takeRequests() { handle(request) }
        if stopping { return }
        let backlog = results?.hasBacklog ?? false
        let busy = busyPollNanoseconds > 0 && monotonicNanoseconds() &- lastActivity < busyPollNanoseconds
        let timeout: ZMQTimeout = engine.hasQueuedRows || busy ? .zero : backlog ? .milliseconds(1) : .milliseconds(100)
        if try poller.poll(timeout: timeout) > 0 {
            lastActivity = monotonicNanoseconds()
            if poller.isReadable(controlEntry) { try serveControl() }
            if poller.isReadable(ingestEntry) { try readIngest() }
            if let resultsEntry, poller.isReadable(resultsEntry) { try readResults() }
        }
        if backlog { results?.flush { frames, peer in acceptCopied(frames, from: peer) } }
        dropStreamsOfOverflowedPeers()
        if engine.hasQueuedRows {
            if configuration.batchDelayMicroseconds > 0 && engine.streamsWithQueuedRows < configuration.maxBatch {
                waitForMoreRows()
            }
            step()
        }
        let now = monotonicNanoseconds()
        // The watchdog is fed from the loop itself, so that a stuck loop stops the pings.
        if let interval = channels.watchdogNanoseconds, now &- lastWatchdog >= interval {
            lastWatchdog = now
            channels.notify { try $0.watchdog() }
        }
        if now &- lastEvictionSlice > Self.evictionSliceNanoseconds {
            lastEvictionSlice = now
            evictIdleStreams(now: now)
        }
        if now &- lastHousekeeping > 1_000_000_000 {
            lastHousekeeping = now
            channels.readiness.beat(now: now)
            reportStatus(now: now)
        }
        if let snapshotWriter, configuration.snapshotIntervalSeconds > 0,
           now &- lastSnapshot > UInt64(configuration.snapshotIntervalSeconds * 1e9) {
            lastSnapshot = now
            // Skipped while the last one is still being written, and while the totals stand still
            // (no stream has moved: an idle daemon writes nothing).
            if !snapshotWriter.isSaving && engine.counters != snapshotWriter.lastSavedTag {
                // A snapshot holds no queued rows: apply them first (at most maxQueuedRows).
                while engine.hasQueuedRows { step() }
                if let snapshot = try? engine.snapshot() { snapshotWriter.start(snapshot, tag: engine.counters) }
            }
        }
    }

    /// With `--batch-delay-us`, gives other streams a chance to add rows to a batch that is not full.
    private func waitForMoreRows() {
        let deadline = monotonicNanoseconds() + UInt64(configuration.batchDelayMicroseconds) * 1000
        while engine.streamsWithQueuedRows < configuration.maxBatch {
            let now = monotonicNanoseconds()
            guard now < deadline else { return }
            let remaining = Int((deadline - now + 999_999) / 1_000_000)
            guard (try? poller.poll(timeout: .milliseconds(remaining))) ?? 0 > 0, poller.isReadable(ingestEntry) else {
                return
            }
            try? readIngest()
        }
    }

    /// Messages the loop may read now: none while the engine holds `maxQueuedRows` rows not yet
    /// stepped, so that clients sending faster than the daemon steps are held back by libzmq's
    /// high-water marks (PUSH blocks) rather than filling the daemon's memory.
    private var readAllowance: Int { min(Self.readBudget, max(0, Self.maxQueuedRows - engine.queuedRowCount)) }

    private func readIngest() throws {
        for _ in 0..<readAllowance {
            guard try sockets.ingest.receiveMultipart(into: received, dontWait: true) else { return }
            counters.value[.rowsReceived] += 1
            received.withUnsafeFrames { frames in acceptReceived(frames, from: nil) }
        }
    }

    private func readResults() throws {
        // Counted as read, parked and discarded ones too: rows_received is every message read.
        guard let results else { return }
        counters.value[.rowsReceived] += UInt64(try results.read(budget: readAllowance) { frames, peer in
            acceptReceived(frames, from: peer)
        })
    }

    /// Decodes an ingest message just read (the row stays in the frame) and hands it on, or answers
    /// why it cannot be read.
    private func acceptReceived(_ frames: ArraySlice<UnsafeRawBufferPointer>, from peer: ResultsRouter.Peer?) {
        do throws(WireError) {
            let message = try decodeIngest(frames: frames)
            accept(message.streamID, message.header, row: message.row, from: peer)
        } catch {
            output.deliverError(error, to: peer)
        }
    }

    /// A row that waited, copied, while its ROUTER peer was blocked (counted in rows_received when
    /// it was read).
    private func acceptCopied(_ frames: [[UInt8]], from peer: ResultsRouter.Peer) {
        do throws(WireError) {
            let message = try decodeIngest(frames: frames)
            message.row.withUnsafeBytes { row in accept(message.streamID, message.header, row: row, from: peer) }
        } catch {
            output.deliverError(error, to: peer)
        }
    }

    /// Hands one decoded ingest message to the engine; any failure is answered on the stream's
    /// topic (and to the ROUTER peer that sent it) and touches no other stream.
    private func accept(_ stream: StreamID, _ header: IngestHeader, row: UnsafeRawBufferPointer, from peer: ResultsRouter.Peer?) {
        let index = header.row
        let sequence = header.sequence
        switch header.kind {
        case .end:
            do { try engine.endStream(stream) } catch {
                output.deliverError(WireError(.unknownStream, error.description, streamID: stream, row: index,
                                              sequence: sequence), to: peer)
                return
            }
            results?.unbind(stream)
        case .row:
            // Row 0 binds a stream to its ROUTER peer; so does any row of a stream not bound
            // yet, e.g. one restored from a snapshot whose client reconnected. Binding first lets
            // a repeated prediction reach the peer too.
            let binds = peer != nil && (index == 0 || results?.peer(of: stream) == nil)
            if binds, let peer { results?.bind(stream, to: peer) }
            do {
                try engine.submitRow(stream: stream, index: Int(index), sequence: sequence, row: .encoded(row, header.dtype),
                                     isLast: header.flags.contains(.last), now: monotonicNanoseconds(),
                                     repeated: output.publish)
                if index == 0 {
                    logger.trace("stream started", metadata: ["stream": "\(stream)", "sequence": "\(sequence.map(String.init) ?? "-")",
                                                              "via": "\(peer == nil ? "ingest" : "results")"])
                }
            } catch {
                if binds || error.code == .gap { results?.unbind(stream) }
                output.deliverError(WireError(error.code, error.description, streamID: stream, row: index,
                                              sequence: sequence), to: peer)
            }
        }
    }

    /// One batched step; its rows' time in the queue ends at its start (from when the engine
    /// accepted each row: `submittedAt`), its own time at the end of its publishing.
    private func step() {
        let start = monotonicNanoseconds()
        let rows = engine.step(now: start) { prediction in
            counters.histograms.queueTime.record(start &- prediction.submittedAt)
            output.publish(prediction)
        }
        if rows > 0 { counters.histograms.recordStep(rows: rows, start: start, end: monotonicNanoseconds()) }
    }

    /// Copies the totals, gauges and histograms into the metrics and tells systemd how things stand (`STATUS=`).
    private func reportStatus(now: UInt64) {
        control.updateMetrics(now: now)
        channels.notify { notifier in
            try notifier.status("\(engine.liveStreamCount) live streams, \(engine.counters[.rowsApplied]) rows applied, model \(registry.current.model.sha256.prefix(12))")
        }
    }

    /// One slice of the idle sweep: `evictionSliceRecords` stream records every
    /// `evictionSliceNanoseconds`, so that a million idle streams are swept in about 5 s without
    /// ever holding the loop for long (each slice also publishes at most that many ERRORs).
    private func evictIdleStreams(now: UInt64) {
        var evicted = 0
        engine.evictIdle(now: now, scanning: Self.evictionSliceRecords) { stream, error in
            logger.debug("evicted", metadata: ["stream": "\(stream)", "code": "evicted"])
            var nextRow: Int?, sequence: UInt32?
            if case let .evicted(_, next, evictedSequence) = error { (nextRow, sequence) = (next, evictedSequence) }
            output.endedByDaemon(stream, .evicted, error.description, nextRow: nextRow, sequence: sequence)
            evicted += 1
        }
        if evicted > 0 { logger.info("idle streams evicted", metadata: ["streams": "\(evicted)"]) }
    }

    /// Drops the streams bound to ROUTER peers that passed their bound (`overflow`); the errors go
    /// to PUB and, past the bound, to the peer, so that it learns why once it reads again.
    private func dropStreamsOfOverflowedPeers() {
        guard let results else { return }
        for peer in results.takeOverflowed() {
            for stream in results.streams(of: peer) {
                guard let dropped = engine.dropStream(stream) else { results.unbind(stream); continue }
                output.endedByDaemon(stream, .overflow, "the results client this stream is bound to did not read its "
                                     + "predictions and passed its bound; the stream is dropped, restart it with row 0",
                                     nextRow: dropped.nextRow, sequence: dropped.sequence)
            }
        }
    }

    // MARK: Requests and control

    private func handle(_ request: Daemon.Request) {
        switch request {
        case .stop:
            guard !stopping else { return }
            logger.info("stop requested", metadata: ["live_streams": "\(engine.liveStreamCount)"])
            channels.notify { try $0.stopping() }
            channels.readiness.enter(.draining)
            stopping = true
        case let .reload(path):
            try? registry.reload(path)
        }
    }

    /// Answers one control request, telling the service who sent it: under CURVE the role the ZAP
    /// handler gave the sender's key, read from the message (`User-Id`).
    private func serveControl() throws {
        guard try sockets.control.receiveMultipart(into: controlReceived, dontWait: true) else { return }
        let requester = ControlRequester(curve: curve, userID: controlReceived[0].property("User-Id"))
        let frames = controlReceived.frames
        controlReceived.removeAll()
        let reply = control.reply(to: frames, from: requester, now: monotonicNanoseconds())
        _ = try sockets.control.send([reply.jsonBytes], dontWait: true)
    }

    // MARK: Stopping

    /// The graceful stop: take the rows already received, apply every queued row and publish its
    /// prediction, then save the live streams (or tell their clients they are gone), within the
    /// drain timeout. Says whether the snapshot, when there is a state directory, was written.
    private func finish() throws -> Daemon.StopOutcome {
        let deadline = monotonicNanoseconds() + UInt64(configuration.drainTimeoutSeconds * 1e9)
        try readIngest()
        try readResults()
        while engine.hasQueuedRows && monotonicNanoseconds() < deadline {
            step()
        }
        let live = engine.liveStreams(now: monotonicNanoseconds())
        var saved = Set<String>()
        var outcome = Daemon.StopOutcome.clean
        // After a drain timeout rows are still queued: nothing is saved (and no older snapshot may
        // bring the streams back), their clients are told.
        if let snapshots {
            snapshotWriter?.waitUntilIdle()
            if let snapshot = try? engine.snapshot(), snapshots.save(snapshot) {
                saved = Set(snapshot.streams.map(\.id))
            } else {
                if engine.hasQueuedRows { snapshots.discardOlder() }
                outcome = .snapshotNotWritten
            }
        }
        for stream in live where !saved.contains(stream.id.string) {
            engine.dropStream(stream.id)
            output.endedByDaemon(stream.id, .shuttingDown, "the daemon stopped without saving this stream; restart it with row 0",
                                 nextRow: stream.nextRow, sequence: stream.sequence)
        }
        logger.notice("stopped", metadata: [
            "live_streams": "\(live.count)", "saved": "\(saved.count)",
            "queued_rows_left": "\(engine.hasQueuedRows ? "yes (drain timeout)" : "0")",
        ])
        return outcome
    }
}
