import Dispatch

/// Where a ``StreamEngine`` reads the time when a call passes no `now:`: monotonic nanoseconds,
/// used for idle eviction and the idle times of listings. Tests inject their own.
public struct EngineClock: Sendable {
    /// The current time in nanoseconds; never goes back.
    public let nanoseconds: @Sendable () -> UInt64

    /// A clock reading `nanoseconds`, which must never go back.
    public init(nanoseconds: @escaping @Sendable () -> UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The system's monotonic clock (time since boot; it does not jump when the wall clock is set).
    public static let monotonic = EngineClock { DispatchTime.now().uptimeNanoseconds }
}
