#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// systemd's service notification protocol (`sd_notify(3)`) without libsystemd: each message is one
/// `AF_UNIX` datagram of newline-separated `KEY=VALUE` lines sent to `$NOTIFY_SOCKET`.
///
/// Outside systemd (`NOTIFY_SOCKET` unset or empty) every call does nothing and succeeds, so the
/// daemon calls it unconditionally. systemd is Linux's: elsewhere a set `NOTIFY_SOCKET` gets
/// ``SystemdNotifierError/unavailable``. Failures are thrown, never fatal: a daemon that cannot reach
/// systemd should log and keep serving (systemd then times the service out if it must).
public struct SystemdNotifier: Sendable {
    /// The `NOTIFY_SOCKET` value: an absolute path, or `@name` for the abstract namespace; nil when
    /// the service manager did not ask for notifications.
    public let socketAddress: String?
    /// How often to call ``watchdog()``: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    /// advises; nil when the watchdog is off or meant for another process (`WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    /// - Parameter processID: this process's id, compared with `WATCHDOG_PID`.
    public init(environment: [String: String], processID: Int32 = getpid()) {
        let socket = environment["NOTIFY_SOCKET"] ?? ""
        socketAddress = socket.isEmpty ? nil : socket
        watchdogInterval = Self.watchdogInterval(environment: environment, processID: processID)
    }

    /// Whether messages go anywhere.
    public var isEnabled: Bool { socketAddress != nil }

    /// `READY=1`: start-up (or a reload) is finished; systemd moves the unit to "active".
    public func ready() throws(SystemdNotifierError) { try send("READY=1") }

    /// `STATUS=…`: one line shown by `systemctl status`. Newlines would start new keys, so they are
    /// replaced by spaces.
    public func status(_ text: String) throws(SystemdNotifierError) {
        try send("STATUS=" + text.replacing("\n", with: " "))
    }

    /// `WATCHDOG=1`: the keep-alive ping; due every ``watchdogInterval``.
    public func watchdog() throws(SystemdNotifierError) { try send("WATCHDOG=1") }

    /// `STOPPING=1`: a graceful stop has begun (draining may take a while).
    public func stopping() throws(SystemdNotifierError) { try send("STOPPING=1") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, the `CLOCK_MONOTONIC` time the reload began, which
    /// systemd ≥ 253 requires for `Type=notify-reload`. Follow it with ``ready()`` when done.
    public func reloading(monotonicMicroseconds: UInt64 = SystemdNotifier.monotonicMicroseconds()) throws(SystemdNotifierError) {
        try send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds)")
    }

    /// Sends `state` as one datagram; does nothing when ``isEnabled`` is false.
    public func send(_ state: String) throws(SystemdNotifierError) {
        guard let socketAddress else { return }
        #if os(Linux)
        let (address, length) = try Self.socketAddress(socketAddress)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketCreation(errno: errno) }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: address) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), pointer, length) }
            }
        }
        if sent < 0 { throw .send(socket: socketAddress, errno: errno) }
        #else
        throw .unavailable(socketAddress)
        #endif
    }

    /// The current `CLOCK_MONOTONIC` time in microseconds, the clock systemd's `MONOTONIC_USEC` uses.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    // MARK: Details

    private static func watchdogInterval(environment: [String: String], processID: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else {
            return nil
        }
        if let pid = environment["WATCHDOG_PID"], !pid.isEmpty, Int32(pid) != processID { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    #if os(Linux)
    /// `sockaddr_un` for a path (NUL-terminated) or an abstract `@name` (a leading NUL instead of
    /// `@`, no terminator: the length alone delimits the name).
    private static func socketAddress(_ text: String) throws(SystemdNotifierError) -> (storage: sockaddr_un, length: socklen_t) {
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        var bytes = Array(text.utf8)
        switch bytes.first {
        case UInt8(ascii: "@"):
            bytes[0] = 0
        case UInt8(ascii: "/"):
            bytes.append(0)
        default:
            throw .unsupportedAddress(text)
        }
        guard bytes.count <= capacity else { throw .addressTooLong(text, limit: capacity) }
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count
        return (storage, socklen_t(length))
    }
    #endif
}

/// Why a notification did not reach systemd.
public enum SystemdNotifierError: Error, Equatable, CustomStringConvertible {
    /// `NOTIFY_SOCKET` is neither an absolute path nor an `@abstract` name.
    case unsupportedAddress(String)
    /// The socket name does not fit in `sockaddr_un.sun_path`.
    case addressTooLong(String, limit: Int)
    /// `socket(AF_UNIX, SOCK_DGRAM)` failed.
    case socketCreation(errno: Int32)
    /// `sendto` failed (e.g. `ECONNREFUSED`: nothing listens there any more).
    case send(socket: String, errno: Int32)
    /// Not on Linux: no systemd to notify.
    case unavailable(String)

    public var description: String {
        switch self {
        case let .unsupportedAddress(address):
            "NOTIFY_SOCKET '\(address)' is neither an absolute path nor an @abstract socket name"
        case let .addressTooLong(address, limit):
            "NOTIFY_SOCKET '\(address)' is longer than a unix socket address allows (\(limit) bytes)"
        case let .socketCreation(code):
            "cannot create a unix datagram socket for systemd notifications: \(Self.text(code))"
        case let .send(socket, code):
            "cannot send a notification to systemd at \(socket): \(Self.text(code))"
        case let .unavailable(socket):
            "NOTIFY_SOCKET is '\(socket)', but systemd notifications are sent only on Linux"
        }
    }

    private static func text(_ code: Int32) -> String { "\(String(cString: strerror(code))) (errno \(code))" }
}
