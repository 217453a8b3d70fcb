import DaemonTestSupport
import Foundation
import Logging
import LSTMCore
@testable import LSTMServer
import LSTMStreaming
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// The control service answered in process: a real engine, real model files, a real PUB socket
/// (inproc) for the ERRORs a drop publishes; no daemon process.
final class ControlHarness {
    let directory: URL
    let engine: StreamEngine
    let registry: ModelRegistry
    let output: PredictionOutput
    let service: ControlService
    let context: ZMQContext
    let publisher: ZMQSocket
    let subscriber: ZMQSocket
    let modelPath: String
    let model: LSTMModel
    private var now: UInt64 = 1_000_000_000

    init(model: LSTMModel, configuration: DaemonConfiguration = DaemonConfiguration()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("control-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        modelPath = directory.appendingPathComponent("model.safetensors").path
        try model.write(to: URL(fileURLWithPath: modelPath))
        let loaded = try LoadedModel(path: modelPath, isDefault: false)
        self.model = loaded.model
        let logger = Logger(label: "control-test", factory: { _ in SwiftLogNoOpLogHandler() })
        let channels = StatusChannels(metrics: ServerMetrics(), notifier: SystemdNotifier(environment: [:]),
                                      readiness: Readiness(), logger: logger)
        engine = StreamEngine(model: loaded.model, origin: loaded.origin, configuration: EngineConfiguration(maxBatch: 8))
        registry = ModelRegistry(engine: engine, configured: loaded, modelDirectory: directory.path, channels: channels, logger: logger)
        context = try ZMQContext()
        let endpoint = "inproc://control-\(UUID().uuidString)"
        publisher = try ZMQSocket(context, type: .pub)
        try publisher.set(.linger, .zero)
        try publisher.bind(endpoint)
        subscriber = try ZMQSocket(context, type: .sub)
        try subscriber.set(.linger, .zero)
        try subscriber.set(.receiveTimeout, .milliseconds(2000))
        try subscriber.subscribe()
        try subscriber.connect(endpoint)   // inproc: the subscription is in place once connect returns
        let counters = DaemonCounters()
        output = PredictionOutput(publisher: publisher, results: nil, mode: .partial, counters: counters, logger: logger)
        service = ControlService(engine: engine, registry: registry, output: output, counters: counters,
                                 channels: channels, configuration: configuration, logger: logger, startedAt: 0)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The reply to `request` from a peer of a daemon without CURVE, unless `requester` says otherwise.
    func ask(_ request: ControlRequest, from requester: ControlRequester = .unauthenticated) -> ControlReply {
        now += 1_000_000
        return service.answer(request, from: requester, now: now)
    }

    /// Feeds rows (floats) of sequence `sequence` (nil: unnumbered) to a stream and steps,
    /// publishing through the output.
    func feed(_ stream: String, rows: Range<Int>, width: Int, sequence: UInt32? = nil) throws {
        for index in rows {
            let values = [Float](repeating: Float(index) / 10, count: width)
            try values.withUnsafeBufferPointer { (buffer) throws(StreamError) in
                _ = try engine.submitRow(stream: try! StreamID(stream), index: index, sequence: sequence, row: .floats(buffer),
                                         isLast: false, now: now)
            }
            while engine.hasQueuedRows { engine.step(now: now, output.publish) }
        }
    }

    /// The next message on PUB: topic, header and body.
    func published() throws -> PredictionMessage? {
        guard let frames = try subscriber.receiveMultipart() else { return nil }
        return try PredictionMessage(frames: frames)
    }

    func writeModel(_ model: LSTMModel, named name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try model.write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite struct ControlServiceTests {
    @Test func statusReportsTheModelTheStreamsAndTheCounters() throws {
        let harness = try ControlHarness(model: try makeRandomModel(sequenceLength: 7))
        try harness.feed("a", rows: 0..<3, width: 6)
        try harness.feed("b", rows: 0..<7, width: 6)   // finishes
        guard case let .status(status) = harness.ask(.status) else { Issue.record("no status reply"); return }
        #expect(status.model.sha256 == harness.model.sha256)
        #expect(status.model.path == harness.modelPath)
        #expect(status.model.liveStreams == 1)
        #expect(status.previousModels.isEmpty)
        #expect(status.liveStreams == 1)
        #expect(status.counters[.rowsApplied] == 10)
        #expect(status.counters[.predictionsPublished] == 10)
        #expect(status.counters[.streamsStarted] == 2)
        #expect(status.counters[.streamsFinished] == 1)
        guard case let .streams(streams) = harness.ask(.streams()) else { Issue.record("no streams reply"); return }
        #expect(streams.streams.map(\.id.string) == ["a"])
        #expect(streams.streams.first?.nextRow == 3)
    }

    @Test func streamsComeAPageAtATimeUntilTheCursorIsZero() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        for s in 0..<25 { try harness.feed("p\(s)", rows: 0..<2, width: 6) }
        var ids: [String] = [], page = StreamsPage(limit: 10), replies = 0
        repeat {
            guard case let .streams(reply) = harness.ask(.streams(page)) else { Issue.record("no streams reply"); return }
            #expect(reply.streams.count <= 10)
            ids += reply.streams.map(\.id.string)
            page.cursor = reply.cursor
            replies += 1
        } while page.cursor != 0 && replies < 10
        #expect(replies == 3)
        #expect(ids.sorted() == (0..<25).map { "p\($0)" }.sorted())
    }

    @Test func streamsCarryEachStreamsSequenceNumber() throws {
        let harness = try ControlHarness(model: try makeRandomModel(sequenceLength: 7))
        try harness.feed("numbered", rows: 0..<2, width: 6, sequence: 31)
        try harness.feed("v1", rows: 0..<3, width: 6)
        let reply = harness.ask(.streams())
        guard case let .streams(streams) = reply else { Issue.record("no streams reply"); return }
        #expect(streams.streams.map(\.sequence) == [31, nil])
        #expect(streams.streams.map(\.nextRow) == [2, 3])
        // A restarted stream reports its new sequence, the one its next rows must carry.
        try harness.feed("numbered", rows: 0..<1, width: 6, sequence: 32)
        guard case let .streams(restarted) = harness.ask(.streams()) else { return }
        #expect(restarted.streams.first?.sequence == 32)
        // In JSON: a number, and no member at all for the version 1 stream.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.jsonBytes)) as? [String: Any])
        let listed = try #require(json["streams"] as? [[String: Any]])
        #expect(listed.map { $0["sequence"] as? Int } == [31, nil] && listed[1].keys.contains("sequence") == false)
    }

    @Test func dropEndsTheStreamAndTellsItsClients() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        try harness.feed("a", rows: 0..<3, width: 6)
        for _ in 0..<3 { _ = try harness.published() }
        let id = try StreamID("a")
        #expect(harness.ask(.drop(stream: id)) == .drop(DropReply(stream: id, nextRow: 3)))
        #expect(harness.engine.liveStreamCount == 0)
        let error = try #require(try harness.published())
        #expect(error.topic == .stream(id))
        #expect(error.header.kind == .error && error.header.row == 3)
        #expect(error.body == .error(ErrorBody(code: "dropped", message: "dropped by the operator's drop command")))
        guard case let .failure(failure) = harness.ask(.drop(stream: id)) else { Issue.record("dropped twice"); return }
        #expect(failure.code == "unknown_stream")
        guard case let .status(status) = harness.ask(.status) else { return }
        #expect(status.counters[.streamsDropped] == 1)
        #expect(status.counters.errors == ["dropped": 1])
        #expect(status.counters[.predictionsPublished] == 3, "an ERROR is not a prediction")
    }

    @Test func reloadAddsAGenerationOnlyForANewModel() throws {
        let harness = try ControlHarness(model: try makeRandomModel(seed: 1))
        try harness.feed("old", rows: 0..<2, width: 6)
        // The same file again, and a copy of it elsewhere: same SHA-256, nothing changes.
        let copy = try harness.writeModel(harness.model, named: "copy.safetensors")
        for path in [nil, copy] {
            guard case let .reload(reply) = harness.ask(.reload(model: path)) else { Issue.record("reload failed"); return }
            #expect(reply.model.sha256 == harness.model.sha256)
            #expect(reply.model.path == harness.modelPath, "the model in service is unchanged")
            #expect(reply.previousModels.isEmpty)
            #expect(harness.engine.generations.count == 1)
        }
        let other = try harness.writeModel(try makeRandomModel(seed: 2), named: "other.safetensors")
        guard case let .reload(reply) = harness.ask(.reload(model: other)) else { Issue.record("reload failed"); return }
        #expect(reply.model.path == other && reply.model.liveStreams == 0)
        #expect(reply.previousModels.map(\.sha256) == [harness.model.sha256])
        #expect(reply.previousModels.first?.liveStreams == 1)
        // The old generation is freed with its last stream.
        #expect(harness.engine.dropStream(try StreamID("old"))?.nextRow == 2)
        #expect(harness.engine.generations.count == 1)
        guard case let .status(status) = harness.ask(.status) else { return }
        #expect(status.previousModels.isEmpty && status.model.path == other)
    }

    /// Issue 13: reloads back and forth between two files, each with a live stream, keep one
    /// generation per model (200 rounds used to leave 118 previous models and 83 MB more RSS).
    @Test func reloadingBackToAPreviousModelReusesItsGeneration() throws {
        let harness = try ControlHarness(model: try makeRandomModel(seed: 1))
        let other = try harness.writeModel(try makeRandomModel(seed: 2), named: "other.safetensors")
        let otherSHA256 = try LSTMModel.load(contentsOf: URL(fileURLWithPath: other)).sha256
        try harness.feed("a-1", rows: 0..<2, width: 6, sequence: 1)
        guard case .reload = harness.ask(.reload(model: other)) else { Issue.record("reload failed"); return }
        try harness.feed("b-1", rows: 0..<2, width: 6, sequence: 1)
        guard case let .reload(back) = harness.ask(.reload(model: harness.modelPath)) else { Issue.record("reload failed"); return }
        #expect(back.model.sha256 == harness.model.sha256 && back.model.liveStreams == 1)
        #expect(back.previousModels.map(\.sha256) == [otherSHA256])
        try harness.feed("a-2", rows: 0..<2, width: 6, sequence: 1)
        guard case let .status(status) = harness.ask(.status) else { Issue.record("status failed"); return }
        #expect(status.model.liveStreams == 2, "a-1 and a-2 share the model's one generation")
        #expect(status.previousModels.map(\.liveStreams) == [1])
        for round in 0..<40 {
            guard case .reload = harness.ask(.reload(model: round.isMultiple(of: 2) ? other : nil)) else {
                Issue.record("reload \(round) failed")
                return
            }
            try harness.feed("round-\(round)", rows: 0..<1, width: 6, sequence: 1)
        }
        #expect(harness.engine.generations.count == 2)
        guard case let .status(after) = harness.ask(.status) else { Issue.record("status failed"); return }
        #expect(after.model.sha256 == harness.model.sha256 && after.model.liveStreams == 22)
        #expect(after.previousModels.map(\.liveStreams) == [21])
    }

    @Test func aBadReloadKeepsTheCurrentModel() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        let garbage = harness.directory.appendingPathComponent("garbage.safetensors")
        try Data([1, 2, 3]).write(to: garbage)
        for path in [garbage.path, harness.directory.appendingPathComponent("missing").path] {
            guard case let .failure(failure) = harness.ask(.reload(model: path)) else { Issue.record("accepted \(path)"); return }
            #expect(failure.code == "reload_failed")
            #expect(failure.message.contains(path))
        }
        let wider = try harness.writeModel(try makeRandomModel(inputSize: 9), named: "wider.safetensors")
        guard case let .failure(failure) = harness.ask(.reload(model: wider)) else { Issue.record("accepted input size 9"); return }
        #expect(failure.code == "reload_failed" && failure.message.contains("input size 9"))
        #expect(harness.engine.generations.map(\.model.sha256) == [harness.model.sha256])
    }

    @Test func underCurveOnlyAnAdminReloadsOrDrops() throws {
        let harness = try ControlHarness(model: try makeRandomModel(seed: 1))
        try harness.feed("kept", rows: 0..<2, width: 6)
        let other = try harness.writeModel(try makeRandomModel(seed: 2), named: "other.safetensors")
        let id = try StreamID("kept")
        for requester: ControlRequester in [.curve(.client), .curve(nil)] {
            for request: ControlRequest in [.reload(model: other), .reload(model: nil), .drop(stream: id)] {
                guard case let .failure(failure) = harness.ask(request, from: requester) else {
                    Issue.record("\(request.command) from \(requester) was not refused"); continue
                }
                #expect(failure.code == "forbidden" && failure.message.contains("admin"), "\(failure.message)")
            }
            // What changes nothing stays open to every admitted key.
            guard case .status = harness.ask(.status, from: requester) else { Issue.record("status from \(requester)"); continue }
        }
        #expect(harness.engine.generations.count == 1 && harness.engine.liveStreamCount == 1, "nothing changed")
        guard case .reload = harness.ask(.reload(model: other), from: .curve(.admin)) else { Issue.record("admin reload"); return }
        #expect(harness.ask(.drop(stream: id), from: .curve(.admin)) == .drop(DropReply(stream: id, nextRow: 2)))
        #expect(harness.engine.generations.count == 1 && harness.engine.liveStreamCount == 0)
    }

    @Test func reloadLoadsOnlyFromTheModelDirectory() throws {
        let harness = try ControlHarness(model: try makeRandomModel(seed: 1))
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString).safetensors")
        try makeRandomModel(seed: 2).write(to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        for path in [outside.path, "../\(outside.lastPathComponent)"] {
            guard case let .failure(failure) = harness.ask(.reload(model: path)) else { Issue.record("loaded \(path)"); continue }
            #expect(failure.code == "reload_failed" && failure.message.contains("refused"), "\(failure.message)")
        }
        #expect(harness.engine.generations.map(\.model.sha256) == [harness.model.sha256])
        let insidePath = try harness.writeModel(try makeRandomModel(seed: 3), named: "inside.safetensors")
        let inside = try LSTMModel.load(contentsOf: URL(fileURLWithPath: insidePath))
        guard case let .reload(reply) = harness.ask(.reload(model: "inside.safetensors")) else {
            Issue.record("a name inside the model directory loads"); return
        }
        #expect(reply.model.path?.hasSuffix("/inside.safetensors") == true)
        #expect(harness.engine.generations.map(\.model.sha256) == [inside.sha256])
    }

    @Test func metricsAreTheStatusCounters() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        try harness.feed("m", rows: 0..<4, width: 6)
        guard case let .metrics(reply) = harness.ask(.metrics) else { Issue.record("no metrics reply"); return }
        guard case let .status(status) = harness.ask(.status) else { return }
        for total in Counters.Total.allCases {
            #expect(reply.metrics.contains("\(MetricFamily.total(total).name) \(status.counters[total])\n"), "\(total)")
        }
        #expect(reply.metrics.contains("lstmd_live_streams 1"))
    }

    @Test func pendingRowsAreTheRowsQueuedAndNotYetStepped() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        func pending() throws -> Double? {
            guard case let .metrics(reply) = harness.ask(.metrics) else { return nil }
            return try Exposition(reply.metrics)["lstmd_pending_rows"]
        }
        let row = [Float](repeating: 0.25, count: 6)
        for stream in ["a", "b", "c"] {
            try row.withUnsafeBufferPointer { (values) throws(StreamError) in
                _ = try harness.engine.submitRow(stream: try! StreamID(stream), index: 0, row: .floats(values), isLast: false)
            }
        }
        try row.withUnsafeBufferPointer { (values) throws(StreamError) in
            _ = try harness.engine.submitRow(stream: try! StreamID("a"), index: 1, row: .floats(values), isLast: false)
        }
        #expect(try pending() == 4)
        harness.engine.step(harness.output.publish)   // one row of each of a, b, c
        #expect(try pending() == 1)
        harness.engine.drain(harness.output.publish)
        #expect(try pending() == 0)
    }

    @Test func malformedRequestsGetSpecificErrors() throws {
        let harness = try ControlHarness(model: try makeRandomModel())
        let cases: [([[UInt8]], String)] = [
            ([Array("{\"command\":\"status\"}".utf8), []], "bad_request"),
            ([Array("not json".utf8)], "bad_request"),
            ([Array("{\"command\":\"fly\"}".utf8)], "unknown_command"),
            ([Array("{\"command\":\"drop\"}".utf8)], "bad_request"),
            ([Array("{\"command\":\"drop\",\"stream\":\"$x\"}".utf8)], "bad_request"),
        ]
        for (frames, code) in cases {
            guard case let .failure(failure) = harness.service.reply(to: frames, from: .unauthenticated, now: 1) else {
                Issue.record("accepted \(frames)"); continue
            }
            #expect(failure.code == code, "\(frames.map { String(decoding: $0, as: UTF8.self) })")
        }
        #expect(harness.service.reply(to: [Array("{\"command\":\"ping\"}".utf8)], from: .unauthenticated, now: 2_000_000_000)
                == .ping(PingReply(uptimeSeconds: 2)))
    }
}
