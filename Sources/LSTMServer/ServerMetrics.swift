import CoreMetrics
import Prometheus
import Synchronization
import WireProtocol

/// The daemon's Prometheus metrics (names in Protocols/control-protocol.md §4.6), through
/// swift-metrics with a swift-prometheus registry of its own.
///
/// The global `MetricsSystem` is never bootstrapped: every instance has its own registry and makes
/// its metric objects from its own factory, so several daemons can live in one process (tests).
///
/// Cost on the serving loop: ``recordStep(batchSize:nanoseconds:)`` once per batched step (two
/// histogram updates under an uncontended lock); the totals the engine already keeps are copied in
/// by ``update(counters:liveStreams:uptimeSeconds:)`` about once a second and before answering a
/// `metrics` request, never per row. Every method is safe from any thread.
public final class ServerMetrics: Sendable {
    /// Batch size histogram buckets: 1, 2, 4, …, 1024 streams per step.
    public static let batchSizeBuckets: [Double] = (0...10).map { Double(1 << $0) }
    /// Step duration histogram buckets, from 10 µs to 1 s.
    public static let stepDurationBuckets: [Duration] = [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    /// `lstmd_<total>_total` for every total of `Counters`.
    private let totals: [Counters.Total: CoreMetrics.Counter]
    private let liveStreams: CoreMetrics.Gauge
    private let uptime: CoreMetrics.Gauge
    private let batchSize: CoreMetrics.Recorder
    private let stepDuration: CoreMetrics.Timer

    /// What has been copied into the counters so far, the error counters made so far (one series
    /// per code, created when the code is first counted), and the current model's info series.
    private struct State {
        var counted = Counters()
        var errors: [String: CoreMetrics.Counter] = [:]
        var modelInfo: (labels: [(String, String)], gauge: CoreMetrics.Gauge)?
    }
    private let state = Mutex(State())

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["lstmd_batch_size"] = Self.batchSizeBuckets
        factory.durationHistogramBuckets["lstmd_step_duration_seconds"] = Self.stepDurationBuckets
        self.factory = factory

        totals = Dictionary(uniqueKeysWithValues: Counters.Total.allCases.map { total in
            (total, Counter(label: Self.metricName(total), factory: factory))
        })
        liveStreams = Gauge(label: "lstmd_live_streams", factory: factory)
        uptime = Gauge(label: "lstmd_uptime_seconds", factory: factory)
        batchSize = Recorder(label: "lstmd_batch_size", aggregate: true, factory: factory)
        stepDuration = Timer(label: "lstmd_step_duration_seconds", factory: factory)
        // Series that exist before the first event, so that rate() starts from 0.
        liveStreams.record(0)
        uptime.record(0)
    }

    /// The Prometheus name of a total: `lstmd_<json key>_total`.
    public static func metricName(_ total: Counters.Total) -> String { "lstmd_\(total.rawValue)_total" }

    /// One batched step: how many streams it advanced and how long it took.
    public func recordStep(batchSize streams: Int, nanoseconds: UInt64) {
        batchSize.record(streams)
        stepDuration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Brings the counters up to `counters` (the totals of the `status` reply) and sets the gauges.
    /// Counters only move forward: a total below the one already counted is ignored.
    public func update(counters: Counters, liveStreams live: Int, uptimeSeconds: Double) {
        liveStreams.record(live)
        uptime.record(uptimeSeconds)
        state.withLock { state in
            for (total, counter) in totals where counters[total] > state.counted[total] {
                counter.increment(by: counters[total] - state.counted[total])
                state.counted[total] = counters[total]
            }
            for (code, total) in counters.errors where total > state.counted.errors[code, default: 0] {
                let counter = state.errors[code] ?? {
                    let made = Counter(label: "lstmd_errors_total", dimensions: [("code", code)], factory: factory)
                    state.errors[code] = made
                    return made
                }()
                counter.increment(by: total - state.counted.errors[code, default: 0])
                state.counted.errors[code] = total
            }
        }
    }

    /// Sets `lstmd_model_info{sha256,hidden_units,layers} 1` for the model new streams start on,
    /// removing the series of the model it replaces.
    public func setModel(sha256: String, hiddenUnits: Int, layers: Int) {
        let labels = [("sha256", sha256), ("hidden_units", "\(hiddenUnits)"), ("layers", "\(layers)")]
        state.withLock { state in
            // The registry hands out one series per label set: destroying the old wrapper of the
            // same model would remove the series just set.
            if let current = state.modelInfo, current.labels.elementsEqual(labels, by: ==) { return }
            state.modelInfo?.gauge.destroy()
            let gauge = Gauge(label: "lstmd_model_info", dimensions: labels, factory: factory)
            gauge.record(1)
            state.modelInfo = (labels, gauge)
        }
    }

    /// Every metric in the Prometheus text exposition format 0.0.4.
    public func exposition() -> String {
        registry.emitToString() + (ProcessMetrics.current()?.exposition ?? "")  // process_*: issue 15
    }
}
