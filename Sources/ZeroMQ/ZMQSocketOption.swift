internal import CZeroMQ

/// A socket option with its value type, for `ZMQSocket.set(_:_:)` and `ZMQSocket.get(_:)`:
///
/// ```swift
/// try socket.set(.linger, .zero)
/// try socket.set(.receiveHWM, 100_000)
/// let limit = try socket.get(.maxMessageSize)
/// ```
public struct ZMQSocketOption<Value>: Hashable, Sendable, CustomStringConvertible {
    let name: Int32
    /// libzmq's macro name, for error messages.
    let label: String
    /// Whether libzmq stores the option as `int64_t` rather than `int`.
    let isInt64: Bool

    init(_ name: Int32, _ label: String, isInt64: Bool = false) {
        self.name = name
        self.label = label
        self.isInt64 = isInt64
    }

    /// libzmq's name, e.g. `ZMQ_LINGER`.
    public var description: String { label }
}

extension ZMQSocketOption where Value == Int {
    /// Outgoing high-water mark in messages (`ZMQ_SNDHWM`, default 1000, 0 = none). At the mark
    /// PUB and ROUTER drop, PUSH/DEALER/REQ block.
    public static var sendHWM: Self { .init(ZMQ_SNDHWM, "ZMQ_SNDHWM") }
    /// Incoming high-water mark in messages (`ZMQ_RCVHWM`, default 1000, 0 = none).
    public static var receiveHWM: Self { .init(ZMQ_RCVHWM, "ZMQ_RCVHWM") }
    /// Largest message in bytes a peer may send (`ZMQ_MAXMSGSIZE`, default -1 = no limit). A peer
    /// sending more over tcp or ipc is disconnected and its message is never delivered.
    public static var maxMessageSize: Self { .init(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", isInt64: true) }
    /// TCP keepalive (`ZMQ_TCP_KEEPALIVE`): -1 keeps the OS default (libzmq's default), 0 off, 1 on.
    public static var tcpKeepalive: Self { .init(ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE") }
}

extension ZMQSocketOption where Value == Bool {
    /// ROUTER: sending to an unknown routing id throws `hostUnreachable`, and a full peer makes
    /// the send block or return false, instead of silently dropping (`ZMQ_ROUTER_MANDATORY`,
    /// write-only, default false).
    public static var routerMandatory: Self { .init(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY") }
    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`, default false).
    public static var immediate: Self { .init(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE") }
    /// Act as CURVE server: needs `curveSecretKey` (`ZMQ_CURVE_SERVER`, default false).
    public static var curveServer: Self { .init(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER") }
}

extension ZMQSocketOption where Value == ZMQTimeout {
    /// How long `close()` keeps undelivered messages (`ZMQ_LINGER`). libzmq's default is
    /// `.infinite`, and this wrapper keeps it: context termination then waits for delivery.
    public static var linger: Self { .init(ZMQ_LINGER, "ZMQ_LINGER") }
    /// Longest blocking receive before it returns nil (`ZMQ_RCVTIMEO`, default infinite).
    public static var receiveTimeout: Self { .init(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO") }
    /// Longest blocking send before it returns false (`ZMQ_SNDTIMEO`, default infinite).
    public static var sendTimeout: Self { .init(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO") }
}

extension ZMQSocketOption where Value == Duration {
    /// Interval between ZMTP heartbeat PINGs (`ZMQ_HEARTBEAT_IVL`, whole ms, default 0 = off).
    public static var heartbeatInterval: Self { .init(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL") }
    /// How long the peer may treat this connection as alive after a PING, telling it to
    /// time out (`ZMQ_HEARTBEAT_TTL`, tenths of a second, default 0 = no limit).
    public static var heartbeatTTL: Self { .init(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL") }
}

extension ZMQSocketOption where Value == Duration? {
    /// How long to wait for any traffic after a PING before closing the connection
    /// (`ZMQ_HEARTBEAT_TIMEOUT`); nil, the default, means the heartbeat interval.
    public static var heartbeatTimeout: Self { .init(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT") }
}

extension ZMQSocketOption where Value == [UInt8] {
    /// The identity a ROUTER peer sees for this socket (`ZMQ_ROUTING_ID`, 1–255 bytes, not
    /// starting with a zero byte); set before connecting.
    public static var routingID: Self { .init(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID") }
    /// The domain this socket's handshakes name in their ZAP requests (`ZMQ_ZAP_DOMAIN`, up to 254
    /// bytes); set before bind.
    public static var zapDomain: Self { .init(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN") }
}

extension ZMQSocketOption where Value == ZMQCurveKey {
    /// This socket's long-term CURVE public key (`ZMQ_CURVE_PUBLICKEY`; clients).
    public static var curvePublicKey: Self { .init(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY") }
    /// This socket's long-term CURVE secret key (`ZMQ_CURVE_SECRETKEY`; clients and servers).
    public static var curveSecretKey: Self { .init(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY") }
    /// The server's public key a CURVE client expects (`ZMQ_CURVE_SERVERKEY`; set before connect).
    public static var curveServerKey: Self { .init(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY") }
}

extension ZMQSocket {
    // MARK: Typed options

    /// Sets an integer option.
    public func set(_ option: ZMQSocketOption<Int>, _ value: Int) throws(ZMQError) {
        if option.isInt64 {
            try setRaw(option, Int64(value), "\(value)")
        } else {
            guard let narrow = Int32(exactly: value) else {
                throw ZMQError.failed(operation: "zmq_setsockopt(\(option.label), \(value))", code: .invalidArgument)
            }
            try setRaw(option, narrow, "\(value)")
        }
    }

    /// Reads an integer option.
    public func get(_ option: ZMQSocketOption<Int>) throws(ZMQError) -> Int {
        option.isInt64 ? Int(try getRaw(option, as: Int64.self)) : Int(try getRaw(option, as: Int32.self))
    }

    /// Sets a boolean option.
    public func set(_ option: ZMQSocketOption<Bool>, _ value: Bool) throws(ZMQError) {
        try setRaw(option, Int32(value ? 1 : 0), "\(value)")
    }

    /// Reads a boolean option.
    public func get(_ option: ZMQSocketOption<Bool>) throws(ZMQError) -> Bool {
        try getRaw(option, as: Int32.self) != 0
    }

    /// Sets a timeout option.
    public func set(_ option: ZMQSocketOption<ZMQTimeout>, _ value: ZMQTimeout) throws(ZMQError) {
        try setRaw(option, value.rawMilliseconds, "\(value)")
    }

    /// Reads a timeout option.
    public func get(_ option: ZMQSocketOption<ZMQTimeout>) throws(ZMQError) -> ZMQTimeout {
        ZMQTimeout(rawMilliseconds: try getRaw(option, as: Int32.self))
    }

    /// Sets a duration option, in whole milliseconds.
    public func set(_ option: ZMQSocketOption<Duration>, _ value: Duration) throws(ZMQError) {
        try setRaw(option, try Self.milliseconds(value, option), "\(value)")
    }

    /// Reads a duration option.
    public func get(_ option: ZMQSocketOption<Duration>) throws(ZMQError) -> Duration {
        .milliseconds(try getRaw(option, as: Int32.self))
    }

    /// Sets an optional duration option; nil restores libzmq's fallback.
    public func set(_ option: ZMQSocketOption<Duration?>, _ value: Duration?) throws(ZMQError) {
        let raw: Int32
        if let value {
            raw = try Self.milliseconds(value, ZMQSocketOption<Duration>(option.name, option.label))
        } else {
            raw = -1
        }
        try setRaw(option, raw, value.map { "\($0)" } ?? "nil")
    }

    /// Reads an optional duration option.
    public func get(_ option: ZMQSocketOption<Duration?>) throws(ZMQError) -> Duration? {
        let raw = try getRaw(option, as: Int32.self)
        return raw < 0 ? nil : .milliseconds(raw)
    }

    /// Sets a binary option.
    public func set(_ option: ZMQSocketOption<[UInt8]>, _ value: [UInt8]) throws(ZMQError) {
        try setBytes(option.name, value, "zmq_setsockopt(\(option.label), \(value.count) bytes)")
    }

    /// Reads a binary option.
    public func get(_ option: ZMQSocketOption<[UInt8]>) throws(ZMQError) -> [UInt8] {
        try getBytes(option.name, capacity: 256, "zmq_getsockopt(\(option.label))")
    }

    /// Sets a CURVE key option.
    public func set(_ option: ZMQSocketOption<ZMQCurveKey>, _ value: ZMQCurveKey) throws(ZMQError) {
        try setBytes(option.name, value.bytes, "zmq_setsockopt(\(option.label))")
    }

    /// Reads a CURVE key option.
    public func get(_ option: ZMQSocketOption<ZMQCurveKey>) throws(ZMQError) -> ZMQCurveKey {
        let bytes = try getBytes(option.name, capacity: ZMQCurveKey.byteCount, "zmq_getsockopt(\(option.label))")
        guard let key = ZMQCurveKey(bytes: bytes) else {
            throw ZMQError.failed(operation: "zmq_getsockopt(\(option.label)) returned \(bytes.count) bytes", code: .invalidArgument)
        }
        return key
    }

    // MARK: Subscriptions and read-only state

    /// SUB: receive messages whose first frame starts with `prefix` (`ZMQ_SUBSCRIBE`); the empty
    /// prefix subscribes to everything. Prefix match means "7" also gets "70": end topics with a
    /// delimiter (or give them a fixed length) to match exactly.
    public func subscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setBytes(ZMQ_SUBSCRIBE, prefix, "zmq_setsockopt(ZMQ_SUBSCRIBE, \(prefix))")
    }

    /// SUB: subscribe to the UTF-8 bytes of `prefix`.
    public func subscribe(_ prefix: String) throws(ZMQError) { try subscribe(Array(prefix.utf8)) }

    /// SUB: remove one earlier subscription to exactly `prefix` (`ZMQ_UNSUBSCRIBE`).
    public func unsubscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setBytes(ZMQ_UNSUBSCRIBE, prefix, "zmq_setsockopt(ZMQ_UNSUBSCRIBE, \(prefix))")
    }

    /// SUB: unsubscribe from the UTF-8 bytes of `prefix`.
    public func unsubscribe(_ prefix: String) throws(ZMQError) { try unsubscribe(Array(prefix.utf8)) }

    /// The endpoint last bound or connected, resolved (`ZMQ_LAST_ENDPOINT`): after
    /// `bind("tcp://127.0.0.1:*")` it names the port chosen. Empty before any bind or connect.
    public var lastEndpoint: String {
        get throws(ZMQError) {
            let bytes = try getBytes(ZMQ_LAST_ENDPOINT, capacity: 1024, "zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Whether the frame just received is followed by more frames of its message (`ZMQ_RCVMORE`).
    public var hasMoreFrames: Bool {
        get throws(ZMQError) { try getInt32(ZMQ_RCVMORE, "zmq_getsockopt(ZMQ_RCVMORE)") != 0 }
    }

    /// Whether a message can be received or sent now without blocking (`ZMQ_EVENTS`). Reading it
    /// also lets libzmq process pending commands, which re-arms `fileDescriptor`.
    public var events: ZMQEvents {
        get throws(ZMQError) {
            ZMQEvents(rawValue: Int16(truncatingIfNeeded: try getInt32(ZMQ_EVENTS, "zmq_getsockopt(ZMQ_EVENTS)")))
        }
    }

    /// A file descriptor that becomes readable, edge-triggered, when `events` may have changed
    /// (`ZMQ_FD`), for integrating with another event loop. Never read from or write to it; after
    /// it fires, check `events` until neither readable nor writable applies.
    public var fileDescriptor: Int32 {
        get throws(ZMQError) { try getInt32(ZMQ_FD, "zmq_getsockopt(ZMQ_FD)") }
    }

    // MARK: libzmq calls

    private static func milliseconds(_ duration: Duration, _ option: ZMQSocketOption<Duration>) throws(ZMQError) -> Int32 {
        guard case .milliseconds(let value) = ZMQTimeout(duration), duration >= .zero,
              let narrow = Int32(exactly: value) else {
            throw ZMQError.failed(operation: "zmq_setsockopt(\(option.label), \(duration))", code: .invalidArgument)
        }
        return narrow
    }

    private func setRaw<Value, Raw: FixedWidthInteger>(_ option: ZMQSocketOption<Value>, _ raw: Raw, _ shown: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_setsockopt(\(option.label), \(shown))")
        var value = raw
        if zmq_setsockopt(socket, option.name, &value, MemoryLayout<Raw>.size) != 0 {
            throw ZMQError.current("zmq_setsockopt(\(option.label), \(shown))")
        }
    }

    private func getRaw<Value, Raw: FixedWidthInteger>(_ option: ZMQSocketOption<Value>, as: Raw.Type) throws(ZMQError) -> Raw {
        let socket = try liveHandle("zmq_getsockopt(\(option.label))")
        var value: Raw = 0
        var size = MemoryLayout<Raw>.size
        if zmq_getsockopt(socket, option.name, &value, &size) != 0 {
            throw ZMQError.current("zmq_getsockopt(\(option.label))")
        }
        return value
    }

    private func getInt32(_ name: Int32, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
        let socket = try liveHandle(operation())
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(socket, name, &value, &size) != 0 { throw ZMQError.current(operation()) }
        return value
    }

    private func setBytes(_ name: Int32, _ bytes: [UInt8], _ operation: @autoclosure () -> String) throws(ZMQError) {
        let socket = try liveHandle(operation())
        let status = bytes.withUnsafeBytes { zmq_setsockopt(socket, name, $0.baseAddress, $0.count) }
        if status != 0 { throw ZMQError.current(operation()) }
    }

    private func getBytes(_ name: Int32, capacity: Int, _ operation: @autoclosure () -> String) throws(ZMQError) -> [UInt8] {
        let socket = try liveHandle(operation())
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let status = buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, name, $0.baseAddress, &size) }
        if status != 0 { throw ZMQError.current(operation()) }
        buffer.removeSubrange(size...)
        return buffer
    }
}
