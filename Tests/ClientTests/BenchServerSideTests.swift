import DaemonTestSupport
import Foundation
import TestSupport
import Testing

/// `lstm-client bench` beside the daemon's own histograms of the same run (perf_analyzer's
/// server-side split).
@Suite struct BenchServerSideTests {
    @Test func theServerSideSplitCountsTheRowsSentAndFitsInsideTheClientsLatency() throws {
        let served = try ModelDaemon(try makeModel())
        let run = try runClient(["bench", "--streams", "4", "--duration", "1", "--json"] + served.endpoints)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let server = try #require(report["server_side"] as? [String: Any], "\(run.stdout)")
        func number(_ object: [String: Any], _ key: String) throws -> Double {
            try #require((object[key] as? NSNumber)?.doubleValue, "\(key) in \(object)")
        }
        let sent = try number(report, "rows_sent"), predictions = try number(report, "predictions")
        #expect(try sent > 0 && number(report, "lost") == 0)
        // The daemon had no other traffic: it applied every row sent and published every answer.
        #expect(try number(server, "rows_applied") == sent)
        #expect(try number(server, "predictions_published") == predictions)
        let queue = try #require(server["queue_time_ms"] as? [String: Any])
        let step = try #require(server["step_time_ms"] as? [String: Any])
        let publish = try #require(server["publish_latency_ms"] as? [String: Any])
        #expect(try number(queue, "count") == sent && number(publish, "count") == predictions)
        #expect(try number(step, "count") >= 1 && number(step, "count") <= sent)
        // Each row's time in the daemon lies inside the client's time for it.
        let client = try #require(report["latency_ms"] as? [String: Any])
        let queueMean = try number(queue, "mean"), publishMean = try number(publish, "mean")
        let clientMean = try number(client, "mean")
        #expect(0 < queueMean && queueMean <= publishMean && publishMean < clientMean)
    }

    @Test func theReportPrintsTheSplitBesideTheClientsFigures() throws {
        let served = try ModelDaemon(try makeModel())
        let run = try runClient(["bench", "--streams", "2", "--duration", "1"] + served.endpoints)
        #expect(run.status == 0, "\(run.stderr)")
        func value(_ key: String) -> String? {
            run.lines.first { $0.hasPrefix(key + ":") }.map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        #expect(run.lines.contains("server side (the daemon's histograms over the run, all of its traffic):"), "\(run.stdout)")
        let sent = try #require(value("rows sent"))
        #expect(value("  rows applied") == sent, "\(run.stdout)")
        for key in ["  queue time ms", "  step time ms", "  row → publish ms"] {
            #expect(value(key)?.hasPrefix("mean ") == true, "\(key): \(run.stdout)")
        }
        #expect(value("  split of mean ms")?.contains(" = queue ") == true, "\(run.stdout)")
    }
}
