/// A histogram the serving loop fills with plain increments: no lock, no allocation, no floating
/// point, and no run-time exclusivity check (its counts live in memory of its own, written through
/// a pointer, so a record is not an access to a `var` of a class). One thread records; the loop
/// copies ``counts`` into `ServerMetrics` about once a second and before a `metrics` reply
/// (swift-prometheus' histograms take one locked observation at a time, with no way to add counts
/// in bulk).
public final class LoopHistogram {
    public let unit: HistogramCounts.Unit
    /// Upper bounds of the buckets, ascending.
    public let bounds: [UInt64]
    private let boundCount: Int
    /// The bounds again (read by every record without touching the array), then the observations
    /// per bucket (the last above every bound), then the sum and the count.
    private let cells: UnsafeMutablePointer<UInt64>

    public init(unit: HistogramCounts.Unit, bounds: [UInt64]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must ascend")
        self.unit = unit
        self.bounds = bounds
        boundCount = bounds.count
        cells = .allocate(capacity: 2 * bounds.count + 3)
        cells.initialize(from: bounds, count: bounds.count)
        (cells + bounds.count).initialize(repeating: 0, count: bounds.count + 3)
    }

    deinit { cells.deallocate() }

    /// One observation. The bounds are few and small values the common case: a scan from the
    /// smallest bound ends after a few predictable comparisons.
    @inline(__always)
    public func record(_ value: UInt64) {
        var bucket = 0
        while bucket < boundCount && value > cells[bucket] { bucket += 1 }
        let counts = cells + boundCount
        counts[bucket] &+= 1
        counts[boundCount + 1] &+= value
        counts[boundCount + 2] &+= 1
    }

    /// What has been recorded so far, as a value.
    public var counts: HistogramCounts {
        let counts = cells + boundCount
        return HistogramCounts(unit: unit, bounds: bounds, counts: Array(UnsafeBufferPointer(start: counts, count: boundCount + 1)),
                               sum: counts[boundCount + 1], count: counts[boundCount + 2])
    }
}

/// A histogram's counts at one instant, and how the Prometheus text format writes them.
public struct HistogramCounts: Sendable, Equatable {
    /// What the recorded integers are: nanoseconds (written as seconds) or plain counts.
    public enum Unit: Sendable, Equatable {
        case nanoseconds, count
    }

    public let unit: Unit
    /// Upper bounds of the buckets, ascending, in `unit`.
    public let bounds: [UInt64]
    /// Observations per bucket, not cumulative; one more than `bounds`: the last is above them all.
    public let counts: [UInt64]
    public let sum: UInt64
    public let count: UInt64

    /// The family's samples (its `_bucket` series cumulative, then `_sum` and `_count`), without
    /// the `# HELP` and `# TYPE` lines.
    func samples(name: String) -> String {
        var text = ""
        var cumulative: UInt64 = 0
        for (bound, observations) in zip(bounds, counts) {
            cumulative += observations
            text += "\(name)_bucket{le=\"\(format(bound))\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        text += "\(name)_sum \(unit == .nanoseconds ? "\(Double(sum) / 1e9)" : "\(sum)")\n"
        text += "\(name)_count \(count)\n"
        return text
    }

    /// A bound as Prometheus reads it: nanoseconds as exact decimal seconds (`0.0005`), counts as
    /// floats (`4.0`).
    private func format(_ bound: UInt64) -> String {
        guard unit == .nanoseconds else { return "\(Double(bound))" }
        var fraction = String(bound % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(bound / 1_000_000_000).\(fraction)"
    }
}
