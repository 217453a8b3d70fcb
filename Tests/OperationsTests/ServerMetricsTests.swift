import Foundation
import Glibc
import Logging
import LSTMServer
import Testing
import DaemonTestSupport
import WireProtocol

/// Samples of a Prometheus text exposition, keyed by `name{labels}` as printed, and the `# TYPE`s.
struct Exposition {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]

    init(_ text: String) throws {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#") {
                let space = try #require(line.lastIndex(of: " "), "sample line without a value: \(line)")
                let value = try #require(Double(line[line.index(after: space)...]), "bad value in: \(line)")
                samples[String(line[..<space])] = value
            }
        }
    }

    subscript(_ key: String) -> Double? { samples[key] }
}

/// The metric table of Protocols/control-protocol.md §4.6.
enum SpecText {
    static func metricNames() throws -> Set<String> {
        let text = try String(contentsOfFile: Repository.path("Protocols/control-protocol.md"), encoding: .utf8)
        return Set(text.split(separator: "\n").filter { $0.hasPrefix("| `lstmd_") }.map { line in
            String(line.dropFirst(3).prefix { $0 != "`" && $0 != "{" })
        })
    }
}

@Suite struct ServerMetricsTests {
    @Test func everyDocumentedMetricIsExposedWithItsType() throws {
        let metrics = ServerMetrics()
        metrics.setModel(sha256: "ab12", hiddenUnits: 128, layers: 1)
        let exposition = try Exposition(metrics.exposition())
        // The metrics the spec lists (§4.6), each from the `counters` member of the same name.
        let documented = try SpecText.metricNames()
        let counters = Counters.Total.allCases.map(ServerMetrics.metricName)
        #expect(Set(counters).isSubset(of: documented), "every total is documented as a metric")
        for name in counters {
            #expect(exposition.types[name] == "counter", "\(name)")
            #expect(exposition[name] == 0, "\(name)")
        }
        #expect(exposition.types["lstmd_live_streams"] == "gauge")
        #expect(exposition.types["lstmd_uptime_seconds"] == "gauge")
        #expect(exposition.types["lstmd_batch_size"] == "histogram")
        #expect(exposition.types["lstmd_step_duration_seconds"] == "histogram")
        #expect(exposition.types["lstmd_model_info"] == "gauge")
        #expect(exposition[#"lstmd_model_info{sha256="ab12",hidden_units="128",layers="1"}"#] == 1)
        // No error series before an error is counted.
        #expect(exposition.types["lstmd_errors_total"] == nil)
        #expect(exposition.samples.keys.allSatisfy { $0.hasPrefix("lstmd_") || $0.hasPrefix("process_") })
    }

    @Test func countersFollowTheTotalsAndNeverGoBack() throws {
        let metrics = ServerMetrics()
        metrics.update(counters: Counters([.rowsReceived: 30, .rowsApplied: 28, .duplicates: 1, .predictionsPublished: 28, .streamsStarted: 2, .streamsRestarted: 1, .streamsFinished: 1, .streamsEvicted: 0, .streamsDropped: 1], errors: ["gap": 1]),
                       liveStreams: 1, uptimeSeconds: 2.5)
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
        #expect(e["lstmd_uptime_seconds"] == 2.5)

        // Later totals: deltas are added; a code that disappears from the totals keeps its count; a
        // total that went backwards is ignored.
        metrics.update(counters: Counters([.rowsReceived: 100, .rowsApplied: 20, .predictionsPublished: 90], errors: ["capacity": 4]),
                       liveStreams: 7, uptimeSeconds: 3.5)
        e = try Exposition(metrics.exposition())
        #expect(e["lstmd_rows_received_total"] == 100)
        #expect(e["lstmd_rows_applied_total"] == 28)
        #expect(e["lstmd_predictions_published_total"] == 90)
        #expect(e[#"lstmd_errors_total{code="gap"}"#] == 1)
        #expect(e[#"lstmd_errors_total{code="capacity"}"#] == 4)
        #expect(e["lstmd_live_streams"] == 7)

        metrics.update(counters: Counters([.rowsReceived: 101, .rowsApplied: 29, .predictionsPublished: 91], errors: ["capacity": 4, "gap": 3]),
                       liveStreams: 0, uptimeSeconds: 4)
        e = try Exposition(metrics.exposition())
        #expect(e["lstmd_rows_received_total"] == 101)
        #expect(e["lstmd_rows_applied_total"] == 29)
        #expect(e[#"lstmd_errors_total{code="gap"}"#] == 3)
        #expect(e[#"lstmd_errors_total{code="capacity"}"#] == 4)
    }

    @Test func stepsFillTheHistograms() throws {
        let metrics = ServerMetrics()
        metrics.recordStep(batchSize: 1, nanoseconds: 8_000)         // 8 µs
        metrics.recordStep(batchSize: 3, nanoseconds: 300_000)       // 300 µs
        metrics.recordStep(batchSize: 256, nanoseconds: 2_000_000)   // 2 ms
        metrics.recordStep(batchSize: 5000, nanoseconds: 3_000_000_000)
        let e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_batch_size_bucket{le="1.0"}"#] == 1)
        #expect(e[#"lstmd_batch_size_bucket{le="2.0"}"#] == 1)
        #expect(e[#"lstmd_batch_size_bucket{le="4.0"}"#] == 2)
        #expect(e[#"lstmd_batch_size_bucket{le="256.0"}"#] == 3)
        #expect(e[#"lstmd_batch_size_bucket{le="1024.0"}"#] == 3)
        #expect(e[#"lstmd_batch_size_bucket{le="+Inf"}"#] == 4)
        #expect(e["lstmd_batch_size_count"] == 4)
        #expect(e["lstmd_batch_size_sum"] == 5260)
        let batchBuckets = e.samples.keys.filter { $0.hasPrefix("lstmd_batch_size_bucket") }.count
        #expect(batchBuckets == 12)   // 1, 2, 4, …, 1024 and +Inf

        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.00001"}"#] == 1)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.0005"}"#] == 2)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="0.002"}"#] == 3)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="1.0"}"#] == 3)
        #expect(e[#"lstmd_step_duration_seconds_bucket{le="+Inf"}"#] == 4)
        #expect(e["lstmd_step_duration_seconds_count"] == 4)
        let sum = try #require(e["lstmd_step_duration_seconds_sum"])
        #expect(abs(sum - 3.002308) < 1e-9)
    }

    @Test func modelInfoFollowsTheCurrentModel() throws {
        let metrics = ServerMetrics()
        metrics.setModel(sha256: "aaaa", hiddenUnits: 64, layers: 1)
        metrics.setModel(sha256: "aaaa", hiddenUnits: 64, layers: 1)
        var e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_model_info{sha256="aaaa",hidden_units="64",layers="1"}"#] == 1)
        metrics.setModel(sha256: "bbbb", hiddenUnits: 128, layers: 2)
        e = try Exposition(metrics.exposition())
        #expect(e[#"lstmd_model_info{sha256="bbbb",hidden_units="128",layers="2"}"#] == 1)
        #expect(e.samples.keys.filter { $0.hasPrefix("lstmd_model_info") }.count == 1)
    }

    @Test func instancesAreIndependent() throws {
        let first = ServerMetrics()
        let second = ServerMetrics()
        first.update(counters: Counters([.rowsReceived: 5]), liveStreams: 1, uptimeSeconds: 1)
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
        #expect(e[#"lstmd_model_info{sha256="cafe",hidden_units="32",layers="1"}"#] == 1)

        metrics.update(counters: Counters([.rowsReceived: 12, .rowsApplied: 11, .predictionsPublished: 11], errors: ["not_started": 1]),
                       liveStreams: 3, uptimeSeconds: 9)
        metrics.recordStep(batchSize: 3, nanoseconds: 40_000)
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
