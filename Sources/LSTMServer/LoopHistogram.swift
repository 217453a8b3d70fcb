/// A histogram the serving loop fills with plain array increments: no lock, no allocation, no
/// floating point. The loop owns it; `ServerMetrics` gets a copy about once a second and before a
/// `metrics` reply, and writes it in the Prometheus text format itself (swift-prometheus'
/// histograms take one locked observation at a time, with no way to add counts in bulk).
public struct LoopHistogram: Sendable, Equatable {
    /// What the recorded integers are: nanoseconds (written as seconds) or plain counts.
    public enum Unit: Sendable, Equatable {
        case nanoseconds, count
    }

    public let unit: Unit
    /// Upper bounds of the buckets, ascending, in `unit`; a value above the last is in +Inf only.
    public let bounds: [UInt64]
    /// Observations per bucket, not cumulative; one more than `bounds`: the last is above them all.
    public private(set) var counts: [UInt64]
    public private(set) var sum: UInt64 = 0
    public private(set) var count: UInt64 = 0

    public init(unit: Unit, bounds: [UInt64]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must ascend")
        self.unit = unit
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// One observation. The bounds are few and small values the common case: a scan from the
    /// smallest bound ends after a few predictable comparisons.
    @inline(__always)
    public mutating func record(_ value: UInt64) {
        var bucket = 0
        while bucket < bounds.count && value > bounds[bucket] { bucket += 1 }
        counts[bucket] &+= 1
        sum &+= value
        count &+= 1
    }

    /// The family's samples in the text format (its `_bucket` series cumulative, then `_sum` and
    /// `_count`), without the `# HELP` and `# TYPE` lines.
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
