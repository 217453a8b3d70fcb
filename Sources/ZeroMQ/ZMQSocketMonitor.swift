internal import CZeroMQ

/// Kinds of event a socket monitor reports (`ZMQ_EVENT_*`, the stable ones of libzmq 4.3).
public struct ZMQMonitorEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A listening socket accepted a connection; the value is its file descriptor.
    public static let accepted = Self(rawValue: UInt16(ZMQ_EVENT_ACCEPTED))
    /// A connection closed, for any reason (a failed handshake included); the value is its file
    /// descriptor.
    public static let disconnected = Self(rawValue: UInt16(ZMQ_EVENT_DISCONNECTED))
    /// A connection finished its handshake (and its ZAP authentication, if any); the value is 0.
    public static let handshakeSucceeded = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    /// The ZAP handler refused a connection; the value is the ZAP status code (e.g. 400).
    public static let handshakeFailedAuth = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
    /// The monitor ended (the socket closed); the last event.
    public static let monitorStopped = Self(rawValue: UInt16(ZMQ_EVENT_MONITOR_STOPPED))

    public var description: String {
        let names: [(Self, String)] = [(.accepted, "accepted"), (.disconnected, "disconnected"),
                                       (.handshakeSucceeded, "handshake succeeded"),
                                       (.handshakeFailedAuth, "handshake failed (auth)"), (.monitorStopped, "monitor stopped")]
        let known = names.filter { contains($0.0) }.map(\.1)
        return known.isEmpty ? "event 0x\(String(rawValue, radix: 16))" : known.joined(separator: ", ")
    }
}

/// One event of a monitored socket, as `zmq_socket_monitor` sends it (two frames: the event and
/// its value, then the endpoint).
public struct ZMQMonitorEvent: Sendable, Equatable {
    /// Exactly one kind.
    public var kind: ZMQMonitorEvents
    /// The event's value: a file descriptor, an errno or a status code, by kind.
    public var value: UInt32
    /// The endpoint it concerns.
    public var endpoint: String

    public init(kind: ZMQMonitorEvents, value: UInt32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// The event in a monitor message's frames; nil when they are not one.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let head = frames[0]
        kind = ZMQMonitorEvents(rawValue: UInt16(head[0]) | UInt16(head[1]) << 8)
        value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Reports this socket's `events` on the PAIR socket it binds at inproc `endpoint`
    /// (`zmq_socket_monitor`): connect a PAIR there (before or after this call) and read the events
    /// as ``ZMQMonitorEvent``s. Call it before `bind` to see every connection. libzmq sends the
    /// events blocking, from its I/O thread: the reader must keep reading while this socket lives.
    public func monitor(_ events: ZMQMonitorEvents, on endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_socket_monitor(\"\(endpoint)\")")
        if zmq_socket_monitor(socket, endpoint, Int32(events.rawValue)) != 0 {
            throw ZMQError.current("zmq_socket_monitor(\"\(endpoint)\")")
        }
    }
}
