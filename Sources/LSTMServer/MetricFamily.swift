import Prometheus
import WireProtocol

/// One metric family of the daemon's exposition: its name, type and `# HELP` text, declared once
/// here for every family, `lstmd_*` and `process_*` (Protocols/control-protocol.md §4.6 lists them).
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public let name: String
    public let kind: Kind
    public let help: String

    init(_ name: String, _ kind: Kind, _ help: String) {
        self.name = name
        self.kind = kind
        self.help = help
    }

    /// The `# HELP` and `# TYPE` lines that open the family in the text format (help texts hold no
    /// backslash or line feed, so none needs escaping).
    var header: String { "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n" }

    /// How swift-prometheus' registry takes a family's name and help text.
    var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
}

extension MetricFamily {
    /// `lstmd_<json key>_total` for a total of `Counters`, helped by what the total counts.
    public static func total(_ total: Counters.Total) -> MetricFamily {
        MetricFamily("lstmd_\(total.rawValue)_total", .counter, total.meaning)
    }

    public static let errors = MetricFamily(
        "lstmd_errors_total", .counter, "ERRORs sent, by code (a series appears when its code is first sent).")
    public static let liveStreams = MetricFamily("lstmd_live_streams", .gauge, "Live streams, over all models.")
    public static let modelLiveStreams = MetricFamily(
        "lstmd_model_live_streams", .gauge, "Live streams per model, by the model's SHA-256 prefix (label model).")
    public static let pendingRows = MetricFamily(
        "lstmd_pending_rows", .gauge, "Rows received and queued for a step, not yet stepped.")
    public static let uptime = MetricFamily("lstmd_uptime_seconds", .gauge, "Seconds since the daemon started.")
    public static let modelInfo = MetricFamily(
        "lstmd_model_info", .gauge, "Always 1: the model new streams start on, by SHA-256, its prefix and shape.")
    public static let batchSize = MetricFamily(
        "lstmd_batch_size", .histogram, "Streams advanced per batched step.")
    public static let stepDuration = MetricFamily(
        "lstmd_step_duration_seconds", .histogram,
        "Time of one batched step: the rows' LSTM step and the publishing of their predictions.")
    public static let queueTime = MetricFamily(
        "lstmd_queue_time_seconds", .histogram,
        "Time from a row's arrival (read from its socket) to the start of the step that applies it.")
    public static let publishLatency = MetricFamily(
        "lstmd_publish_latency_seconds", .histogram,
        "Time from a row's arrival to its prediction handed to PUB (and to the ROUTER peer of a lossless stream).")

    // The standard process metrics of Prometheus client libraries, with their usual help texts.
    public static let processCPUSeconds = MetricFamily(
        "process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.")
    public static let processResidentMemory = MetricFamily(
        "process_resident_memory_bytes", .gauge, "Resident memory size in bytes.")
    public static let processVirtualMemory = MetricFamily(
        "process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.")
    public static let processOpenFDs = MetricFamily("process_open_fds", .gauge, "Number of open file descriptors.")
    public static let processMaxFDs = MetricFamily(
        "process_max_fds", .gauge, "Maximum number of open file descriptors.")
    public static let processStartTime = MetricFamily(
        "process_start_time_seconds", .gauge, "Start time of the process since unix epoch in seconds.")

    /// Every family the daemon exposes.
    public static var all: [MetricFamily] {
        Counters.Total.allCases.map(total) + [
            errors, liveStreams, modelLiveStreams, pendingRows, uptime, modelInfo,
            batchSize, stepDuration, queueTime, publishLatency,
            processCPUSeconds, processResidentMemory, processVirtualMemory, processOpenFDs, processMaxFDs,
            processStartTime,
        ]
    }
}
