internal import CZeroMQ

/// Facts about the libzmq library this process is linked against.
public enum ZMQ {
    /// A libzmq version number, e.g. `4.3.4`.
    public struct Version: Hashable, Comparable, Sendable, CustomStringConvertible {
        /// Incompatible API changes.
        public let major: Int
        /// Compatible additions.
        public let minor: Int
        /// Fixes.
        public let patch: Int

        /// A version to compare against, e.g. `Version(major: 4, minor: 3, patch: 0)`.
        public init(major: Int, minor: Int, patch: Int) {
            self.major = major
            self.minor = minor
            self.patch = patch
        }

        public static func < (lhs: Version, rhs: Version) -> Bool {
            (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }

        /// `major.minor.patch`.
        public var description: String { "\(major).\(minor).\(patch)" }
    }

    /// The version of the libzmq loaded at run time (`zmq_version`).
    public static var version: Version {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return Version(major: Int(major), minor: Int(minor), patch: Int(patch))
    }

    /// Whether libzmq was built with a capability (`zmq_has`): "ipc", "pgm", "tipc", "norm",
    /// "curve", "gssapi", "draft".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}

/// How long a blocking libzmq operation may wait: linger, send/receive timeouts and poll.
public enum ZMQTimeout: Hashable, Sendable, CustomStringConvertible {
    /// Wait without limit (libzmq's `-1`).
    case infinite
    /// Wait at most this many milliseconds; `0` means do not wait at all.
    case milliseconds(Int)

    /// Do not wait.
    public static let zero = ZMQTimeout.milliseconds(0)

    /// Wait at most `seconds` seconds.
    public static func seconds(_ seconds: Int) -> ZMQTimeout { .milliseconds(seconds * 1000) }

    /// The duration rounded down to whole milliseconds; negative durations mean zero.
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        if milliseconds.overflow {
            self = seconds < 0 ? .zero : .infinite
        } else {
            let total = milliseconds.partialValue + attoseconds / 1_000_000_000_000_000
            self = .milliseconds(Int(clamping: max(0, total)))
        }
    }

    /// libzmq's encoding: `-1` for infinite, milliseconds clamped to `Int32` otherwise.
    var rawMilliseconds: Int32 {
        switch self {
        case .infinite: return -1
        case .milliseconds(let value): return Int32(clamping: max(0, value))
        }
    }

    init(rawMilliseconds: Int32) {
        self = rawMilliseconds < 0 ? .infinite : .milliseconds(Int(rawMilliseconds))
    }

    public var description: String {
        switch self {
        case .infinite: return "infinite"
        case .milliseconds(let value): return "\(value) ms"
        }
    }
}

/// Readiness of a socket: the bits of `ZMQ_EVENTS` and of a poll item's events.
public struct ZMQEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// At least one message can be received without blocking (`ZMQ_POLLIN`).
    public static let readable = ZMQEvents(rawValue: Int16(ZMQ_POLLIN))
    /// At least one message can be sent without blocking (`ZMQ_POLLOUT`).
    public static let writable = ZMQEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error condition on a plain file descriptor (`ZMQ_POLLERR`); never set for ZeroMQ sockets.
    public static let error = ZMQEvents(rawValue: Int16(ZMQ_POLLERR))

    public var description: String {
        var names: [String] = []
        if contains(.readable) { names.append("readable") }
        if contains(.writable) { names.append("writable") }
        if contains(.error) { names.append("error") }
        return "[" + names.joined(separator: ", ") + "]"
    }
}
