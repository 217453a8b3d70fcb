import Dispatch
import Foundation
import Testing
import ZeroMQ

@Suite("Context, poller, options and errors")
struct LifecycleTests {
    @Test("The linked libzmq reports its version and capabilities")
    func versionAndCapabilities() {
        let version = ZMQ.version
        #expect(version >= ZMQ.Version(major: 4, minor: 3, patch: 0))
        #expect(version.description == "\(version.major).\(version.minor).\(version.patch)")
        #expect(ZMQ.has("ipc"))
        #expect(!ZMQ.has("no-such-capability"))
    }

    @Test("The poller reports readiness per socket and times out when nothing is ready")
    func poller() throws {
        let pair = try SocketPair(.inproc, bound: .pull, connected: .push)
        let other = try SocketPair(.inproc, bound: .pull, connected: .push)
        let poller = ZMQPoller()
        let first = try poller.add(pair.bound)
        let second = try poller.add(other.bound)
        let sender = try poller.add(pair.connected, events: .writable)
        #expect(poller.count == 3)

        poller.setEvents([], at: sender)
        #expect(try poller.poll(timeout: .milliseconds(20)) == 0)
        #expect(poller.readyEvents(at: first).isEmpty)

        try other.connected.send([bytes("wake")])
        poller.setEvents(.writable, at: sender)
        #expect(try poller.poll(timeout: .seconds(10)) == 2)
        #expect(!poller.isReadable(first))
        #expect(poller.isReadable(second))
        #expect(poller.isWritable(sender))
        #expect(try other.bound.events.contains(.readable))
        #expect(try other.bound.receiveMultipart() == [bytes("wake")])
        #expect(try other.bound.events.contains(.readable) == false)
        #expect(try pair.bound.fileDescriptor >= 0)
    }

    @Test("linger defaults to infinite; with linger 0 a socket holding undelivered messages does not block termination")
    func lingerZero() throws {
        let context = try ZMQContext()
        let finished = Shared(false)
        let done = runOnThread {
            do {
                let push = try ZMQSocket(context, type: .push)
                #expect(try push.get(.linger) == .infinite)
                try push.set(.linger, .zero)
                #expect(try push.get(.linger) == .zero)
                try push.connect("tcp://127.0.0.1:9")  // nothing listens: the message stays queued
                #expect(try push.send([bytes("undeliverable")], dontWait: true))
                push.close()
                context.terminate()
                finished.value = true
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success, "terminate hung")
        #expect(finished.value)
    }

    @Test("Terminating the context makes a receive blocked on another thread throw contextTerminated")
    func terminateUnblocksReceive() throws {
        let context = try ZMQContext()
        let endpoint = "inproc://blocked-\(UUID().uuidString)"
        let bound = DispatchSemaphore(value: 0)
        let outcome = Shared<String?>(nil)
        let receiver = runOnThread {
            do throws(ZMQError) {
                let pull = try ZMQSocket(context, type: .pull)
                try pull.bind(endpoint)
                bound.signal()
                let message = try pull.receiveMultipart()
                outcome.value = "received \(String(describing: message))"
            } catch .contextTerminated(let operation) {
                outcome.value = "terminated in \(operation)"
            } catch {
                outcome.value = "failed: \(error)"
            }
        }
        #expect(bound.wait(timeout: .now() + 10) == .success)
        let terminator = runOnThread { context.terminate() }
        #expect(receiver.wait(timeout: .now() + 10) == .success, "receive was not interrupted")
        #expect(terminator.wait(timeout: .now() + 10) == .success, "terminate hung")
        #expect(outcome.value == "terminated in zmq_msg_recv")
        #expect(context.isTerminating)
        #expect(throws: ZMQError.contextTerminated(operation: "zmq_socket(PUSH)")) {
            try ZMQSocket(context, type: .push)
        }
    }

    @Test("shutdown() interrupts blocking calls on this thread's socket, which can then close")
    func shutdownThenTerminate() throws {
        let context = try ZMQContext(ioThreads: 2)
        #expect(context.ioThreads == 2)
        let pull = try ZMQSocket(context, type: .pull)
        context.shutdown()
        #expect(context.isTerminating)
        let refused = #expect(throws: ZMQError.self) { try ZMQSocket(context, type: .push) }
        #expect(refused?.code == .contextTerminated)
        let error = #expect(throws: ZMQError.self) { try pull.receiveMultipart() }
        #expect(error?.code == .contextTerminated)
        pull.close()
        context.terminate()
    }

    @Test("Options round trip through libzmq")
    func optionsRoundTrip() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        #expect(socket.type == .dealer)
        #expect(try socket.get(.sendHWM) == 1000)
        try socket.set(.sendHWM, 50_000)
        try socket.set(.receiveHWM, 0)
        #expect(try socket.get(.sendHWM) == 50_000)
        #expect(try socket.get(.receiveHWM) == 0)
        #expect(try socket.get(.maxMessageSize) == -1)
        try socket.set(.maxMessageSize, 5_000_000_000)
        #expect(try socket.get(.maxMessageSize) == 5_000_000_000)
        try socket.set(.receiveTimeout, .milliseconds(250))
        try socket.set(.sendTimeout, .seconds(2))
        #expect(try socket.get(.receiveTimeout) == .milliseconds(250))
        #expect(try socket.get(.sendTimeout) == .milliseconds(2000))
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
        try socket.set(.tcpKeepalive, 1)
        #expect(try socket.get(.tcpKeepalive) == 1)
        #expect(try socket.get(.heartbeatTimeout) == nil)
        try socket.set(.heartbeatInterval, .milliseconds(500))
        try socket.set(.heartbeatTimeout, .seconds(3))
        try socket.set(.heartbeatTTL, .seconds(10))
        #expect(try socket.get(.heartbeatInterval) == .milliseconds(500))
        #expect(try socket.get(.heartbeatTimeout) == .seconds(3))
        #expect(try socket.get(.heartbeatTTL) == .seconds(10))
        #expect(try socket.lastEndpoint == "")

        let tooLarge = #expect(throws: ZMQError.self) { try socket.set(.sendHWM, Int(Int32.max) + 1) }
        #expect(tooLarge?.code == .invalidArgument)
        #expect(tooLarge?.operation == "zmq_setsockopt(ZMQ_SNDHWM, 2147483648)")
        let notSub = #expect(throws: ZMQError.self) { try socket.subscribe("x") }
        #expect(notSub?.code == .invalidArgument)
    }

    @Test("Errors carry libzmq's errno, the operation and a readable description")
    func errors() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pull)
        try socket.set(.linger, .zero)

        let malformed = #expect(throws: ZMQError.self) { try socket.bind("nonsense") }
        #expect(malformed?.code == .invalidArgument)
        #expect(malformed?.operation == "zmq_bind(\"nonsense\")")
        #expect(malformed?.description.contains("EINVAL") == true)

        let noPort = #expect(throws: ZMQError.self) { try socket.connect("tcp://nonsense") }
        #expect(noPort?.code == .invalidArgument)

        let transport = #expect(throws: ZMQError.self) { try socket.bind("carrier-pigeon://loft") }
        #expect(transport?.code == .protocolNotSupported)

        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let other = try ZMQSocket(context, type: .pull)
        let inUse = #expect(throws: ZMQError.self) { try other.bind(endpoint) }
        #expect(inUse?.code == .addressInUse)
        try socket.unbind(endpoint)
        let notBound = #expect(throws: ZMQError.self) { try socket.unbind(endpoint) }
        #expect(notBound?.code == .noSuchEndpoint)

        socket.close()
        #expect(socket.isClosed)
        let closed = #expect(throws: ZMQError.self) { try socket.receiveMultipart(dontWait: true) }
        #expect(closed?.code == .notSocket)
        #expect(closed?.description.contains("zmq_msg_recv failed") == true)

        let code = ZMQError.Code.wouldBlock
        #expect(code.name == "EAGAIN")
        #expect(code.description == "\(code.message) (EAGAIN, errno \(code.rawValue))")
        #expect(ZMQError(code: .contextTerminated, operation: "op") == .contextTerminated(operation: "op"))
    }

    @Test("Timeouts convert from Duration in whole milliseconds")
    func timeoutConversion() {
        #expect(ZMQTimeout(.milliseconds(1500)) == .milliseconds(1500))
        #expect(ZMQTimeout(.microseconds(2999)) == .milliseconds(2))
        #expect(ZMQTimeout(.seconds(-3)) == .zero)
        #expect(ZMQTimeout.seconds(2) == .milliseconds(2000))
        #expect(ZMQTimeout.infinite.description == "infinite")
    }
}
