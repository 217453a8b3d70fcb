import DaemonTestSupport
import Foundation
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// Issue 13 #6, the subscribers: a real lstmd with `--max-subscribers 3` and real SUB sockets, on
/// its ipc predictions endpoint and on tcp.
@Suite(.serialized) struct SubscriberLimitTests {
    /// SUB sockets of one test, each subscribed to every topic.
    final class Subscribers {
        let context: ZMQContext
        var sockets: [ZMQSocket] = []
        let endpoint: String

        init(endpoint: String) throws {
            context = try ZMQContext()
            self.endpoint = endpoint
        }

        @discardableResult
        func add() throws -> Int {
            let socket = try ZMQSocket(context, type: .sub)
            try socket.set(.linger, .zero)
            try socket.subscribe()
            try socket.connect(endpoint)
            sockets.append(socket)
            return sockets.count - 1
        }

        /// Which sockets receive the probe message on `topic` within `milliseconds` (each reads
        /// what is waiting, skipping other topics).
        func receivers(of topic: String, milliseconds: Int = 300) throws -> Set<Int> {
            var got = Set<Int>()
            let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
            while Date() < deadline && got.count < sockets.count {
                for (i, socket) in sockets.enumerated() where !socket.isClosed && !got.contains(i) {
                    while let frames = try socket.receiveMultipart(dontWait: true) {
                        if String(decoding: frames[0], as: UTF8.self) == topic { got.insert(i) }
                    }
                }
                usleep(2_000)
            }
            return got
        }
    }

    /// An END of an unknown stream: the daemon answers on that stream's topic, to every admitted
    /// subscriber.
    func probe(_ push: ZMQSocket, _ n: Int) throws -> String {
        let topic = "probe-\(n)"
        _ = try push.send(IngestMessage(streamID: try StreamID(topic), header: IngestHeader(kind: .end, row: 0, sequence: 0), row: []).frames)
        return topic
    }

    /// Probes until `expected` sockets are the receivers (at most `seconds`); the last receivers.
    func awaitReceivers(_ subscribers: Subscribers, _ push: ZMQSocket, _ expected: Set<Int>, seconds: Double = 10,
                        from n: inout Int) throws -> Set<Int> {
        let deadline = Date().addingTimeInterval(seconds)
        var got = Set<Int>()
        repeat {
            n += 1
            got = try subscribers.receivers(of: try probe(push, n))
        } while got != expected && Date() < deadline
        return got
    }

    func checkLimit(predictions: String?) throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--max-subscribers", "3"]
                                       + (predictions.map { ["--predictions", $0] } ?? []), directory: directory)
        let subscribers = try Subscribers(endpoint: predictions ?? daemon.predictions)
        let push = try ZMQSocket(subscribers.context, type: .push)
        try push.set(.linger, .zero)
        try push.connect(daemon.ingest)
        var n = 0
        for _ in 0..<3 { try subscribers.add() }
        #expect(try awaitReceivers(subscribers, push, [0, 1, 2], from: &n) == [0, 1, 2], "the first three are served")

        // A fourth gets nothing, however long it waits; the three are still served.
        try subscribers.add()
        for _ in 0..<10 {
            n += 1
            let got = try subscribers.receivers(of: try probe(push, n))
            #expect(got == [0, 1, 2], "probe \(n) reached \(got.sorted())")
        }
        #expect(daemon.logContains("subscriber refused: max-subscribers reached"), "\(daemon.log)")
        #expect(daemon.log.contains("max_subscribers=3"))

        // One of the three leaves: its place is free for a new connection once the daemon has seen
        // it go. libzmq does not retry a connection its peer refused, so, as a client would, each
        // attempt that gets nothing within a second is closed and a new one made.
        subscribers.sockets[1].close()
        var newcomer: Int?
        for _ in 0..<20 where newcomer == nil {
            let attempt = try subscribers.add()
            for _ in 0..<3 where newcomer == nil {
                n += 1
                let got = try subscribers.receivers(of: try probe(push, n))
                #expect(got.count <= 3 && got.isSuperset(of: [0, 2]), "probe \(n) reached \(got.sorted())")
                if got.contains(attempt) { newcomer = attempt }
            }
            if newcomer == nil { subscribers.sockets[attempt].close() }
        }
        let fifth = try #require(newcomer, "a new subscriber takes the free place")
        // And the next one gets nothing again.
        try subscribers.add()
        for _ in 0..<5 {
            n += 1
            let reached = try subscribers.receivers(of: try probe(push, n))
            #expect(reached.count == 3 && reached.isSuperset(of: [0, 2, fifth]), "probe \(n) reached \(reached.sorted())")
        }
        #expect(daemon.stop() == 0)
    }

    /// Issue 13: a burst of `limit + 10` subscribers connecting at once. Counting every accepted
    /// connection, handshakes still waiting for their ZAP decision included, lstmd refused nearly
    /// all of them (0–14 of 60 admitted at a limit of 50); exactly `limit` must be served. The
    /// refused ones never come back by themselves (libzmq does not retry a refused connection,
    /// stream-protocol.md §10), so places freed later go to clients that connect again.
    func checkBurst(predictions: String?, limit: Int = 20) throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--max-subscribers", "\(limit)"]
                                       + (predictions.map { ["--predictions", $0] } ?? []), directory: directory)
        let subscribers = try Subscribers(endpoint: predictions ?? daemon.predictions)
        let push = try ZMQSocket(subscribers.context, type: .push)
        try push.set(.linger, .zero)
        try push.connect(daemon.ingest)
        for _ in 0..<(limit + 10) { try subscribers.add() }
        var n = 0
        var served = Set<Int>()
        let deadline = Date().addingTimeInterval(15)
        repeat {
            n += 1
            served = try subscribers.receivers(of: try probe(push, n))
        } while served.count < limit && Date() < deadline
        #expect(served.count == limit, "\(served.count) of \(limit + 10) served at max-subscribers \(limit)")
        for _ in 0..<3 {
            n += 1
            let got = try subscribers.receivers(of: try probe(push, n))
            #expect(got == served, "probe \(n) reached \(got.count): the same \(limit) subscribers, no more")
        }

        // Three of them leave: the refused ones stay unserved, three new subscribers are served.
        let leaving = Set(served.sorted().prefix(3))
        for i in leaving { subscribers.sockets[i].close() }
        usleep(500_000)
        let staying = served.subtracting(leaving)
        for _ in 0..<3 {
            n += 1
            let got = try subscribers.receivers(of: try probe(push, n))
            #expect(got == staying, "probe \(n) reached \(got.sorted()); a refused subscriber does not connect again")
        }
        let newcomers = Set(try (0..<3).map { _ in try subscribers.add() })
        let got = try awaitReceivers(subscribers, push, staying.union(newcomers), from: &n)
        #expect(got == staying.union(newcomers), "the freed places go to the three new subscribers: \(got.sorted())")
        #expect(daemon.stop() == 0)
    }

    @Test func aBurstOfSubscribersAdmitsExactlyTheLimitOnIPC() throws {
        try checkBurst(predictions: nil)
    }

    @Test func aBurstOfSubscribersAdmitsExactlyTheLimitOnTCP() throws {
        try checkBurst(predictions: "tcp://127.0.0.1:\(try CurveDaemonTests.freePorts(1)[0])")
    }

    @Test func aSubscriberPastTheLimitGetsNothingUntilAPlaceIsFreeOnIPC() throws {
        try checkLimit(predictions: nil)
    }

    @Test func aSubscriberPastTheLimitGetsNothingUntilAPlaceIsFreeOnTCP() throws {
        try checkLimit(predictions: "tcp://127.0.0.1:\(try CurveDaemonTests.freePorts(1)[0])")
    }
}
