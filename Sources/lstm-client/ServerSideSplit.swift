import Foundation
import LSTMClientKit

/// The daemon's side of a bench run, as Triton's perf_analyzer shows it beside the client's: the
/// histograms lstmd keeps (Protocols/control-protocol.md §4.6), read with the control `metrics`
/// command before and after the run, and their difference: how long rows waited for a step, how
/// long steps took, how long a row took from its arrival to its prediction leaving the daemon, and
/// what of the client's latency is outside the daemon (sockets, the network, the client itself).
///
/// The histograms count all of a daemon's traffic during the run, not only this bench's; with
/// `--shard` they are added over the daemons.
struct ServerSideSplit: Encodable {
    var daemons: Int
    var rowsApplied: Double
    var predictionsPublished: Double
    var queueTime: Summary
    var stepTime: Summary
    var publishLatency: Summary

    /// Reads the daemons' metrics when made; ``finish()`` reads them again and makes the split.
    struct Recorder {
        let clients: [ControlClient]
        let before: Result<MetricsReading, ClientError>

        init(clients: [ControlClient]) {
            self.clients = clients
            before = Result { () throws(ClientError) in try MetricsReading(clients) }
        }

        /// The split since the recorder was made, or why there is none.
        func finish() -> ServerSide {
            do throws(ClientError) {
                return .split(try ServerSideSplit(daemons: clients.count, before: before.get(), after: MetricsReading(clients)))
            } catch {
                return .unavailable(error.description)
            }
        }
    }

    init(daemons: Int, before: MetricsReading, after: MetricsReading) throws(ClientError) {
        func delta(_ name: String) throws(ClientError) -> BucketCounts {
            guard let old = before.histograms[name], let new = after.histograms[name], old.bounds == new.bounds else {
                throw .badReply(command: "metrics", reason: "no histogram \(name) (an lstmd older than this client?)")
            }
            return new - old
        }
        self.daemons = daemons
        rowsApplied = after.total("lstmd_rows_applied_total") - before.total("lstmd_rows_applied_total")
        predictionsPublished = after.total("lstmd_predictions_published_total") - before.total("lstmd_predictions_published_total")
        queueTime = Summary(try delta("lstmd_queue_time_seconds"))
        stepTime = Summary(try delta("lstmd_step_duration_seconds"))
        publishLatency = Summary(try delta("lstmd_publish_latency_seconds"))
    }

    /// Count, mean and estimated percentiles of one histogram's observations, in milliseconds.
    struct Summary: Encodable {
        var count: Double
        var mean: Double?
        var p50: Double?
        var p99: Double?

        init(_ counts: BucketCounts) {
            count = counts.count
            mean = counts.count > 0 ? counts.sum / counts.count * 1000 : nil
            p50 = counts.quantile(0.5).map { $0 * 1000 }
            p99 = counts.quantile(0.99).map { $0 * 1000 }
        }

        var text: String {
            guard let mean, let p50, let p99 else { return "none" }
            return String(format: "mean %.3f  p50 ~%.3f  p99 ~%.3f", mean, p50, p99)
        }
    }

    /// The report's lines, beside the client's mean latency (ms) of the same rows.
    func lines(clientMeanMilliseconds: Double?) -> [String] {
        let steps = stepTime.count
        var pairs = [
            ("rows applied", String(format: "%.0f", rowsApplied)),
            ("predictions", String(format: "%.0f published", predictionsPublished)),
            ("steps", String(format: "%.0f, %.1f rows per step", steps, steps > 0 ? rowsApplied / steps : 0)),
            ("queue time ms", queueTime.text + "  (row arrived → its step began)"),
            ("step time ms", stepTime.text + "  (per step, publishing included)"),
            ("row → publish ms", publishLatency.text + "  (row arrived → prediction handed to its socket)"),
        ]
        if let client = clientMeanMilliseconds, let queue = queueTime.mean, let publish = publishLatency.mean {
            let outside = client - publish
            pairs.append(("split of mean ms", String(
                format: "client %.3f = queue %.3f + step until published %.3f + outside the daemon %.3f (%.0f %%: sockets, network, client)",
                client, queue, publish - queue, outside, client > 0 ? 100 * outside / client : 0)))
        }
        let source = daemons == 1 ? "the daemon's" : "the \(daemons) daemons'"
        return ["server side (\(source) histograms over the run, all of its traffic):"] + aligned(pairs, indent: "  ")
    }

    enum CodingKeys: String, CodingKey {
        case daemons
        case rowsApplied = "rows_applied", predictionsPublished = "predictions_published"
        case queueTime = "queue_time_ms", stepTime = "step_time_ms", publishLatency = "publish_latency_ms"
    }
}

/// A bench run's server side: the split, or why the daemons' metrics could not be read (the run's
/// own figures stand without it).
enum ServerSide: Encodable {
    case split(ServerSideSplit)
    case unavailable(String)

    func lines(clientMeanMilliseconds: Double?) -> [String] {
        switch self {
        case .split(let split): split.lines(clientMeanMilliseconds: clientMeanMilliseconds)
        case .unavailable(let reason): ["server side: not available: \(reason)"]
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .split(let split): try split.encode(to: encoder)
        case .unavailable(let reason): try ["unavailable": reason].encode(to: encoder)
        }
    }
}

/// The histograms and counters of one or more daemons' `metrics` replies, added together.
struct MetricsReading {
    var histograms: [String: BucketCounts] = [:]
    var totals: [String: Double] = [:]

    init(_ clients: [ControlClient]) throws(ClientError) {
        for client in clients {
            let reading = MetricsReading(exposition: try client.metrics())
            totals.merge(reading.totals, uniquingKeysWith: +)
            histograms.merge(reading.histograms) { $0.bounds == $1.bounds ? $0 + $1 : $0 }
        }
    }

    /// The unlabeled counters and gauges, and the histograms, of a text exposition; other lines
    /// (comments, labeled series) are skipped.
    init(exposition: String) {
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let key = line[..<space]
            if key.hasSuffix("\"}"), let open = key.firstIndex(of: "{"), key[open...].hasPrefix("{le=\""), key[..<open].hasSuffix("_bucket") {
                let name = String(key[..<open].dropLast("_bucket".count))
                let bound = key[open...].dropFirst("{le=\"".count).dropLast(2)
                histograms[name, default: BucketCounts()].append(bound: bound == "+Inf" ? .infinity : Double(bound) ?? .nan,
                                                                 cumulative: value)
            } else if !key.contains("{") {
                if key.hasSuffix("_sum") { histograms[String(key.dropLast(4)), default: BucketCounts()].sum = value }
                if key.hasSuffix("_count") { histograms[String(key.dropLast(6)), default: BucketCounts()].count = value }
                totals[String(key)] = value
            }
        }
        histograms = histograms.filter { !$0.value.bounds.isEmpty }
    }

    func total(_ name: String) -> Double { totals[name] ?? 0 }
}

/// A Prometheus histogram as read: cumulative counts per upper bound (ascending, +Inf last), the
/// sum and the count of the observations.
struct BucketCounts: Equatable {
    var bounds: [Double] = []
    var cumulative: [Double] = []
    var sum = 0.0
    var count = 0.0

    mutating func append(bound: Double, cumulative value: Double) {
        bounds.append(bound)
        cumulative.append(value)
    }

    static func - (after: BucketCounts, before: BucketCounts) -> BucketCounts {
        BucketCounts(bounds: after.bounds, cumulative: zip(after.cumulative, before.cumulative).map(-),
                     sum: after.sum - before.sum, count: after.count - before.count)
    }

    static func + (a: BucketCounts, b: BucketCounts) -> BucketCounts {
        BucketCounts(bounds: a.bounds, cumulative: zip(a.cumulative, b.cumulative).map(+), sum: a.sum + b.sum, count: a.count + b.count)
    }

    /// The `q` quantile, interpolated linearly inside its bucket as PromQL's `histogram_quantile`
    /// does (the lowest bucket from 0; one in +Inf is given the highest finite bound); nil
    /// without observations.
    func quantile(_ q: Double) -> Double? {
        guard let total = cumulative.last, total > 0 else { return nil }
        let rank = q * total
        guard let bucket = cumulative.firstIndex(where: { $0 >= rank }) else { return nil }
        guard bounds[bucket].isFinite else { return bounds.last { $0.isFinite } }
        let lower = bucket > 0 ? bounds[bucket - 1] : 0
        let below = bucket > 0 ? cumulative[bucket - 1] : 0
        let inBucket = cumulative[bucket] - below
        return inBucket > 0 ? lower + (bounds[bucket] - lower) * (rank - below) / inBucket : bounds[bucket]
    }
}
