internal import CZeroMQ
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Waits until any of a fixed set of sockets (or plain file descriptors) is ready (`zmq_poll`).
///
/// Register once, then poll in a loop; polling allocates nothing:
///
/// ```swift
/// let poller = ZMQPoller()
/// let requests = poller.add(pull, events: .readable)
/// let control = poller.add(controlSocket)
/// while true {
///     guard try poller.poll(timeout: .milliseconds(100)) > 0 else { continue }
///     if poller.readyEvents(at: requests).contains(.readable) { ... }
/// }
/// ```
///
/// Not `Sendable`: it belongs to the thread that owns its sockets. It keeps its sockets alive; a
/// socket closed explicitly while registered makes `poll` throw `ENOTSOCK`.
public final class ZMQPoller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    /// An empty poller.
    public init() {}

    /// The number of registered sockets and descriptors.
    public var count: Int { items.count }

    /// Registers `socket` for `events`; returns its index for `readyEvents(at:)`.
    @discardableResult
    public func add(_ socket: ZMQSocket, events: ZMQEvents = .readable) throws(ZMQError) -> Int {
        let handle = try socket.liveHandle("ZMQPoller.add(\(socket.type) socket)")
        items.append(zmq_pollitem_t(socket: handle, fd: -1, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Registers a plain file descriptor (e.g. a signal pipe) for `events`; returns its index.
    @discardableResult
    public func add(fileDescriptor: Int32, events: ZMQEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Changes which events entry `index` waits for, e.g. to add `.writable` only while output is
    /// pending; an empty set ignores the entry.
    public func setEvents(_ events: ZMQEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// Waits up to `timeout` until at least one entry is ready, retrying on `EINTR` with the
    /// remaining time.
    ///
    /// - Returns: how many entries are ready (0 when the timeout passed); then
    ///   `readyEvents(at:)` tells which.
    public func poll(timeout: ZMQTimeout) throws(ZMQError) -> Int {
        let clock = ContinuousClock()
        let deadline: ContinuousClock.Instant? = switch timeout {
        case .infinite: nil
        case .milliseconds(let value): clock.now.advanced(by: .milliseconds(value))
        }
        var remaining = timeout
        var attempted = false
        let ready = try retryingOnInterrupt("zmq_poll(\(items.count) items)") {
            // After an interruption, wait only for what is left of the timeout.
            if attempted, let deadline { remaining = ZMQTimeout(deadline - clock.now) }
            attempted = true
            return items.withUnsafeMutableBufferPointer { buffer in
                zmq_poll(buffer.baseAddress, Int32(buffer.count), Int(remaining.rawMilliseconds))
            }
        }
        return Int(ready ?? 0)
    }

    /// What entry `index` was ready for at the last `poll`.
    public func readyEvents(at index: Int) -> ZMQEvents {
        ZMQEvents(rawValue: items[index].revents)
    }

    /// Whether entry `index` was readable at the last `poll`.
    public func isReadable(_ index: Int) -> Bool { readyEvents(at: index).contains(.readable) }

    /// Whether entry `index` was writable at the last `poll`.
    public func isWritable(_ index: Int) -> Bool { readyEvents(at: index).contains(.writable) }
}

@available(*, unavailable, message: "A ZMQPoller belongs to the thread that owns its sockets")
extension ZMQPoller: Sendable {}
