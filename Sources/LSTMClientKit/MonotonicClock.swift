import Foundation

/// The clock of the client's timeouts and of latencies measured with it: CLOCK_MONOTONIC in
/// nanoseconds (never goes back, unaffected by changes of the wall clock).
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// `seconds` as nanoseconds of that clock (negative: 0).
func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
