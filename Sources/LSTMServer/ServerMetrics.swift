import Prometheus
import Synchronization
import WireProtocol

/// What the serving loop hands to ``ServerMetrics/update(_:)``: its totals, gauges and histograms
/// at one instant.
public struct ServingFigures: Sendable {
    public var counters: Counters
    public var liveStreams: Int
    /// Live streams per model, by the model's full SHA-256 (each generation the engine holds).
    public var modelLiveStreams: [String: Int]
    /// Rows received and queued, not yet stepped.
    public var pendingRows: Int
    public var uptimeSeconds: Double
    /// The loop's histograms (``ServingHistograms/counts``).
    public var histograms: [ServingHistograms.FamilyCounts]

    public init(counters: Counters = Counters(), liveStreams: Int = 0, modelLiveStreams: [String: Int] = [:],
                pendingRows: Int = 0, uptimeSeconds: Double = 0, histograms: [ServingHistograms.FamilyCounts] = ServingHistograms().counts) {
        self.counters = counters
        self.liveStreams = liveStreams
        self.modelLiveStreams = modelLiveStreams
        self.pendingRows = pendingRows
        self.uptimeSeconds = uptimeSeconds
        self.histograms = histograms
    }
}

/// The daemon's Prometheus metrics (``MetricFamily``; Protocols/control-protocol.md §4.6), each
/// family with `# HELP` and `# TYPE`: counters and gauges in a swift-prometheus registry of its own
/// (several daemons can live in one process, as in tests), the loop's histograms and the process
/// metrics written beside them.
///
/// Cost on the serving loop: none per row or step. The loop keeps its totals and histograms with
/// plain increments and copies them in with ``update(_:)`` about once a second and before
/// answering a `metrics` request. Every method is safe from any thread.
public final class ServerMetrics: Sendable {
    /// How many hex digits of a model's SHA-256 name it in the `model` label.
    public static let modelLabelLength = 12

    /// The `model` label of a model: its SHA-256's first ``modelLabelLength`` hex digits.
    public static func modelLabel(sha256: String) -> String { String(sha256.prefix(modelLabelLength)) }

    private let registry = PrometheusCollectorRegistry()
    private let totals: [Counters.Total: Counter]
    private let liveStreams: Gauge
    private let pendingRows: Gauge
    private let uptime: Gauge

    /// What has been copied in so far, the series made on the way (an error code's counter when it
    /// is first counted, a model's live streams while it has a generation, the current model's
    /// info), and the loop's histograms as last copied.
    private struct State {
        var counted = Counters()
        var errors: [String: Counter] = [:]
        var modelLiveStreams: [String: Gauge] = [:]
        var modelInfo: (labels: [(String, String)], gauge: Gauge)?
        var histograms = ServingHistograms().counts
    }
    private let state = Mutex(State())

    public init() {
        let registry = registry
        totals = Dictionary(uniqueKeysWithValues: Counters.Total.allCases.map { total in
            (total, registry.makeCounter(descriptor: MetricFamily.total(total).descriptor))
        })
        // Series that exist before the first update, so that rate() starts from 0.
        liveStreams = registry.makeGauge(descriptor: MetricFamily.liveStreams.descriptor)
        pendingRows = registry.makeGauge(descriptor: MetricFamily.pendingRows.descriptor)
        uptime = registry.makeGauge(descriptor: MetricFamily.uptime.descriptor)
    }

    /// Brings the metrics up to `figures`. Counters only move forward: a total below the one
    /// already counted is ignored.
    public func update(_ figures: ServingFigures) {
        liveStreams.set(to: Double(figures.liveStreams))
        pendingRows.set(to: Double(figures.pendingRows))
        uptime.set(to: figures.uptimeSeconds)
        state.withLock { state in
            let counters = figures.counters
            for (total, counter) in totals where counters[total] > state.counted[total] {
                counter.increment(by: Int64(clamping: counters[total] - state.counted[total]))
                state.counted[total] = counters[total]
            }
            for (code, total) in counters.errors where total > state.counted.errors[code, default: 0] {
                let counter = state.errors[code] ?? {
                    let made = registry.makeCounter(descriptor: MetricFamily.errors.descriptor, labels: [("code", code)])
                    state.errors[code] = made
                    return made
                }()
                counter.increment(by: Int64(clamping: total - state.counted.errors[code, default: 0]))
                state.counted.errors[code] = total
            }
            var models: [String: Gauge] = [:]
            for (sha256, live) in figures.modelLiveStreams {
                let label = Self.modelLabel(sha256: sha256)
                let gauge = state.modelLiveStreams.removeValue(forKey: label)
                    ?? registry.makeGauge(descriptor: MetricFamily.modelLiveStreams.descriptor, labels: [("model", label)])
                gauge.set(to: Double(live))
                models[label] = gauge
            }
            // Models whose last stream ended (and which new streams no longer start on) are gone.
            for gauge in state.modelLiveStreams.values { registry.unregisterGauge(gauge) }
            state.modelLiveStreams = models
            state.histograms = figures.histograms
        }
    }

    /// Sets `lstmd_model_info{sha256,model,hidden_units,layers} 1` for the model new streams start
    /// on, removing the series of the model it replaces.
    public func setModel(sha256: String, hiddenUnits: Int, layers: Int) {
        let labels = [("sha256", sha256), ("model", Self.modelLabel(sha256: sha256)),
                      ("hidden_units", "\(hiddenUnits)"), ("layers", "\(layers)")]
        state.withLock { state in
            // The registry hands out one series per label set: unregistering the old series of the
            // same model would remove the one just set.
            if let current = state.modelInfo, current.labels.elementsEqual(labels, by: ==) { return }
            if let old = state.modelInfo { registry.unregisterGauge(old.gauge) }
            let gauge = registry.makeGauge(descriptor: MetricFamily.modelInfo.descriptor, labels: labels)
            gauge.set(to: 1)
            state.modelInfo = (labels, gauge)
        }
    }

    /// Every metric in the Prometheus text exposition format 0.0.4.
    public func exposition() -> String {
        let histograms = state.withLock { $0.histograms }
        var text = registry.emitToString()
        for histogram in histograms {
            text += histogram.family.header + histogram.counts.samples(name: histogram.family.name)
        }
        return text + (ProcessMetrics.current()?.exposition ?? "")
    }
}
