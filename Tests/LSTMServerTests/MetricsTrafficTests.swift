import DaemonTestSupport
import Foundation
import LSTMCore
import LSTMServer
import TestSupport
import Testing
import WireProtocol

extension DaemonProcess {
    /// The daemon's `metrics` reply, read.
    func metrics() throws -> Exposition {
        guard case let .metrics(reply) = try request(.metrics) else { throw HarnessError("metrics reply expected") }
        return try Exposition(reply.metrics)
    }
}

/// The metrics of a real daemon under traffic (Protocols/control-protocol.md §4.6).
@Suite(.serialized) struct MetricsTrafficTests {
    @Test func histogramsMoveWithTrafficAndCountWhatTheCountersCount() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--max-batch", "4"], directory: directory)
        let client = try TestClient(daemon, pushSockets: 2)
        let before = try daemon.metrics()
        #expect(before["lstmd_queue_time_seconds_count"] == 0 && before["lstmd_publish_latency_seconds_count"] == 0)

        let digits = try fixtureDigits(20)
        let concurrent = 10
        var answers = 0
        for wave in stride(from: 0, to: digits.count, by: concurrent) {
            for r in 0..<28 {
                for k in 0..<concurrent {
                    try client.send(try row(r, of: "metrics-\(wave + k)", pixels: digits.image(at: wave + k)), via: k % 2)
                }
                while let message = try client.receive(timeoutMilliseconds: 0) {
                    if message.topic.hasPrefix("metrics-") { answers += 1 }
                }
            }
        }
        answers += try client.collect { all in answers + all.count >= 20 * 28 }.filter { $0.topic.hasPrefix("metrics-") }.count
        #expect(answers == 20 * 28)

        let e = try daemon.metrics()
        let applied = try #require(e["lstmd_rows_applied_total"])
        let published = try #require(e["lstmd_predictions_published_total"])
        #expect(applied == 20 * 28 && published == 20 * 28)
        // One queue time per row applied, one publish latency per prediction published.
        #expect(e["lstmd_queue_time_seconds_count"] == applied)
        #expect(e[#"lstmd_queue_time_seconds_bucket{le="+Inf"}"#] == applied)
        #expect(e["lstmd_publish_latency_seconds_count"] == published)
        // Steps: as many durations as batch sizes, whose sum is the rows; none above --max-batch 4.
        let steps = try #require(e["lstmd_batch_size_count"])
        #expect(steps >= applied / 4 && e["lstmd_step_duration_seconds_count"] == steps)
        #expect(e["lstmd_batch_size_sum"] == applied)
        #expect(e[#"lstmd_batch_size_bucket{le="4.0"}"#] == steps)
        // A prediction leaves after its row's step started: its latency is at least its queue time.
        let queued = try #require(e["lstmd_queue_time_seconds_sum"])
        let latency = try #require(e["lstmd_publish_latency_seconds_sum"])
        let stepping = try #require(e["lstmd_step_duration_seconds_sum"])
        #expect(latency > 0 && latency >= queued && stepping > 0)
        // Nothing waits now; the model the streams ran on has none live.
        #expect(e["lstmd_pending_rows"] == 0)
        #expect(e.series("lstmd_model_live_streams") == [
            "lstmd_model_live_streams{model=\"\(ServerMetrics.modelLabel(sha256: model.sha256))\"}": 0,
        ])

        // Every family of the daemon, with its help and type, in a real reply (the subscription
        // probe's END was answered `unknown_stream`: the error family has a series).
        for family in MetricFamily.all {
            #expect(e.types[family.name] == family.kind.rawValue && e.helps[family.name] == family.help, "\(family.name)")
        }
        #expect(daemon.stop() == 0)
    }

    @Test func afterAReloadEachModelHasItsLiveStreamsUntilTheOldOnesLastStreamEnds() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (first, path) = try writeTestModel(in: directory, seed: 1)
        let (second, _) = try writeTestModel(in: directory, seed: 2)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let client = try TestClient(daemon)
        let pixels = try fixtureDigits(1).image(at: 0)
        func label(_ model: LSTMModel) -> String { "lstmd_model_live_streams{model=\"\(ServerMetrics.modelLabel(sha256: model.sha256))\"}" }

        for r in 0..<3 {
            try client.send(try row(r, of: "on-first", pixels: pixels))
            _ = try client.next(on: "on-first")
        }
        guard case .reload = try daemon.request(.reload(model: "model-2.safetensors")) else {
            Issue.record("reload refused"); return
        }
        for stream in ["on-second-a", "on-second-b"] {
            try client.send(try row(0, of: stream, pixels: pixels))
            _ = try client.next(on: stream)
        }
        var e = try daemon.metrics()
        #expect(e.series("lstmd_model_live_streams") == [label(first): 1, label(second): 2])
        #expect(e["lstmd_live_streams"] == 3)
        #expect(e.series("lstmd_model_info").keys.allSatisfy { $0.contains("model=\"\(ServerMetrics.modelLabel(sha256: second.sha256))\"") })
        #expect(e.series("lstmd_model_info").count == 1)

        for r in 3..<28 {
            try client.send(try row(r, of: "on-first", pixels: pixels, last: r == 27))
            _ = try client.next(on: "on-first")
        }
        e = try daemon.metrics()
        #expect(e.series("lstmd_model_live_streams") == [label(second): 2])
        #expect(daemon.stop() == 0)
    }
}
