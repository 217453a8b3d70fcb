/// The daemon's totals since it started: the one definition from which the `status` reply's
/// `counters`, the engine's counts and the Prometheus metrics (`lstmd_<name>_total`) all derive.
///
/// Invariants (Protocols/control-protocol.md §4.2), at any moment:
/// - `streams_started + streams_restored = streams_finished + streams_evicted + streams_dropped +`
///   live streams (each stream entry ends exactly once);
/// - `predictions_published` counts PARTIAL and FINAL messages only; ERRORs are counted in `errors`;
/// - `rows_received` counts every ingest message read, valid or not, so it is at least
///   `rows_applied + duplicates` plus the messages refused with an error.
public struct Counters: Sendable, Equatable, Codable {
    /// One total; its raw value is its JSON key, ``meaning`` says what it counts.
    public enum Total: String, Sendable, CaseIterable, CodingKey {
        case rowsReceived = "rows_received"
        case rowsApplied = "rows_applied"
        case duplicates
        case predictionsPublished = "predictions_published"
        case streamsStarted = "streams_started"
        case streamsRestored = "streams_restored"
        case streamsRestarted = "streams_restarted"
        case streamsFinished = "streams_finished"
        case streamsEvicted = "streams_evicted"
        case streamsDropped = "streams_dropped"

        /// What the total counts, in one line (also the `# HELP` of its Prometheus metric).
        public var meaning: String {
            switch self {
            case .rowsReceived: "Ingest messages (ROW or END) read from PULL and ROUTER, valid or not, counted before decoding."
            case .rowsApplied: "Rows that advanced a stream."
            case .duplicates: "Rows discarded silently (or repeated) because their index was below the stream's next row."
            case .predictionsPublished: "PARTIAL and FINAL messages published on PUB (ERRORs are counted in lstmd_errors_total)."
            case .streamsStarted: "Streams created by a row 0."
            case .streamsRestored: "Streams recreated from a snapshot at start."
            case .streamsRestarted: "Live streams restarted by a new row 0 (not counted again as started)."
            case .streamsFinished: "Streams that ended with a FINAL."
            case .streamsEvicted: "Streams dropped for idleness (with ERROR evicted; silently for a restored stream no row reached)."
            case .streamsDropped: "Streams ended otherwise: END, gap, the drop command, shutting down."
            }
        }
    }

    private var totals: [UInt64] = Array(repeating: 0, count: Total.allCases.count)
    /// ERRORs sent, by code (codes never sent are absent).
    public var errors: [String: UInt64] = [:]

    public init(_ totals: [Total: UInt64] = [:], errors: [String: UInt64] = [:]) {
        for (total, value) in totals { self[total] = value }
        self.errors = errors
    }

    public subscript(_ total: Total) -> UInt64 {
        get { totals[Self.position(total)] }
        set { totals[Self.position(total)] = newValue }
    }

    private static func position(_ total: Total) -> Int { Total.allCases.firstIndex(of: total)! }

    /// The totals of two counting parties (e.g. the engine and the daemon's sockets) together.
    public static func + (lhs: Counters, rhs: Counters) -> Counters {
        var sum = lhs
        for i in sum.totals.indices { sum.totals[i] += rhs.totals[i] }
        sum.errors.merge(rhs.errors, uniquingKeysWith: +)
        return sum
    }

    private struct ErrorsKey: CodingKey {
        var stringValue: String { "errors" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { guard stringValue == "errors" else { return nil } }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Total.self)
        for total in Total.allCases { self[total] = try container.decodeIfPresent(UInt64.self, forKey: total) ?? 0 }
        errors = try decoder.container(keyedBy: ErrorsKey.self).decode([String: UInt64].self, forKey: ErrorsKey())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Total.self)
        for total in Total.allCases { try container.encode(self[total], forKey: total) }
        var errorsContainer = encoder.container(keyedBy: ErrorsKey.self)
        try errorsContainer.encode(errors, forKey: ErrorsKey())
    }
}
