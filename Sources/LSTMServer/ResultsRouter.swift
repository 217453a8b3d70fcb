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
/// outbox has drained (backpressure on that peer only). Parked rows are bounded: a peer with
/// `parkLimit` rows parked pauses the whole socket until it reads (stated in the spec).
final class ResultsRouter {
    final class Peer {
        let routingID: [UInt8]
        /// Prediction messages (topic, header, body) that libzmq could not take yet, oldest first.
        var outbox = Deque<[[UInt8]]>()
        /// Ingest messages (stream id, header, row) read while the outbox was not empty.
        var parked = Deque<[[UInt8]]>()
        var isBlocked: Bool { !outbox.isEmpty }

        init(routingID: [UInt8]) { self.routingID = routingID }

        var hexID: String { routingID.map { String(format: "%02x", $0) }.joined() }
    }

    let socket: ZMQSocket
    private let parkLimit: Int
    private let logger: Logger
    private var peers: [[UInt8]: Peer] = [:]
    /// Bound streams by routing id, so that a peer that reconnects with the same id (ZMQ_ROUTING_ID)
    /// gets its streams' predictions again.
    private var streamPeers: [StreamID: [UInt8]] = [:]
    private var blocked: [Peer] = []
    private let received = ZMQMultipart(capacity: 4)
    /// Messages to peers that had disconnected, discarded as the spec allows.
    private(set) var discardedForGonePeers: UInt64 = 0

    init(socket: ZMQSocket, parkLimit: Int, logger: Logger) throws(ZMQError) {
        self.socket = socket
        self.parkLimit = parkLimit
        self.logger = logger
        try socket.set(.routerMandatory, true)
    }

    /// True while some peer has rows parked or predictions waiting: the loop then polls briefly.
    var hasBacklog: Bool { !blocked.isEmpty }

    /// True when a peer has reached its park limit: the loop stops reading the socket until it drains.
    var isPaused: Bool { blocked.contains { $0.parked.count >= parkLimit } }

    /// Reads up to `budget` messages; each unblocked one goes to `accept` with its peer, each from a
    /// blocked peer is parked.
    func read(budget: Int, _ accept: (ArraySlice<UnsafeRawBufferPointer>, Peer) -> Void) throws {
        for _ in 0..<budget where !isPaused {
            guard try socket.receiveMultipart(into: received, dontWait: true) else { return }
            let peer = received.withUnsafeFrames { frames in peerFor(Array(frames[frames.startIndex])) }
            if peer.isBlocked {
                peer.parked.append(received.withUnsafeFrames { frames in frames.dropFirst().map { Array($0) } })
            } else {
                received.withUnsafeFrames { frames in accept(frames.dropFirst(), peer) }
            }
        }
    }

    private func peerFor(_ routingID: [UInt8]) -> Peer {
        if let peer = peers[routingID] { return peer }
        let peer = Peer(routingID: routingID)
        peers[routingID] = peer
        return peer
    }

    /// Binds `stream` to `peer`: its predictions go to that peer from now on.
    func bind(_ stream: StreamID, to peer: Peer) { streamPeers[stream] = peer.routingID }

    /// Forgets the binding of a stream that ended.
    func unbind(_ stream: StreamID) { streamPeers[stream] = nil }

    func peer(of stream: StreamID) -> Peer? {
        guard !streamPeers.isEmpty, let routingID = streamPeers[stream] else { return nil }
        return peerFor(routingID)
    }

    /// Sends a prediction message to `peer`, or queues it behind the ones already waiting.
    func send(_ topic: UnsafeRawBufferPointer, _ header: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer,
              to peer: Peer) {
        let frames = [Array(topic), Array(header), Array(body)]
        if peer.isBlocked {
            peer.outbox.append(frames)
            return
        }
        switch trySend(frames, to: peer) {
        case .sent, .peerGone: break
        case .full:
            peer.outbox.append(frames)
            blocked.append(peer)
            logger.notice("results client reads slowly: holding its rows until it catches up",
                          metadata: ["peer": "\(peer.hexID)"])
        }
    }

    /// Sends what waits in blocked peers' outboxes; for each peer that drained, hands its parked rows
    /// to `accept` (in order) until one of them blocks the peer again.
    func flush(_ accept: ([[UInt8]], Peer) -> Void) {
        guard !blocked.isEmpty else { return }
        var stillBlocked: [Peer] = []
        for peer in blocked {
            while let message = peer.outbox.first {
                if trySend(message, to: peer) == .full { break }
                peer.outbox.removeFirst()
            }
            while !peer.isBlocked, let frames = peer.parked.popFirst() { accept(frames, peer) }
            if peer.isBlocked || !peer.parked.isEmpty {
                stillBlocked.append(peer)
            } else {
                logger.notice("results client caught up", metadata: ["peer": "\(peer.hexID)"])
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
            // EHOSTUNREACH: the peer disconnected. Its messages are discarded; its streams run on.
            discardedForGonePeers += 1
            peer.outbox.removeAll()
            peers[peer.routingID] = nil
            return .peerGone
        }
    }
}
