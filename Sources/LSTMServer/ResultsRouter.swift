import DequeModule
import Logging
import Foundation
import WireProtocol
import ZeroMQ

/// The lossless result path (stream protocol §11): a ROUTER socket whose DEALER peers send rows and
/// receive the predictions of the streams they started, in order, none dropped.
///
/// When a peer reads slowly its queue in libzmq fills; the message that does not fit waits in the
/// peer's outbox, and the rows that peer sends meanwhile are parked unread by the engine until the
/// outbox has drained (backpressure on that peer only). Both are bounded in bytes per peer: a peer
/// whose outbox or parked rows pass their bound *overflows*: the host drops its streams with
/// `overflow`, its parked rows are discarded, and rows it sends are discarded until it has read
/// its outbox. The socket itself is never paused, so other peers are always served.
///
/// A peer is kept only while it holds something: a backlog or bound streams. A peer that
/// disconnected loses its outbox at the next send to it (libzmq then reports it unreachable), and
/// is forgotten once its parked rows are applied and its streams ended; the number of peers
/// connected at once is bounded by `max-results-peers` (``ConnectionLimit``).
final class ResultsRouter {
    final class Peer {
        let routingID: [UInt8]
        /// Prediction messages (topic, header, body) that libzmq could not take yet, oldest first.
        var outbox = Deque<[[UInt8]]>()
        var outboxBytes = 0
        /// Ingest messages (stream id, header, row) read while the outbox was not empty.
        var parked = Deque<[[UInt8]]>()
        var parkedBytes = 0
        /// Past a bound: its streams are dropped and what it sends is discarded until it catches up.
        var overflowed = false
        /// Streams bound to it.
        var boundStreams = 0
        var isBlocked: Bool { !outbox.isEmpty }
        /// Holds nothing: a new Peer of its routing id would be the same.
        var isIdle: Bool { outbox.isEmpty && parked.isEmpty && !overflowed && boundStreams == 0 }

        init(routingID: [UInt8]) { self.routingID = routingID }

        var hexID: String { routingID.map { String(format: "%02x", $0) }.joined() }
    }

    /// Bytes one held message costs: its frames plus the arrays that hold them.
    static func heldBytes(_ frames: [[UInt8]]) -> Int { frames.reduce(32) { $0 + $1.count + 32 } }

    let socket: ZMQSocket
    private let parkLimitBytes: Int
    private let outboxLimitBytes: Int
    private let logger: Logger
    /// The peers that are not idle.
    private var peers: [[UInt8]: Peer] = [:]
    /// Bound streams by routing id, so that a peer that reconnects with the same id (ZMQ_ROUTING_ID)
    /// gets its streams' predictions again.
    private var streamPeers: [StreamID: [UInt8]] = [:]
    private var blocked: [Peer] = []
    /// Peers that passed a bound since the host last asked (`takeOverflowed`).
    private var newlyOverflowed: [Peer] = []
    private let received = ZMQMultipart(capacity: 4)

    init(socket: ZMQSocket, parkLimitBytes: Int, outboxLimitBytes: Int, logger: Logger) throws(ZMQError) {
        self.socket = socket
        self.parkLimitBytes = parkLimitBytes
        self.outboxLimitBytes = outboxLimitBytes
        self.logger = logger
        try socket.set(.routerMandatory, true)
    }

    /// True while some peer has rows parked or predictions waiting: the loop then polls briefly.
    var hasBacklog: Bool { !blocked.isEmpty }

    /// Reads up to `budget` messages; each unblocked one goes to `accept` with its peer, each from a
    /// blocked peer is parked (or discarded once the peer has overflowed). Returns how many it read,
    /// whatever became of them.
    func read(budget: Int, _ accept: (ArraySlice<UnsafeRawBufferPointer>, Peer) -> Void) throws -> Int {
        for count in 0..<budget {
            guard try socket.receiveMultipart(into: received, dontWait: true) else { return count }
            let peer = received.withUnsafeFrames { frames in peerFor(Array(frames[frames.startIndex])) }
            if peer.overflowed {
                continue   // discarded unread until the peer has read its outbox
            } else if peer.isBlocked {
                let frames = received.withUnsafeFrames { frames in frames.dropFirst().map { Array($0) } }
                peer.parkedBytes += Self.heldBytes(frames)
                peer.parked.append(frames)
                if peer.parkedBytes > parkLimitBytes { overflow(peer, "rows parked for it passed \(parkLimitBytes) bytes") }
            } else {
                received.withUnsafeFrames { frames in accept(frames.dropFirst(), peer) }
            }
        }
        return budget
    }

    /// The kept peer of `routingID`, else a new one, kept once it holds something (``keep(_:)``).
    private func peerFor(_ routingID: [UInt8]) -> Peer {
        peers[routingID] ?? Peer(routingID: routingID)
    }

    private func keep(_ peer: Peer) {
        if peers[peer.routingID] == nil { peers[peer.routingID] = peer }
    }

    private func forgetIfIdle(_ peer: Peer) {
        if peer.isIdle, peers[peer.routingID] === peer { peers[peer.routingID] = nil }
    }

    /// Peers kept (not idle).
    var keptPeers: Int { peers.count }

    /// Binds `stream` to `peer`: its predictions go to that peer from now on.
    func bind(_ stream: StreamID, to peer: Peer) {
        if let previous = streamPeers.updateValue(peer.routingID, forKey: stream) {
            if previous == peer.routingID { return }
            if let other = peers[previous] { other.boundStreams -= 1; forgetIfIdle(other) }
        }
        peer.boundStreams += 1
        keep(peer)
    }

    /// Forgets the binding of a stream that ended.
    func unbind(_ stream: StreamID) {
        guard let routingID = streamPeers.removeValue(forKey: stream), let peer = peers[routingID] else { return }
        peer.boundStreams -= 1
        forgetIfIdle(peer)
    }

    func peer(of stream: StreamID) -> Peer? {
        guard !streamPeers.isEmpty, let routingID = streamPeers[stream] else { return nil }
        return peerFor(routingID)
    }

    /// The streams bound to `peer`.
    func streams(of peer: Peer) -> [StreamID] {
        streamPeers.compactMap { $0.value == peer.routingID ? $0.key : nil }
    }

    /// Peers that overflowed since the last call: the host drops their streams (with `overflow`,
    /// which still reaches the peer: those last messages are queued past the bound).
    func takeOverflowed() -> [Peer] {
        defer { newlyOverflowed.removeAll() }
        return newlyOverflowed
    }

    /// Sends a prediction message to `peer`, or queues it behind the ones already waiting.
    func send(_ topic: UnsafeRawBufferPointer, _ header: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer,
              to peer: Peer) {
        let frames = [Array(topic), Array(header), Array(body)]
        if !peer.isBlocked {
            switch trySend(frames, to: peer) {
            case .sent, .peerGone: return
            case .full:
                blocked.append(peer)
                keep(peer)
                logger.notice("results client reads slowly: holding its rows until it catches up",
                              metadata: ["peer": "\(peer.hexID)"])
            }
        }
        peer.outbox.append(frames)
        peer.outboxBytes += Self.heldBytes(frames)
        if peer.outboxBytes > outboxLimitBytes { overflow(peer, "predictions waiting for it passed \(outboxLimitBytes) bytes") }
    }

    private func overflow(_ peer: Peer, _ reason: String) {
        guard !peer.overflowed else { return }
        peer.overflowed = true
        peer.parked.removeAll()
        peer.parkedBytes = 0
        newlyOverflowed.append(peer)
        logger.warning("results client overflowed: its streams are dropped and its rows discarded until it reads",
                       metadata: ["peer": "\(peer.hexID)", "reason": "\(reason)"])
    }

    /// Sends what waits in blocked peers' outboxes; for each peer that drained, hands its parked rows
    /// to `accept` (in order) until one of them blocks the peer again.
    func flush(_ accept: ([[UInt8]], Peer) -> Void) {
        guard !blocked.isEmpty else { return }
        var stillBlocked: [Peer] = []
        for peer in blocked {
            sending: while let message = peer.outbox.first {
                switch trySend(message, to: peer) {
                case .sent:
                    peer.outbox.removeFirst()
                    peer.outboxBytes -= Self.heldBytes(message)
                case .full: break sending
                case .peerGone: break sending   // trySend discarded the whole outbox
                }
            }
            if !peer.isBlocked { peer.overflowed = false }
            while !peer.isBlocked, let frames = peer.parked.popFirst() {
                peer.parkedBytes -= Self.heldBytes(frames)
                accept(frames, peer)
            }
            if peer.isBlocked || !peer.parked.isEmpty {
                stillBlocked.append(peer)
            } else {
                logger.notice("results client caught up", metadata: ["peer": "\(peer.hexID)"])
                forgetIfIdle(peer)
            }
        }
        blocked = stillBlocked
    }

    private enum SendOutcome { case sent, full, peerGone }

    private func trySend(_ frames: [[UInt8]], to peer: Peer) -> SendOutcome {
        do {
            guard try socket.sendFrame(peer.routingID, more: true, dontWait: true) else { return .full }
            _ = try socket.sendFrame(frames[0], more: true, dontWait: true)
            _ = try socket.sendFrame(frames[1], more: true, dontWait: true)
            _ = try socket.sendFrame(frames[2], dontWait: true)
            return .sent
        } catch {
            // EHOSTUNREACH: the peer disconnected. Its messages are discarded; its streams run on
            // (the rows it parked before leaving are still applied, then it is forgotten).
            peer.outbox.removeAll()
            peer.outboxBytes = 0
            return .peerGone
        }
    }
}
