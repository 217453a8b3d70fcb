import Logging
import LSTMDRelease
import LSTMStreaming
import WireProtocol

/// Answers the control protocol (LCP/1): one `ControlRequest` and who sent it in, one `ControlReply`
/// out; commands that change the daemon need an admin under CURVE (`ControlAccess`). Owns no
/// socket, so it is tested in process; the serving loop reads the REP socket, tells who the peer is,
/// and sends the reply.
final class ControlService {
    /// The largest request answered; larger ones get `bad_request` (control-protocol.md §1).
    static let maxRequestBytes = 64 << 10
    /// libzmq's limit on a control message: one beyond it closes its connection unread, so this is
    /// far above `maxRequestBytes`, for every request of plausible size to get its `bad_request`.
    static let transportLimitBytes = 16 << 20
    private let engine: StreamEngine
    private let registry: ModelRegistry
    private let output: PredictionOutput
    private let counters: DaemonCounters
    private let channels: StatusChannels
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let startedAt: UInt64

    init(engine: StreamEngine, registry: ModelRegistry, output: PredictionOutput, counters: DaemonCounters,
         channels: StatusChannels, configuration: DaemonConfiguration, logger: Logger, startedAt: UInt64) {
        self.engine = engine
        self.registry = registry
        self.output = output
        self.counters = counters
        self.channels = channels
        self.configuration = configuration
        self.logger = logger
        self.startedAt = startedAt
    }

    /// The reply to a request message as received (it must be one frame of JSON) from `requester`.
    func reply(to frames: [[UInt8]], from requester: ControlRequester, now: UInt64) -> ControlReply {
        guard frames.count == 1 else {
            return ControlReply(WireError(.badRequest, "a control request is one frame of JSON; got \(frames.count) frames"))
        }
        guard frames[0].count <= Self.maxRequestBytes else {
            return ControlReply(WireError(.badRequest, "a control request is at most \(Self.maxRequestBytes) bytes; got \(frames[0].count)"))
        }
        do {
            return answer(try ControlRequest(jsonBytes: frames[0]), from: requester, now: now)
        } catch {
            return ControlReply(error)
        }
    }

    /// The reply to a request from `requester`: its result, or the failure it met (`forbidden`
    /// when the requester may not use the command).
    func answer(_ request: ControlRequest, from requester: ControlRequester, now: UInt64) -> ControlReply {
        logger.debug("control request", metadata: ["command": "\(request.command)", "role": "\(requester)"])
        do throws(WireError) {
            if let refusal = ControlAccess.refusal(of: request, by: requester) { throw refusal }
            return try result(of: request, now: now)
        } catch {
            return ControlReply(error)
        }
    }

    private func result(of request: ControlRequest, now: UInt64) throws(WireError) -> ControlReply {
        switch request {
        case .ping:
            return .ping(PingReply(uptimeSeconds: uptime(now)))
        case .status:
            return .status(status(now: now))
        case let .streams(page):
            let (streams, next) = engine.liveStreams(cursor: Int(clamping: page.cursor), limit: page.limit, now: now)
            return .streams(StreamsReply(streams: streams.map { summary in
                StreamInfo(id: summary.id, nextRow: UInt32(clamping: summary.nextRow), sequence: summary.sequence,
                           model: summary.modelSHA256, idleSeconds: summary.idleSeconds)
            }, cursor: next.map { UInt64($0) } ?? 0))
        case let .drop(stream):
            guard let dropped = engine.dropStream(stream) else {
                throw WireError(.unknownStream, "no live stream has the id \"\(stream.string)\"", streamID: stream)
            }
            logger.info("dropped by operator", metadata: ["stream": "\(stream.string)", "code": "dropped"])
            output.endedByDaemon(stream, .dropped, "dropped by the operator's drop command", nextRow: dropped.nextRow, sequence: dropped.sequence)
            return .drop(DropReply(stream: stream, nextRow: UInt32(clamping: dropped.nextRow)))
        case let .reload(path):
            try registry.reload(path)
            return .reload(ReloadReply(model: ModelRegistry.info(registry.current),
                                       previousModels: registry.previous.map(ModelRegistry.info)))
        case .metrics:
            updateMetrics(now: now)
            return .metrics(MetricsReply(metrics: channels.metrics.exposition()))
        }
    }

    /// Everything the daemon and its engine have counted.
    var totals: Counters { counters.total(with: engine) }

    func status(now: UInt64) -> StatusReply {
        StatusReply(
            version: LSTMDVersion.current, uptimeSeconds: uptime(now), publication: configuration.publish,
            model: ModelRegistry.info(registry.current), previousModels: registry.previous.map(ModelRegistry.info),
            counters: totals, liveStreams: engine.liveStreamCount, maxStreams: configuration.maxStreams,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds)
    }

    /// Copies the totals, the gauges (live streams, per model too, and rows pending) and the
    /// loop's histograms into the Prometheus metrics.
    func updateMetrics(now: UInt64) {
        channels.metrics.update(ServingFigures(
            counters: totals, liveStreams: engine.liveStreamCount,
            modelLiveStreams: Dictionary(engine.generations.map { ($0.model.sha256, $0.liveStreams) }, uniquingKeysWith: +),
            pendingRows: engine.queuedRowCount, uptimeSeconds: uptime(now), histograms: counters.histograms.counts))
    }

    func uptime(_ now: UInt64) -> Double { Double(now &- startedAt) / 1e9 }
}
