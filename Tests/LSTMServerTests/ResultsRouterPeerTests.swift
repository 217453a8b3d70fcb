import Foundation
import Logging
@testable import LSTMServer
import Testing
import WireProtocol
import ZeroMQ

/// Issue 13: the results router keeps a peer only while it holds something, so peers that came and
/// went cost nothing (it once kept every routing id it had seen).
@Suite struct ResultsRouterPeerTests {
    let context: ZMQContext
    let router: ResultsRouter

    init() throws {
        context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .router)
        try socket.set(.linger, .zero)
        try socket.set(.sendHWM, 2)
        try socket.bind("inproc://results-router-peers")
        router = try ResultsRouter(socket: socket, parkLimitBytes: 1 << 20, outboxLimitBytes: 1 << 20,
                                   logger: Logger(label: "router-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func dealer() throws -> ZMQSocket {
        let dealer = try ZMQSocket(context, type: .dealer)
        try dealer.set(.linger, .zero)
        try dealer.set(.receiveHWM, 2)
        try dealer.connect("inproc://results-router-peers")
        return dealer
    }

    /// Reads one message and hands its peer to `body`.
    func readOne(_ body: (ResultsRouter.Peer) -> Void) throws {
        var got = false
        for _ in 0..<200 where !got {
            _ = try router.read(budget: 1) { _, peer in body(peer); got = true }
            if !got { usleep(5_000) }
        }
        #expect(got, "the router read the DEALER's message")
    }

    @Test func aPeerIsForgottenWhenItsLastStreamEnds() throws {
        let client = try dealer()
        let stream = try StreamID("bound")
        _ = try client.send([Array("bound".utf8), [0], [0]])
        try readOne { peer in router.bind(stream, to: peer) }
        #expect(router.keptPeers == 1)
        #expect(router.peer(of: stream) != nil)
        router.unbind(stream)
        #expect(router.keptPeers == 0, "an idle peer is not kept")
        // A peer that only sent (e.g. rows refused with an error) is never kept.
        _ = try client.send([Array("other".utf8), [0], [0]])
        try readOne { _ in }
        #expect(router.keptPeers == 0)
    }

    @Test func aBlockedPeerThatDisconnectsIsForgotten() throws {
        let client = try dealer()
        let stream = try StreamID("blocked")
        _ = try client.send([Array("blocked".utf8), [0], [0]])
        try readOne { peer in router.bind(stream, to: peer) }
        let message = [UInt8](repeating: 7, count: 100)
        for _ in 0..<20 {
            message.withUnsafeBytes { bytes in
                if let peer = router.peer(of: stream) { router.send(bytes, bytes, bytes, to: peer) }
            }
        }
        #expect(router.hasBacklog, "the DEALER does not read: its predictions wait in its outbox")
        client.close()
        router.unbind(stream)
        // As the serving loop does: read (which sees the departure), then flush.
        for _ in 0..<200 where router.hasBacklog {
            _ = try router.read(budget: 1) { _, _ in }
            router.flush { _, _ in }
            usleep(5_000)
        }
        #expect(!router.hasBacklog, "the departed peer's outbox was discarded")
        #expect(router.keptPeers == 0, "and the peer forgotten")
    }
}
