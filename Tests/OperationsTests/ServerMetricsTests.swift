import Foundation
import Glibc
import Logging
import LSTMServer
import Testing
import DaemonTestSupport
import WireProtocol

/// The metric table of Protocols/control-protocol.md §4.6: each family's name and type.
enum SpecText {
    static func metricTypes() throws -> [String: String] {
        let text = try String(contentsOfFile: Repository.path("Protocols/control-protocol.md"), encoding: .utf8)
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `lstmd_") || line.hasPrefix("| `process_") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            types[String(cells[0].dropFirst().prefix { $0 != "`" && $0 != "{" })] = cells[1]
        }
        return types
    }
}

/// Figures with something in every family: two models, an error code, rows pending, steps.
func busyFigures() -> ServingFigures {
    let histograms = ServingHistograms()
    histograms.recordStep(rows: 3, start: 0, end: 40_000)
    for waited: UInt64 in [500, 2_000, 3_000] { histograms.queueTime.record(waited) }
    for latency: UInt64 in [30_000, 41_000, 42_000] { histograms.publishLatency.record(latency) }
    return ServingFigures(
        counters: Counters([.rowsReceived: 7, .rowsApplied: 3, .predictionsPublished: 3, .streamsStarted: 3], errors: ["gap": 1]),
        liveStreams: 3, modelLiveStreams: [String(repeating: "a", count: 64): 2, String(repeating: "b", count: 64): 1],
        pendingRows: 3, uptimeSeconds: 2, histograms: histograms.counts)
}

@Suite struct ServerMetricsTests {
    @Test func everyDocumentedFamilyIsExposedWithHelpAndItsType() throws {
        let metrics = ServerMetrics()
        metrics.setModel(sha256: String(repeating: "a", count: 64), hiddenUnits: 128, layers: 1)
        metrics.update(busyFigures())
        let exposition = try Exposition(metrics.exposition())
        let documented = try SpecText.metricTypes()
        // The spec's table and the daemon's catalogue name the same families with the same types.
        #expect(documented == Dictionary(uniqueKeysWithValues: MetricFamily.all.map { ($0.name, $0.kind.rawValue) }))
        for (name, type) in documented {
            #expect(exposition.types[name] == type, "# TYPE of \(name)")
            #expect((exposition.helps[name] ?? "").count > 10, "# HELP of \(name)")
            #expect(!exposition.samples.keys.filter { $0 == name || $0.hasPrefix(name + "{") || $0.hasPrefix(name + "_") }.isEmpty,
                    "a sample of \(name)")
        }
        #expect(Set(exposition.types.keys) == Set(documented.keys), "no family beyond the documented ones")
        #expect(exposition.helps[MetricFamily.total(.rowsApplied).name] == Counters.Total.rowsApplied.meaning)
    }

    @Test func beforeAnyTrafficTheCountersAreZeroAndNoErrorSeriesExists() throws {
        let exposition = try Exposition(ServerMetrics().exposition())
        for total in Counters.Total.allCases {
            #expect(exposition[MetricFamily.total(total).name] == 0, "\(total)")
        }
        #expect(exposition["lstmd_live_streams"] == 0 && exposition["lstmd_pending_rows"] == 0)
        #expect(exposition["lstmd_queue_time_seconds_count"] == 0)
        #expect(exposition.types["lstmd_errors_total"] == nil)
        #expect(exposition.samples.keys.allSatisfy { $0.hasPrefix("lstmd_") || $0.hasPrefix("process_") })
    }

    @Test func countersFollowTheTotalsAndNeverGoBack() throws {
        let metrics = ServerMetrics()
        metrics.update(ServingFigures(
            counters: Counters([.rowsReceived: 30, .rowsApplied: 28, .duplicates: 1, .predictionsPublished: 28, .streamsStarted: 2, .streamsRestarted: 1, .streamsFinished: 1, .streamsEvicted: 0, .streamsDropped: 1], errors: ["gap": 1]),
            liveStreams: 1, pendingRows: 2, uptimeSeconds: 2.5))
        var e = try Exposition(metrics.exposition())
        #expect(e["lstmd_rows_received_total"] == 30)
        #expect(e["lstmd_rows_applied_total"] == 28)
        #expect(e["lstmd_duplicates_total"] == 1)
        #expect(e["lstmd_predictions_published_total"] == 28)
        #expect(e["lstmd_streams_started_total"] == 2)
        #expect(e["lstmd_streams_restarted_total"] == 1)
        #expect(e["lstmd_streams_finished_total"] == 1)
        #expect(e["lstmd_streams_evicted_total"] == 0)
        #expect(e["lstmd_streams_dropped_total"] == 1)
        #expect(e[#"lstmd_errors_total{code="gap"}"#] == 1)
        #expect(e.types["lstmd_errors_total"] == "counter")
        #expect(e["lstmd_live_streams"] == 1)
        #expect(e["lstmd_pending_rows"] == 2)
        #expect(e["lstmd_uptime_seconds"] == 2.5)

        // Later totals: deltas are added; a code that disappears from the totals keeps its count; a
        // total that went backwards is ignored.
        metrics.update(ServingFigures(counters: Counters([.rowsReceived: 100, .rowsApplied: 20, .predictionsPublished: 90], errors: ["capacity": 4]),
                                      liveStreams: 7, uptimeSeconds: 3.5))
        e = try Exposition(metrics.exposition())
        #expect(e["lstmd_rows_received_total"] == 100)
        #expect(e["lstmd_rows_applied_total"] == 28)
        #expect(e["lstmd_predictions_published_total"] == 90)
        #expect(e[#"lstmd_errors_total{code="gap"}"#] == 1)
        #expect(e[#"lstmd_errors_total{code="capacity"}"#] == 4)
        #expect(e["lstmd_live_streams"] == 7)
        #expect(e["lstmd_pending_rows"] == 0)

        metrics.update(ServingFigures(counters: Counters([.rowsReceived: 101, .rowsApplied: 29, .predictionsPublished: 91], errors: ["capacity": 4, "gap": 3]),
                                      uptimeSeconds: 4))
        e = try Exposition(metrics.exposition())
        #expect(e["lstmd_rows_received_total"] == 101)
        #expect(e["lstmd_rows_applied_total"] == 29)
        #expect(e[#"lstmd_errors_total{code="gap"}"#] == 3)
        #expect(e[#"lstmd_errors_total{code="capacity"}"#] == 4)
    }

    @Test func theLoopsHistogramsAreWrittenCumulativeWithSumAndCount() throws {
        let histograms = ServingHistograms()
        histograms.recordStep(rows: 1, start: 0, end: 8_000)                  // 8 µs
        histograms.recordStep(rows: 3, start: 1_000, end: 301_000)            // 300 µs
        histograms.recordStep(rows: 256, start: 0, end: 2_000_000)            // 2 ms
        histograms.recordStep(rows: 5000, start: 0, end: 30_000_000_000)      // 30 s: beyond every bound
        for waited: UInt64 in [0, 1_000, 1_001, 7_000_000] { histograms.queueTime.record(waited) }
        let metrics = ServerMetrics()
        metrics.update(ServingFigures(histograms: histograms.counts))
        let e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_batch_size_bucket{le="1.0"}"#] == 1)
        #expect(e[#"lstmd_batch_size_bucket{le="2.0"}"#] == 1)
        #expect(e[#"lstmd_batch_size_bucket{le="4.0"}"#] == 2)
        #expect(e[#"lstmd_batch_size_bucket{le="256.0"}"#] == 3)
        #expect(e[#"lstmd_batch_size_bucket{le="1024.0"}"#] == 3)
        #expect(e[#"lstmd_batch_size_bucket{le="+Inf"}"#] == 4)
        #expect(e["lstmd_batch_size_count"] == 4)
        #expect(e["lstmd_batch_size_sum"] == 5260)
        #expect(e.samples.keys.filter { $0.hasPrefix("lstmd_batch_size_bucket") }.count == 12)   // 1, 2, …, 1024, +Inf

        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.000001"}"#] == 0)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.00001"}"#] == 1)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.0005"}"#] == 2)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.0025"}"#] == 3)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="10.0"}"#] == 3)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="+Inf"}"#] == 4)
        #expect(e["lstmd_step_duration_seconds_count"] == 4)
        let sum = try #require(e["lstmd_step_duration_seconds_sum"])
        #expect(abs(sum - 30.002308) < 1e-9)
        #expect(e.samples.keys.filter { $0.hasPrefix("lstmd_step_duration_seconds_bucket") }.count == 23)

        // A bound is inclusive: 1 µs is in the first bucket, 1.001 µs in the next.
        #expect(e[#"lstmd_queue_time_seconds_bucket{le="0.000001"}"#] == 2)
        #expect(e[#"lstmd_queue_time_seconds_bucket{le="0.0000025"}"#] == 3)
        #expect(e[#"lstmd_queue_time_seconds_bucket{le="0.005"}"#] == 3)
        #expect(e[#"lstmd_queue_time_seconds_bucket{le="0.01"}"#] == 4)
        #expect(e["lstmd_queue_time_seconds_count"] == 4)
        #expect(e["lstmd_publish_latency_seconds_count"] == 0)
    }

    @Test func modelInfoFollowsTheCurrentModel() throws {
        let metrics = ServerMetrics()
        let first = String(repeating: "a", count: 64), second = String(repeating: "b", count: 64)
        metrics.setModel(sha256: first, hiddenUnits: 64, layers: 1)
        metrics.setModel(sha256: first, hiddenUnits: 64, layers: 1)
        var e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_model_info{sha256="\#(first)",model="aaaaaaaaaaaa",hidden_units="64",layers="1"}"#] == 1)
        metrics.setModel(sha256: second, hiddenUnits: 128, layers: 2)
        e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_model_info{sha256="\#(second)",model="bbbbbbbbbbbb",hidden_units="128",layers="2"}"#] == 1)
        #expect(e.series("lstmd_model_info").count == 1)
    }

    @Test func eachModelHasItsLiveStreamsUntilItsLastStreamEnds() throws {
        let metrics = ServerMetrics()
        let old = String(repeating: "a", count: 64), new = String(repeating: "b", count: 64)
        metrics.update(ServingFigures(liveStreams: 3, modelLiveStreams: [old: 2, new: 1]))
        var e = try Exposition(metrics.exposition())
        #expect(e.series("lstmd_model_live_streams") == [
            #"lstmd_model_live_streams{model="aaaaaaaaaaaa"}"#: 2, #"lstmd_model_live_streams{model="bbbbbbbbbbbb"}"#: 1,
        ])
        metrics.update(ServingFigures(liveStreams: 4, modelLiveStreams: [new: 4]))
        e = try Exposition(metrics.exposition())
        #expect(e.series("lstmd_model_live_streams") == [#"lstmd_model_live_streams{model="bbbbbbbbbbbb"}"#: 4])
    }

    @Test func instancesAreIndependent() throws {
        let first = ServerMetrics()
        let second = ServerMetrics()
        first.update(ServingFigures(counters: Counters([.rowsReceived: 5]), liveStreams: 1, uptimeSeconds: 1))
        #expect(try Exposition(first.exposition())["lstmd_rows_received_total"] == 5)
        #expect(try Exposition(second.exposition())["lstmd_rows_received_total"] == 0)
    }
}

/// Runs blocking work on a plain thread, off Swift concurrency's small shared pool.
func onPlainThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

@Suite struct MetricsHTTPServerTests {
    let logger = Logger(label: "metrics-http-test")

    @Test func scrapeShowsCountersMoving() async throws {
        let metrics = ServerMetrics()
        metrics.setModel(sha256: "cafe", hiddenUnits: 32, layers: 1)
        let server = try await onPlainThread { [logger] in
            try MetricsHTTPServer(host: "127.0.0.1", port: 0, metrics: metrics, logger: logger)
        }
        defer { server.stop() }
        #expect(server.port > 0)

        let first = try await onPlainThread { try httpRequest(port: server.port, path: "/metrics") }
        #expect(first.status == 200)
        #expect(first.headers.lowercased().contains("content-type: text/plain; version=0.0.4"))
        var e = try Exposition(first.body)
        #expect(e["lstmd_rows_received_total"] == 0)
        #expect(e[#"lstmd_model_info{sha256="cafe",model="cafe",hidden_units="32",layers="1"}"#] == 1)

        let histograms = ServingHistograms()
        histograms.recordStep(rows: 3, start: 0, end: 40_000)
        metrics.update(ServingFigures(counters: Counters([.rowsReceived: 12, .rowsApplied: 11, .predictionsPublished: 11], errors: ["not_started": 1]),
                                      liveStreams: 3, uptimeSeconds: 9, histograms: histograms.counts))
        let second = try await onPlainThread { try httpRequest(port: server.port, path: "/metrics") }
        e = try Exposition(second.body)
        #expect(e["lstmd_rows_received_total"] == 12)
        #expect(e["lstmd_rows_applied_total"] == 11)
        #expect(e["lstmd_predictions_published_total"] == 11)
        #expect(e[#"lstmd_errors_total{code="not_started"}"#] == 1)
        #expect(e["lstmd_live_streams"] == 3)
        #expect(e["lstmd_batch_size_count"] == 1)
    }

    @Test func otherPathsAndMethodsAreRefused() async throws {
        let metrics = ServerMetrics()
        let server = try await onPlainThread { [logger] in
            try MetricsHTTPServer(host: "localhost", port: 0, metrics: metrics, logger: logger)
        }
        defer { server.stop() }
        let missing = try await onPlainThread { try httpRequest(port: server.port, path: "/") }
        #expect(missing.status == 404)
        let post = try await onPlainThread { try httpRequest(port: server.port, method: "POST", path: "/metrics") }
        #expect(post.status == 405)
    }

    @Test func aPortInUseIsAStartError() async throws {
        let metrics = ServerMetrics()
        let first = try await onPlainThread { [logger] in
            try MetricsHTTPServer(host: "127.0.0.1", port: 0, metrics: metrics, logger: logger)
        }
        defer { first.stop() }
        let port = first.port
        let outcome = try await onPlainThread { [logger] () -> Result<Int, MetricsServerError> in
            do {
                let second = try MetricsHTTPServer(host: "127.0.0.1", port: port, metrics: metrics, logger: logger)
                defer { second.stop() }
                return .success(second.port)
            } catch let error as MetricsServerError {
                return .failure(error)
            }
        }
        guard case let .failure(.start(host, failedPort, reason)) = outcome else {
            Issue.record("a second server on port \(port) started: \(outcome)")
            return
        }
        #expect(host == "127.0.0.1" && failedPort == port)
        #expect(!reason.isEmpty)

        #expect(throws: MetricsServerError.self) {
            try MetricsHTTPServer(host: "not-an-address", port: 9464, metrics: metrics, logger: logger)
        }
    }
}
