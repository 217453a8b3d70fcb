import Foundation
internal import Synchronization

/// One authentication request of ZAP (ZeroMQ RFC 27), sent by libzmq for each handshake on a
/// socket whose mechanism is not NULL.
public struct ZAPRequest: Sendable, Equatable {
    /// The socket's `zapDomain`.
    public var domain: String
    /// The peer's address, e.g. `127.0.0.1`.
    public var address: String
    /// The peer's routing id, if it set one.
    public var routingID: [UInt8]
    /// `NULL`, `PLAIN` or `CURVE`.
    public var mechanism: String
    /// The mechanism's credentials: for CURVE, the client's 32-byte public key.
    public var credentials: [[UInt8]]

    /// The client's public key of a CURVE handshake; nil for other mechanisms.
    public var curveKey: ZMQCurveKey? {
        guard mechanism == "CURVE", credentials.count == 1 else { return nil }
        return ZMQCurveKey(bytes: credentials[0])
    }
}

/// A ZAP handler's answer: accept (200, with the user id that received messages then carry as
/// their `User-Id` property) or deny (400).
public struct ZAPReply: Sendable, Equatable {
    public var statusCode: String
    public var statusText: String
    public var userID: String

    /// Accepts the peer; its messages carry `userID` as their `User-Id` property.
    public static func accept(userID: String) -> ZAPReply { ZAPReply(statusCode: "200", statusText: "OK", userID: userID) }
    /// Refuses the peer: the handshake fails and the connection never carries a message.
    public static func deny(_ reason: String) -> ZAPReply { ZAPReply(statusCode: "400", statusText: reason, userID: "") }
}

/// A ZAP handler (ZeroMQ RFC 27): a REP socket bound to `inproc://zeromq.zap.01` in `context`, on
/// a thread of its own, that answers each handshake of the context's secured sockets (and of
/// sockets with a `zapDomain`, whatever their mechanism) by calling `decide`.
///
/// Its own thread, not the serving loop's poll: handshakes then never wait for a busy loop turn
/// and the loop's hot path stays as it is; `decide` must be thread-safe (it is called on this
/// thread only, one request at a time).
///
/// The same thread reads the socket monitors given as `monitors` (see ``ZMQSocket/monitor(_:on:)``)
/// and hands their events to each one's `onEvent`, always after receiving a ZAP request and before
/// deciding it. In a context with one I/O thread (the default) libzmq reports a connection's
/// acceptance before that connection's handshake starts, so `decide` sees every connection
/// accepted before the one it judges, that one included.
///
/// Bind secured sockets only after `init` returned: libzmq lets every CURVE client in while no
/// handler is bound. The thread ends at `stop()` or when the context is terminated.
public final class ZMQZAPHandler: Sendable {
    /// The endpoint libzmq sends ZAP requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// A socket monitor the handler reads: the inproc endpoint it reports on, and what to do with
    /// each event.
    public struct Monitor: Sendable {
        public let endpoint: String
        public let onEvent: @Sendable (ZMQMonitorEvent) -> Void

        public init(endpoint: String, onEvent: @escaping @Sendable (ZMQMonitorEvent) -> Void) {
            self.endpoint = endpoint
            self.onEvent = onEvent
        }
    }

    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the handler, connects to the `monitors`' endpoints (their sockets may start
    /// monitoring later) and starts its thread; throws when the endpoint cannot be bound (e.g.
    /// another handler already serves this context).
    public init(context: ZMQContext, monitors: [Monitor] = [],
                decide: @escaping @Sendable (ZAPRequest) -> ZAPReply) throws(ZMQError) {
        let bound = DispatchSemaphore(value: 0)
        let bindResult = Mutex<ZMQError?>(nil)
        let thread = Thread { [self] in
            defer { finished.signal() }
            let socket: ZMQSocket
            let readers: [(socket: ZMQSocket, onEvent: @Sendable (ZMQMonitorEvent) -> Void)]
            let poller = ZMQPoller()
            do throws(ZMQError) {
                socket = try ZMQSocket(context, type: .rep)
                try socket.set(.linger, .zero)
                try socket.bind(Self.endpoint)
                readers = try monitors.map { monitor throws(ZMQError) in
                    let reader = try ZMQSocket(context, type: .pair)
                    try reader.set(.linger, .zero)
                    try reader.connect(monitor.endpoint)
                    return (reader, monitor.onEvent)
                }
                try poller.add(socket, events: .readable)
                for reader in readers { try poller.add(reader.socket, events: .readable) }
            } catch {
                bindResult.withLock { $0 = error }
                bound.signal()
                return
            }
            bound.signal()
            defer {
                socket.close()
                for reader in readers { reader.socket.close() }
            }
            /// Hands on every event reported so far.
            func readEvents() {
                for reader in readers {
                    while let frames = try? reader.socket.receiveMultipart(dontWait: true) {
                        if let event = ZMQMonitorEvent(frames: frames) { reader.onEvent(event) }
                    }
                }
            }
            while !stopped.load(ordering: .relaxed) {
                do {
                    guard try poller.poll(timeout: .milliseconds(100)) > 0 else { continue }
                    readEvents()
                    // Received first, then the events: a request's connection was reported before it.
                    while let frames = try socket.receiveMultipart(dontWait: true) {
                        try socket.send(Self.answer(frames) { request in
                            readEvents()
                            return decide(request)
                        })
                    }
                } catch {
                    return  // context terminated (or a socket broke): no more handshakes to answer
                }
            }
        }
        thread.name = "zap-handler"
        thread.start()
        bound.wait()
        if let error = bindResult.withLock({ $0 }) {
            finished.wait()
            throw error
        }
    }

    /// Stops the thread and waits for it (at most one receive timeout, 100 ms). Calling it again
    /// does nothing.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }

    /// The reply frames to one request's frames (RFC 27 §"ZAP reply").
    static func answer(_ frames: [[UInt8]], decide: (ZAPRequest) -> ZAPReply) -> [[UInt8]] {
        let version = Array("1.0".utf8)
        let requestID = frames.count > 1 ? frames[1] : []
        func reply(_ r: ZAPReply) -> [[UInt8]] {
            [version, requestID, Array(r.statusCode.utf8), Array(r.statusText.utf8), Array(r.userID.utf8), []]
        }
        guard frames.count >= 6, frames[0] == version else {
            return reply(ZAPReply(statusCode: "500", statusText: "malformed ZAP request", userID: ""))
        }
        let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        return reply(decide(ZAPRequest(domain: text(frames[2]), address: text(frames[3]), routingID: frames[4],
                                       mechanism: text(frames[5]), credentials: Array(frames[6...]))))
    }
}
