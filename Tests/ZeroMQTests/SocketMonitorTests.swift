import Foundation
import Testing
import ZeroMQ

/// Socket monitors read on the ZAP handler's thread: what the daemon's connection limits are built on.
@Suite("Socket monitors read by the ZAP handler")
struct SocketMonitorTests {
    @Test("Each handshake is judged after its own connection's acceptance was handed on; closed connections are reported")
    func acceptanceComesBeforeTheHandshake() throws {
        let context = try ZMQContext()
        let endpoint = "inproc://monitor-test-\(UUID().uuidString)"
        let open = Shared<Set<UInt32>>([])
        let openAtDecision = Shared<[Int]>([])
        let handler = try ZMQZAPHandler(context: context, monitors: [.init(endpoint: endpoint) { event in
            var descriptors = open.value
            if event.kind == .accepted { descriptors.insert(event.value) }
            if event.kind == .disconnected { descriptors.remove(event.value) }
            open.value = descriptors
        }]) { request in
            openAtDecision.value.append(open.value.count)
            return request.domain == "limited" ? .accept(userID: "") : .deny("wrong domain")
        }
        defer { handler.stop() }
        let publisher = try ZMQSocket(context, type: .pub)
        try publisher.set(.linger, .zero)
        try publisher.set(.zapDomain, Array("limited".utf8))   // NULL mechanism: ZAP is asked because of the domain
        try publisher.monitor([.accepted, .disconnected], on: endpoint)
        try publisher.bind("tcp://127.0.0.1:*")
        let address = try publisher.lastEndpoint
        let subscribers = try (0..<16).map { _ in
            let subscriber = try ZMQSocket(context, type: .sub)
            try subscriber.set(.linger, .zero)
            try subscriber.subscribe()
            try subscriber.connect(address)
            return subscriber
        }
        let deadline = Date().addingTimeInterval(10)
        while openAtDecision.value.count < 16 && Date() < deadline { usleep(5_000) }
        let seen = openAtDecision.value
        #expect(seen.count == 16, "one ZAP request per connection, NULL mechanism included")
        // The k-th decision saw at least k open connections: its own among them.
        #expect(zip(seen, 1...).allSatisfy { $0 >= $1 } && seen.allSatisfy { $0 <= 16 }, "\(seen)")
        for subscriber in subscribers.prefix(6) { subscriber.close() }
        while open.value.count > 10 && Date() < deadline { usleep(5_000) }
        #expect(open.value.count == 10, "closed connections are reported with the descriptors they were accepted with")
        withExtendedLifetime(subscribers) {}
    }

    @Test("A monitor event is read from its two frames")
    func eventFrames() {
        let event = ZMQMonitorEvent(frames: [[0x20, 0x00, 0x2a, 0x00, 0x00, 0x00], Array("tcp://127.0.0.1:5556".utf8)])
        #expect(event == ZMQMonitorEvent(kind: .accepted, value: 42, endpoint: "tcp://127.0.0.1:5556"))
        #expect(ZMQMonitorEvent(frames: [[0x20, 0x00, 0x2a]]) == nil)
        #expect(ZMQMonitorEvents.disconnected.description == "disconnected")
    }
}
