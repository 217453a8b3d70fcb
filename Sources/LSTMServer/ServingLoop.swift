import Foundation
import Logging
import LSTMDVersion
import LSTMModel
import StreamEngine
import WireProtocol
import ZeroMQ

/// The single thread that owns every socket and the engine: poll, read rows, step, publish.
/// No locks on the hot path; other threads reach it only through `takeRequests`.
final class ServingLoop {
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let takeRequests: () -> [Daemon.Request]
    private let channels: StatusChannels
    private var lastWatchdog: UInt64 = 0
    private let engine: StreamEngine
    private let startedAt = monotonicNanoseconds()
    private var models: [String: LoadedModel]   // by SHA-256: every model some stream still runs on
    private var current: LoadedModel
    /// The model file named at start (or the embedded one): what a reload without a path reads again.
    private let configuredModel: LoadedModel

    private let ingest: ZMQSocket
    private let publisher: ZMQSocket
    private let control: ZMQSocket
    private let results: ResultsRouter?
    private let poller: ZMQPoller
    private let ingestEntry: Int
    private let controlEntry: Int
    private let resultsEntry: Int?
    private let received = ZMQMultipart(capacity: 4)
    private let controlReceived = ZMQMultipart(capacity: 1)
    /// CURVE settings of every socket; nil serves plain ZeroMQ (issue 15).
    private let curve: ZMQCurveServer?

    // Reusable buffers: the steady state allocates nothing per row.
    private let row: UnsafeMutableBufferPointer<Float>
    /// Frames 2 and 3 of the prediction being published: 8 header bytes, then up to 255 float32s.
    private let predictionBytes = UnsafeMutableRawBufferPointer.allocate(
        byteCount: PredictionHeader.size + 4 * 255, alignment: MemoryLayout<UInt32>.alignment)
    private var predictionsPublished: UInt64 = 0
    private var wireErrors: [ErrorCode: UInt64] = [:]
    private var stopping = false
    private var lastHousekeeping: UInt64 = 0
    private var lastSnapshot: UInt64 = 0
    /// When a socket was last readable; with `--busy-poll-us` the loop polls without sleeping for
    /// that long after it, saving the wake-up of a blocked poll on the next row.
    private var lastActivity: UInt64 = 0
    private let busyPollNanoseconds: UInt64
    private let snapshots: SnapshotStore?

    /// Messages read from the ingest socket before the loop steps again, so that a flood of rows
    /// cannot starve stepping and publishing.
    private static let readBudget = 4096
    /// Rows parked for one slow ROUTER peer before the whole ROUTER socket pauses.
    private static let parkLimit = 65_536

    init(configuration: DaemonConfiguration, model: LoadedModel, context: ZMQContext, curve: ZMQCurveServer?,
         logger: Logger, status channels: StatusChannels, takeRequests: @escaping () -> [Daemon.Request]) throws {
        self.configuration = configuration
        self.curve = curve
        self.logger = logger
        self.channels = channels
        self.takeRequests = takeRequests
        current = model
        configuredModel = model
        models = [model.model.sha256: model]
        engine = StreamEngine(model: model.model, configuration: EngineConfiguration(
            maxBatch: configuration.maxBatch, maxStreams: configuration.maxStreams,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds > 0 ? configuration.idleTimeoutSeconds : nil))
        row = .allocate(capacity: model.model.shape.inputSize)
        snapshots = configuration.stateDirectory.map { SnapshotStore(directory: $0, logger: logger) }
        busyPollNanoseconds = UInt64(configuration.busyPollMicroseconds) * 1000

        ingest = try ZMQSocket(context, type: .pull)
        try ingest.set(.linger, .zero)
        try ingest.set(.maxMessageSize, configuration.maxMessageSize)
        publisher = try ZMQSocket(context, type: .pub)
        try publisher.set(.sendHWM, configuration.publishHighWaterMark)
        try publisher.set(.linger, .milliseconds(1000))
        control = try ZMQSocket(context, type: .rep)
        try control.set(.linger, .zero)
        try control.set(.maxMessageSize, 1 << 20)
        var bindings = [(ingest, "ingest", configuration.ingest),
                        (publisher, "predictions", configuration.predictions),
                        (control, "control", configuration.control)]
        if let endpoint = configuration.results {
            let router = try ZMQSocket(context, type: .router)
            try router.set(.linger, .zero)
            try router.set(.maxMessageSize, configuration.maxMessageSize)
            try router.set(.sendHWM, configuration.resultsHighWaterMark)
            try router.set(.receiveHWM, configuration.resultsHighWaterMark)
            results = try ResultsRouter(socket: router, parkLimit: Self.parkLimit, logger: logger)
            bindings.append((router, "results", endpoint))
        } else {
            results = nil
        }
        for (socket, name, endpoint) in bindings {
            do {
                try curve?.apply(to: socket)
                try socket.bind(endpoint)
            } catch {
                throw DaemonError.bind(socket: name, endpoint: endpoint, reason: String(describing: error))
            }
        }
        let poller = ZMQPoller()
        ingestEntry = try poller.add(ingest, events: .readable)
        controlEntry = try poller.add(control, events: .readable)
        resultsEntry = try results.map { router throws(ZMQError) in try poller.add(router.socket, events: .readable) }
        self.poller = poller
    }

    deinit {
        row.deallocate()
        predictionBytes.deallocate()
    }

    func run() throws {
        snapshots?.restore(into: engine, now: monotonicNanoseconds())
        lastSnapshot = monotonicNanoseconds()
        let shape = current.model.shape
        logger.info("serving", metadata: [
            "model": "\(current.isDefault ? "embedded default" : current.path)",
            "sha256": "\(current.model.sha256.prefix(16))",
            "hidden_units": "\(shape.hiddenSize)", "layers": "\(shape.layers)",
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
        try finish()
    }

    // MARK: One turn of the loop

    private func iterate() throws {
        for request in takeRequests() { handle(request) }
        if stopping { return }
        if let results, let resultsEntry {
            poller.setEvents(results.isPaused ? [] : .readable, at: resultsEntry)
        }
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
        if engine.hasQueuedRows {
            if configuration.batchDelayMicroseconds > 0 && engine.streamsWithQueuedRows < configuration.maxBatch {
                waitForMoreRows()
            }
            stepAndPublish()
        }
        let now = monotonicNanoseconds()
        // The watchdog is fed from the loop itself, so that a stuck loop stops the pings.
        if let interval = channels.watchdogNanoseconds, now &- lastWatchdog >= interval {
            lastWatchdog = now
            channels.notify { try $0.watchdog() }
        }
        if now &- lastHousekeeping > 1_000_000_000 {
            lastHousekeeping = now
            channels.readiness.beat(now: now)
            evictIdleStreams(now: now)
            forgetUnusedModels()
            reportStatus(now: now)
        }
        if let snapshots, configuration.snapshotIntervalSeconds > 0,
           now &- lastSnapshot > UInt64(configuration.snapshotIntervalSeconds * 1e9) {
            lastSnapshot = now
            snapshots.save(engine.snapshot())
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

    private func readIngest() throws {
        for _ in 0..<Self.readBudget {
            guard try ingest.receiveMultipart(into: received, dontWait: true) else { return }
            received.withUnsafeFrames { frames in
                do throws(WireError) { accept(try decodeIngest(frames: frames), from: nil) } catch { deliverError(error, to: nil) }
            }
        }
    }

    private func readResults() throws {
        try results?.read(budget: Self.readBudget) { frames, peer in
            do throws(WireError) { accept(try decodeIngest(frames: frames), from: peer) } catch { deliverError(error, to: peer) }
        }
    }

    /// A row that waited, copied, while its ROUTER peer was blocked.
    private func acceptCopied(_ frames: [[UInt8]], from peer: ResultsRouter.Peer) {
        do throws(WireError) { accept(try decodeIngest(frames: frames), from: peer) } catch { deliverError(error, to: peer) }
    }

    /// Hands one decoded ingest message to the engine; any failure is answered on the stream's
    /// topic (and to the ROUTER peer that sent it) and touches no other stream.
    private func accept(_ message: some DecodedIngest, from peer: ResultsRouter.Peer?) {
        let stream = message.streamID
        let index = message.header.row
        do throws(WireError) {
            switch message.header.kind {
            case .end:
                do { try engine.endStream(stream.string) } catch {
                    throw WireError(.unknownStream, error.description, streamID: stream, row: index)
                }
                results?.unbind(stream.string)
            case .row:
                let model = current.model
                try message.decodeRow(inputSize: model.shape.inputSize, inputScale: model.metadata.inputScale, into: row)
                // Row 0 binds a stream to its ROUTER peer; so does any row of a stream not bound
                // yet, e.g. one restored from a snapshot whose client reconnected. Binding first lets
                // a repeated prediction reach the peer too.
                let binds = peer != nil && (index == 0 || results?.peer(of: stream.string) == nil)
                if binds, let peer { results?.bind(stream.string, to: peer) }
                do {
                    try engine.submitRow(stream: stream.string, index: Int(index), values: UnsafeBufferPointer(row),
                                         isLast: message.header.flags.contains(.last), now: monotonicNanoseconds(),
                                         repeated: publish)
                    if index == 0 { logger.trace("stream started", metadata: ["stream": "\(stream.string)", "via": "\(peer == nil ? "ingest" : "results")"]) }
                } catch {
                    if binds || error.code == .gap { results?.unbind(stream.string) }
                    throw WireError(error.wireCode, error.description, streamID: stream, row: index)
                }
            }
        } catch {
            deliverError(error, to: peer)
        }
    }

    private func stepAndPublish() {
        let start = monotonicNanoseconds()
        let rows = engine.step(now: start, publish)
        if rows > 0 { channels.metrics.recordStep(batchSize: rows, nanoseconds: monotonicNanoseconds() &- start) }
    }

    /// Copies the counters into the metrics and tells systemd how things stand (`STATUS=`).
    private func reportStatus(now: UInt64) {
        channels.metrics.update(counters: counters(), liveStreams: engine.liveStreamCount, uptimeSeconds: uptime(now))
        channels.notify { notifier in
            try notifier.status("\(engine.liveStreamCount) live streams, \(engine.counters.rowsApplied) rows applied, model \(current.model.sha256.prefix(12))")
        }
    }

    /// Encodes a prediction and delivers it (PARTIAL only in `partial` mode).
    private func publish(_ prediction: Prediction) {
        if configuration.publish == .final && !prediction.isFinal { return }
        let header = UnsafeMutableRawBufferPointer(rebasing: predictionBytes[..<PredictionHeader.size])
        let body = UnsafeMutableRawBufferPointer(rebasing: predictionBytes[PredictionHeader.size...]
            .prefix(4 * prediction.probabilities.count))
        encodePrediction(kind: prediction.isFinal ? .final : .partial, row: UInt32(prediction.row),
                         probabilities: prediction.probabilities, header: header, body: body)
        var stream = prediction.stream
        stream.withUTF8 { topic in
            deliver(topic: UnsafeRawBufferPointer(topic), header: UnsafeRawBufferPointer(header),
                    body: UnsafeRawBufferPointer(body), to: results?.peer(of: prediction.stream))
        }
        if prediction.isFinal {
            results?.unbind(prediction.stream)
            logger.trace("stream finished", metadata: ["stream": "\(prediction.stream)", "rows": "\(prediction.row + 1)"])
        }
    }

    /// Publishes a prediction message on PUB and, for a stream bound to a ROUTER peer, sends it there.
    private func deliver(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                         to peer: ResultsRouter.Peer?) {
        do {
            _ = try publisher.sendFrame(topic, more: true, dontWait: true)
            _ = try publisher.sendFrame(header, more: true, dontWait: true)
            _ = try publisher.sendFrame(body, dontWait: true)
            predictionsPublished += 1
        } catch {
            logger.error("publish failed", metadata: ["error": "\(error)"])
        }
        if let peer { results?.send(topic, header, body, to: peer) }
    }

    /// Answers a failure on the stream's topic (or `$errors`), and to the ROUTER peer concerned.
    private func deliverError(_ error: WireError, to peer: ResultsRouter.Peer?) {
        wireErrors[error.code, default: 0] += 1
        logger.debug("rejected", metadata: [
            "stream": "\(error.streamID?.string ?? errorsTopic)", "code": "\(error.code)",
            "row": "\(error.row.map(String.init) ?? "-")", "message": "\(error.message)",
        ])
        var topic = error.topic
        let recipient = peer ?? error.streamID.flatMap { results?.peer(of: $0.string) }
        let header = error.header.bytes, body = error.body.jsonBytes
        topic.withUTF8 { bytes in
            header.withUnsafeBytes { header in
                body.withUnsafeBytes { body in
                    deliver(topic: UnsafeRawBufferPointer(bytes), header: header, body: body, to: recipient)
                }
            }
        }
    }

    private func evictIdleStreams(now: UInt64) {
        engine.evictIdle(now: now) { stream, error in
            logger.info("evicted", metadata: ["stream": "\(stream)", "code": "evicted"])
            var nextRow: Int?
            if case let .evicted(_, next) = error { nextRow = next }
            endedByDaemon(stream, .evicted, error.description, nextRow: nextRow)
        }
    }

    /// Tells a stream's clients that the daemon ended it, then forgets its ROUTER binding.
    private func endedByDaemon(_ stream: String, _ code: ErrorCode, _ message: String, nextRow: Int?) {
        // The engine holds only ids that were decoded off the wire, so they are valid stream ids.
        if let id = try? StreamID(stream) {
            deliverError(WireError(code, message, streamID: id, row: nextRow.map { UInt32($0) }), to: nil)
        }
        results?.unbind(stream)
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
            _ = reload(path)
        }
    }

    /// Loads a model for new streams; the old one serves its streams until they end. Without a
    /// path it reads the configured model file again (e.g. after an operator replaced it).
    /// A path must name a file in the model directory (issue 15); the reply says what kind of problem
    /// a file has, never what it holds, while the log keeps the full error.
    private func reload(_ path: String?) -> Result<LoadedModel, WireError> {
        let target: String
        do throws(ModelPathError) {
            target = try path.map { path throws(ModelPathError) in
                try ModelPathPolicy.resolve(path, in: configuration.reloadDirectory)
            } ?? configuredModel.path
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["error": "\(error)"])
            return .failure(WireError(.reloadFailed, error.description))
        }
        channels.notify { try $0.reloading() }
        defer { channels.notify { try $0.ready() } }
        do {
            let loaded = try LoadedModel(path: target, isDefault: path == nil && configuredModel.isDefault)
            try engine.replaceModel(with: loaded.model)
            current = loaded
            models[loaded.model.sha256] = loaded
            forgetUnusedModels()
            channels.modelChanged(loaded.model)
            logger.notice("model reloaded", metadata: ["model": "\(target)", "sha256": "\(loaded.model.sha256.prefix(16))"])
            return .success(loaded)
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["model": "\(target)", "error": "\(error)"])
            let name = path ?? "the configured model"
            if case let DaemonError.modelLoad(_, modelError) = error {
                return .failure(WireError(.reloadFailed, "\(name) not loaded: \(modelError.kind); the current model keeps serving (details in the daemon's log)"))
            }
            return .failure(WireError(.reloadFailed, "\(name) not loaded: \(error); the current model keeps serving"))
        }
    }

    private func serveControl() throws {
        guard try control.receiveMultipart(into: controlReceived, dontWait: true) else { return }
        let frames = controlReceived.frames
        // Issue 15: the role the ZAP handler gave this peer (nil in plain mode).
        let userID = controlReceived[0].property("User-Id")
        controlReceived.removeAll()
        let reply: ControlReply
        if frames.count != 1 {
            reply = ControlReply(WireError(.badRequest, "a control request is one frame of JSON; got \(frames.count) frames"))
        } else {
            do throws(WireError) {
                let request = try ControlRequest(jsonBytes: frames[0])
                logger.debug("control request", metadata: ["command": "\(request.command)", "role": "\(userID ?? "plain")"])
                if let refusal = ControlAccess.refusal(of: request, userID: userID, curve: curve != nil) { throw refusal }
                reply = try answer(request)
            } catch {
                reply = ControlReply(error)
            }
        }
        _ = try control.send([reply.jsonBytes], dontWait: true)
    }

    private func answer(_ request: ControlRequest) throws(WireError) -> ControlReply {
        let now = monotonicNanoseconds()
        switch request {
        case .ping:
            return .ping(PingReply(uptimeSeconds: uptime(now)))
        case .status:
            return .status(status(now))
        case .streams:
            return .streams(StreamsReply(streams: engine.liveStreams(now: now).compactMap { summary in
                guard let id = try? StreamID(summary.id) else { return nil }
                return WireProtocol.StreamInfo(id: id, nextRow: UInt32(summary.nextRow),
                                               model: summary.modelSHA256, idleSeconds: summary.idleSeconds)
            }))
        case let .drop(stream):
            let next = engine.liveStreams(now: now).first { $0.id == stream.string }?.nextRow
            guard engine.dropStream(stream.string), let next else {
                throw WireError(.unknownStream, "no live stream has the id \"\(stream.string)\"", streamID: stream)
            }
            logger.info("dropped by operator", metadata: ["stream": "\(stream.string)", "code": "dropped"])
            endedByDaemon(stream.string, .dropped, "dropped by the operator's drop command", nextRow: next)
            return .drop(DropReply(stream: stream, nextRow: UInt32(next)))
        case let .reload(path):
            switch reload(path) {
            case .success: return .reload(ReloadReply(model: info(current), previousModels: previousModels()))
            case let .failure(error): throw error
            }
        case .metrics:
            channels.metrics.update(counters: counters(), liveStreams: engine.liveStreamCount, uptimeSeconds: uptime(now))
            return .metrics(MetricsReply(metrics: channels.metrics.exposition()))
        }
    }

    private func uptime(_ now: UInt64) -> Double { Double(now &- startedAt) / 1e9 }

    private func counters() -> Counters {
        let c = engine.counters
        var errors: [String: UInt64] = [:]
        for (code, count) in wireErrors { errors[code.rawValue] = count }
        return Counters(rowsReceived: c.rowsReceived, rowsApplied: c.rowsApplied, duplicates: c.duplicates,
                        errors: errors, predictionsPublished: predictionsPublished,
                        streamsStarted: c.streamsStarted, streamsRestarted: c.streamsRestarted,
                        streamsFinished: c.streamsFinished, streamsEvicted: c.streamsEvicted,
                        streamsDropped: c.streamsDropped + c.streamsEnded + (c.errors[.gap] ?? 0))
    }

    private func status(_ now: UInt64) -> StatusReply {
        StatusReply(
            version: LSTMDVersion.current, uptimeSeconds: uptime(now), publication: configuration.publish,
            model: info(current), previousModels: previousModels(), counters: counters(),
            liveStreams: engine.liveStreamCount, maxStreams: configuration.maxStreams,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds)
    }

    private func info(_ loaded: LoadedModel) -> ModelInfo {
        let model = loaded.model
        let shape = model.shape
        let live = engine.modelsInService.first { $0.model === model }?.liveStreams ?? 0
        return ModelInfo(
            path: loaded.isDefault ? nil : loaded.path, sha256: model.sha256,
            shape: ModelShapeInfo(inputSize: shape.inputSize, hiddenSize: shape.hiddenSize,
                                  layers: shape.layers, classes: shape.classes),
            sequenceLength: model.metadata.sequenceLength, inputScale: model.metadata.inputScale,
            labels: model.metadata.labels, loadedAt: ISO8601DateFormatter().string(from: loaded.loadedAt),
            liveStreams: live)
    }

    /// Drops the bookkeeping of models the engine has released (their last stream ended), so that
    /// reloads do not accumulate models in memory.
    private func forgetUnusedModels() {
        guard models.count > 1 else { return }
        let inService = Set(engine.modelsInService.map(\.model.sha256))
        models = models.filter { inService.contains($0.key) }
    }

    private func previousModels() -> [ModelInfo] {
        engine.modelsInService.filter { !$0.isCurrent }.compactMap { models[$0.model.sha256] }.map(info)
    }

    // MARK: Stopping

    /// The graceful stop: take the rows already received, apply every queued row and publish its
    /// prediction, then save the live streams (or tell their clients they are gone), within the
    /// drain timeout.
    private func finish() throws {
        let deadline = monotonicNanoseconds() + UInt64(configuration.drainTimeoutSeconds * 1e9)
        try readIngest()
        try readResults()
        while engine.hasQueuedRows && monotonicNanoseconds() < deadline {
            stepAndPublish()
        }
        let live = engine.liveStreams(now: monotonicNanoseconds())
        var saved = Set<String>()
        if let snapshots {
            let snapshot = engine.snapshot()
            if snapshots.save(snapshot) { saved = Set(snapshot.streams.map(\.id)) }
        }
        for stream in live where !saved.contains(stream.id) {
            endedByDaemon(stream.id, .shuttingDown, "the daemon stopped without saving this stream; restart it with row 0",
                          nextRow: stream.nextRow)
        }
        logger.notice("stopped", metadata: [
            "live_streams": "\(live.count)", "saved": "\(saved.count)",
            "queued_rows_left": "\(engine.hasQueuedRows ? "yes (drain timeout)" : "0")",
        ])
    }
}

extension StreamError {
    /// The protocol error code for this engine error.
    var wireCode: ErrorCode { code.wireCode }
}

extension StreamError.Code {
    var wireCode: ErrorCode {
        switch self {
        case .badRowSize: .badRowSize
        case .nonFiniteInput: .nonFiniteInput
        case .notStarted: .notStarted
        case .gap: .gap
        case .rowOutOfRange: .rowOutOfRange
        case .capacity: .capacity
        case .evicted: .evicted
        case .unknownStream: .unknownStream
        case .incompatibleModel: .reloadFailed
        }
    }
}

/// What the loop needs of a decoded ingest message, whether its row still lives in the received
/// frame (`IngestView`) or was copied while a ROUTER peer was blocked (`IngestMessage`).
protocol DecodedIngest {
    var streamID: StreamID { get }
    var header: IngestHeader { get }
    func decodeRow(inputSize: Int, inputScale: Float, into output: UnsafeMutableBufferPointer<Float>) throws(WireError)
}

extension IngestView: DecodedIngest {}
extension IngestMessage: DecodedIngest {}
