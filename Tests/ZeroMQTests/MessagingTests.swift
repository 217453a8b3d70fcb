import Foundation
import Testing
import ZeroMQ

@Suite("Messaging over real sockets")
struct MessagingTests {
    @Test("PUSH/PULL carries multipart messages with empty and large frames", arguments: Transport.allCases)
    func pushPullMultipart(transport: Transport) throws {
        let pair = try SocketPair(transport, bound: .pull, connected: .push)
        let large = pattern(3 * 1024 * 1024 + 7)
        let message: [[UInt8]] = [[], bytes("header"), large, []]

        #expect(try pair.connected.send(message))
        #expect(try pair.bound.receiveMultipart() == message)

        try pair.connected.send([bytes("single")])
        #expect(try pair.bound.receiveMultipart() == [bytes("single")])
    }

    @Test("Receiving into a reusable ZMQMultipart follows each message's frame count")
    func reusableMultipart() throws {
        let pair = try SocketPair(.inproc, bound: .pull, connected: .push)
        let parts = ZMQMultipart(capacity: 1)
        let messages: [[[UInt8]]] = [
            [bytes("a"), bytes("bb"), bytes("ccc")],
            [bytes("only")],
            [[], pattern(100_000)],
        ]
        for message in messages { try pair.connected.send(message) }
        for message in messages {
            #expect(try pair.bound.receiveMultipart(into: parts))
            #expect(parts.count == message.count)
            #expect(parts.frames == message)
            #expect(parts.last?.hasMore == false)
            #expect(parts.dropLast().allSatisfy { $0.hasMore })
        }
        #expect(try pair.bound.receiveMultipart(into: parts, dontWait: true) == false)
        #expect(parts.isEmpty)
    }

    @Test("Frames can be sent from raw buffers and ZMQMessage, and received into a buffer")
    func rawBuffersAndMessages() throws {
        let pair = try SocketPair(.inproc, bound: .pull, connected: .push)
        let payload = pattern(64)
        _ = try payload.withUnsafeBytes { buffer in
            try pair.connected.sendFrame(buffer, more: true)
        }
        let message = ZMQMessage(bytes("tail"))
        #expect(try pair.connected.send(message))
        #expect(message.isEmpty)

        var buffer = [UInt8](repeating: 0, count: 16)
        let size = try buffer.withUnsafeMutableBytes { try pair.bound.receiveFrame(into: $0) }
        #expect(size == 64)
        #expect(buffer == Array(payload.prefix(16)))
        #expect(try pair.bound.hasMoreFrames)

        let received = ZMQMessage()
        #expect(try pair.bound.receive(into: received))
        #expect(received.bytes == bytes("tail"))
        #expect(received.hasMore == false)
        #expect(try pair.bound.hasMoreFrames == false)
    }

    @Test("REQ/REP round trip; REQ sending twice is EFSM")
    func requestReply() throws {
        let pair = try SocketPair(.tcp, bound: .rep, connected: .req)
        try pair.connected.send([bytes("ping"), bytes("7")])
        #expect(try pair.bound.receiveMultipart() == [bytes("ping"), bytes("7")])
        try pair.bound.send([bytes("pong")])
        #expect(try pair.connected.receiveMultipart() == [bytes("pong")])

        try pair.connected.sendFrame(bytes("again"))
        let error = #expect(throws: ZMQError.self) { try pair.connected.sendFrame(bytes("too soon")) }
        #expect(error?.code == .invalidState)
    }

    @Test("SUB prefix subscriptions: \"7\" also gets \"70\"; a delimiter makes the match exact")
    func subscriptionPrefixes() throws {
        let pair = try SocketPair(.inproc, bound: .pub, connected: .sub) { _, subscriber in
            try subscriber.set(.receiveTimeout, .milliseconds(20))
        }
        let (publisher, subscriber) = (pair.bound, pair.connected)
        try subscriber.subscribe("7")

        // Subscriptions travel to the publisher asynchronously: publish until one arrives.
        var first: [[UInt8]]?
        for _ in 0..<250 where first == nil {
            try publisher.send([bytes("70"), bytes("probe")])
            first = try subscriber.receiveMultipart()
        }
        #expect(first == [bytes("70"), bytes("probe")])
        while try subscriber.receiveMultipart(dontWait: true) != nil {}

        try publisher.send([bytes("8"), bytes("filtered")])
        try publisher.send([bytes("7"), bytes("exact")])
        #expect(try subscriber.receiveMultipart() == [bytes("7"), bytes("exact")])

        // Exact match: topics end with a zero byte, so "7\0" is no prefix of "70\0".
        try subscriber.unsubscribe("7")
        try subscriber.subscribe(bytes("7") + [0])
        var exact: [[UInt8]]?
        for _ in 0..<250 where exact == nil {
            try publisher.send([bytes("70") + [0], bytes("other stream")])
            try publisher.send([bytes("7") + [0], bytes("mine")])
            exact = try subscriber.receiveMultipart()
        }
        #expect(exact == [bytes("7") + [0], bytes("mine")])
        while let message = try subscriber.receiveMultipart(dontWait: true) {
            #expect(message[0] == bytes("7") + [0])
        }
    }

    @Test("ROUTER sees the DEALER's routing id and replies through it")
    func routerDealer() throws {
        let pair = try SocketPair(.tcp, bound: .router, connected: .dealer) { router, dealer in
            try dealer.set(.routingID, bytes("client-1"))
            try router.set(.routerMandatory, true)
        }
        let (router, dealer) = (pair.bound, pair.connected)
        #expect(try dealer.get(.routingID) == bytes("client-1"))

        try dealer.send([bytes("hello")])
        let parts = ZMQMultipart()
        #expect(try router.receiveMultipart(into: parts))
        #expect(parts.frames == [bytes("client-1"), bytes("hello")])

        // Forward the received routing id frame without copying it.
        #expect(try router.send(parts[0], more: true))
        try router.sendFrame(bytes("world"))
        #expect(try dealer.receiveMultipart() == [bytes("world")])

        let error = #expect(throws: ZMQError.self) { try router.send([bytes("nobody"), bytes("lost")]) }
        #expect(error?.code == .hostUnreachable)
    }

    @Test("A receive timeout and a non-blocking receive on an empty socket return nil")
    func emptyReceives() throws {
        let pair = try SocketPair(.inproc, bound: .pull, connected: .push) { pull, _ in
            try pull.set(.receiveTimeout, .milliseconds(30))
        }
        #expect(try pair.bound.receiveMultipart() == nil)
        #expect(try pair.bound.receiveMultipart(dontWait: true) == nil)
        #expect(try pair.bound.receive(into: ZMQMessage(), dontWait: true) == false)
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(try buffer.withUnsafeMutableBytes { try pair.bound.receiveFrame(into: $0, dontWait: true) } == nil)
    }

    @Test("A non-blocking send with no peer returns false")
    func sendWouldBlock() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context, type: .push)
        try push.set(.linger, .zero)
        try push.bind("inproc://no-peer-\(UUID().uuidString)")
        #expect(try push.send([bytes("x")], dontWait: true) == false)
        try push.set(.sendTimeout, .milliseconds(20))
        #expect(try push.sendFrame(bytes("x")) == false)
    }

    @Test("maxMessageSize drops an oversized message and the connection, not later messages",
          arguments: [Transport.tcp, .ipc])
    func maxMessageSize(transport: Transport) throws {
        let pair = try SocketPair(transport, bound: .pull, connected: .push) { pull, _ in
            try pull.set(.maxMessageSize, 1000)
            try pull.set(.receiveTimeout, .milliseconds(300))
        }
        #expect(try pair.bound.get(.maxMessageSize) == 1000)
        try pair.connected.send([pattern(1001)])
        #expect(try pair.bound.receiveMultipart() == nil)

        // The PUSH side reconnects; a message within the limit gets through.
        try pair.bound.set(.receiveTimeout, .seconds(10))
        try pair.connected.send([pattern(1000)])
        #expect(try pair.bound.receiveMultipart() == [pattern(1000)])
    }

    @Test("A socket configured on one task can be sent to another and used there")
    func socketMovesToTask() async throws {
        let context = try ZMQContext()
        let endpoint = "inproc://moved-\(UUID().uuidString)"
        let pull = try ZMQSocket(context, type: .pull)
        try pull.set(.receiveTimeout, .seconds(10))
        try pull.bind(endpoint)
        // `pull` is used only inside the task from here on, so region isolation lets it go.
        let receiver = Task.detached { try pull.receiveMultipart() }

        let push = try ZMQSocket(context, type: .push)
        try push.set(.linger, .zero)
        try push.connect(endpoint)
        try push.send([bytes("moved")])
        #expect(try await receiver.value == [bytes("moved")])
    }
}
