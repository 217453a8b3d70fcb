/// What the serving loop measures of its rows and steps (Protocols/control-protocol.md §4.6). Kept
/// on the loop thread in ``DaemonCounters`` and copied into ``ServerMetrics`` with the totals.
public final class ServingHistograms {
    /// Duration buckets, 1 µs to 10 s in steps of 1, 2.5, 5 per decade (nanoseconds): a lone
    /// stream's row waits for about a microsecond, an overloaded daemon's rows for seconds.
    public static let durationBounds: [UInt64] = [
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000, 500_000_000,
        1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
    ]
    /// Batch size buckets: 1, 2, 4, …, 1024 streams per step.
    public static let batchSizeBounds: [UInt64] = (0...10).map { 1 << $0 }

    /// Row received → the start of the step that applies it, per row applied.
    public let queueTime = LoopHistogram(unit: .nanoseconds, bounds: durationBounds)
    /// One batched step, its predictions published, per step.
    public let stepDuration = LoopHistogram(unit: .nanoseconds, bounds: durationBounds)
    /// Row received → its prediction handed to PUB (and a ROUTER peer), per prediction published.
    public let publishLatency = LoopHistogram(unit: .nanoseconds, bounds: durationBounds)
    /// Streams advanced per step.
    public let batchSize = LoopHistogram(unit: .count, bounds: batchSizeBounds)

    public init() {}

    /// One step of `rows` rows that started at `start` and ended at `end` (nanoseconds).
    public func recordStep(rows: Int, start: UInt64, end: UInt64) {
        batchSize.record(UInt64(rows))
        stepDuration.record(end &- start)
    }

    /// Each family with its counts now, in the order the exposition writes them.
    public var counts: [FamilyCounts] {
        [FamilyCounts(family: .queueTime, counts: queueTime.counts),
         FamilyCounts(family: .stepDuration, counts: stepDuration.counts),
         FamilyCounts(family: .publishLatency, counts: publishLatency.counts),
         FamilyCounts(family: .batchSize, counts: batchSize.counts)]
    }

    /// A histogram family and its counts.
    public struct FamilyCounts: Sendable, Equatable {
        public let family: MetricFamily
        public let counts: HistogramCounts
    }
}
