import DaemonTestSupport
import Foundation
import Testing
import WireProtocol
import ZeroMQ

/// A real lstmd with CURVE on tcp 127.0.0.1: who gets served, who gets nothing, who gets `forbidden`.
@Suite(.enabled(if: ZMQ.has("curve"), "libzmq was built without CURVE"))
struct CurveDaemonTests {
    /// Key pairs written as files the way `lstm-client keygen` writes them.
    struct Keys {
        let directory: URL
        let server, admin, client, stranger: ZMQCurveKeyPair
        var clientsDirectory: String { directory.appendingPathComponent("clients.d").path }
        var adminsFile: String { directory.appendingPathComponent("admin.pub").path }

        init(in directory: URL) throws {
            self.directory = directory
            (server, admin, client, stranger) = (try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair(),
                                                 try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair())
            try FileManager.default.createDirectory(atPath: clientsDirectory, withIntermediateDirectories: true)
            try ZMQCurveKeyFiles.write(server, prefix: directory.appendingPathComponent("lstmd").path, comment: "lstmd")
            try ZMQCurveKeyFiles.write(admin, prefix: directory.appendingPathComponent("admin").path, comment: "admin")
            try ZMQCurveKeyFiles.write(client, prefix: clientsDirectory + "/client", comment: "client")
        }

        func curve(_ pair: ZMQCurveKeyPair, trusting serverKey: ZMQCurveKey? = nil) -> ZMQCurveClient {
            ZMQCurveClient(serverKey: serverKey ?? server.publicKey, keyPair: pair)
        }
    }

    /// Free tcp ports on 127.0.0.1 (bound by the kernel's choice, then released).
    static func freePorts(_ count: Int) throws -> [Int] {
        let context = try ZMQContext()
        let sockets = try (0..<count).map { _ in
            let socket = try ZMQSocket(context, type: .pull)
            try socket.set(.linger, .zero)
            try socket.bind("tcp://127.0.0.1:*")
            return socket
        }
        let ports = try sockets.map { socket in Int(try socket.lastEndpoint.split(separator: ":").last!)! }
        sockets.forEach { $0.close() }
        return ports
    }

    /// One control request with `curve` (nil: plain); nil when no reply came within `milliseconds`.
    static func request(_ request: ControlRequest, to endpoint: String, curve: ZMQCurveClient?,
                        milliseconds: Int = 5000) throws -> ControlReply? {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .req)
        try socket.set(.linger, .zero)
        try socket.set(.receiveTimeout, .milliseconds(milliseconds))
        try curve?.apply(to: socket)
        try socket.connect(endpoint)
        try socket.send([request.jsonBytes])
        guard let frames = try socket.receiveMultipart() else { return nil }
        return try ControlReply(jsonBytes: frames[0], for: request)
    }

    @Test func onlyAuthorizedKeysAreServedAndOnlyAdminsChangeTheDaemon() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let keys = try Keys(in: directory)
        let (_, modelPath) = try writeTestModel(in: directory)
        let ports = try Self.freePorts(4)
        let (ingest, predictions, control, results) = ("tcp://127.0.0.1:\(ports[0])", "tcp://127.0.0.1:\(ports[1])",
                                                       "tcp://127.0.0.1:\(ports[2])", "tcp://127.0.0.1:\(ports[3])")
        let daemon = try DaemonProcess(arguments: [
            "--ingest", ingest, "--predictions", predictions, "--control", control, "--results", results,
            "--model", modelPath, "--curve-secret-key", directory.appendingPathComponent("lstmd.key").path,
            "--curve-authorized-keys", keys.clientsDirectory, "--curve-admin-keys", keys.adminsFile, "--log-level", "debug",
        ], directory: directory, waitUntilReady: false)

        // The admin is served once the daemon is up.
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? Self.request(.ping, to: control, curve: keys.curve(keys.admin), milliseconds: 300)) != nil
            if !ready && !daemon.process.isRunning { break }
        }
        try #require(ready, "lstmd never answered the admin's ping:\n\(daemon.log)")

        // Control: nothing for a plain client, an unknown key, or a client that trusts another server key.
        for (name, curve) in [("plain", nil), ("stranger", keys.curve(keys.stranger)),
                              ("wrong server key", keys.curve(keys.admin, trusting: keys.stranger.publicKey))] {
            #expect(try Self.request(.ping, to: control, curve: curve, milliseconds: 700) == nil, "\(name) got a reply")
        }
        // A client key reads but may not change anything; the admin may.
        let client = keys.curve(keys.client)
        guard case .status = try #require(try Self.request(.status, to: control, curve: client)) else {
            Issue.record("the client gets status"); return
        }
        for request: ControlRequest in [.reload(model: nil), .drop(stream: try StreamID("nobody"))] {
            guard case let .failure(error) = try #require(try Self.request(request, to: control, curve: client)) else {
                Issue.record("\(request.command) must be forbidden to a client key"); continue
            }
            #expect(error.code == "forbidden")
        }
        guard case let .failure(dropError) = try #require(try Self.request(.drop(stream: try StreamID("nobody")), to: control,
                                                                          curve: keys.curve(keys.admin))) else {
            Issue.record("drop of an unknown stream fails"); return
        }
        #expect(dropError.code == "unknown_stream", "the admin's drop gets past the access check")
        guard case .reload = try #require(try Self.request(.reload(model: nil), to: control, curve: keys.curve(keys.admin))) else {
            Issue.record("the admin may reload"); return
        }

        // Data sockets: a stranger's rows never arrive and its subscriber hears nothing; the client is served.
        let context = try ZMQContext()
        func socket(_ type: ZMQSocketType, _ endpoint: String, _ curve: ZMQCurveClient?) throws -> ZMQSocket {
            let socket = try ZMQSocket(context, type: type)
            try socket.set(.linger, .zero)
            try curve?.apply(to: socket)
            if type == .sub { try socket.subscribe() }
            try socket.connect(endpoint)
            return socket
        }
        let listener = try socket(.sub, predictions, client)
        let eavesdroppers = [try socket(.sub, predictions, keys.curve(keys.stranger)), try socket(.sub, predictions, nil)]
        let strangerPush = try socket(.push, ingest, keys.curve(keys.stranger))
        let plainPush = try socket(.push, ingest, nil)
        let clientPush = try socket(.push, ingest, client)
        try listener.set(.receiveTimeout, .milliseconds(200))
        var heard: [String] = []
        for attempt in 0..<50 where !heard.contains(where: { $0.hasPrefix("client-") }) {
            // END of a stream that does not exist is answered `unknown_stream` on its topic.
            try strangerPush.send(IngestMessage.end(of: try StreamID("stranger-\(attempt)"), sequence: nil).frames, dontWait: true)
            try plainPush.send(IngestMessage.end(of: try StreamID("plain-\(attempt)"), sequence: nil).frames, dontWait: true)
            try clientPush.send(IngestMessage.end(of: try StreamID("client-\(attempt)"), sequence: nil).frames, dontWait: true)
            while let frames = try listener.receiveMultipart() { heard.append(String(decoding: frames[0], as: UTF8.self)) }
        }
        #expect(heard.contains { $0.hasPrefix("client-") }, "the authorized client is served")
        #expect(!heard.contains { $0.hasPrefix("stranger-") || $0.hasPrefix("plain-") }, "\(heard)")
        for eavesdropper in eavesdroppers {
            try eavesdropper.set(.receiveTimeout, .milliseconds(300))
            #expect(try eavesdropper.receiveMultipart() == nil)
        }
        // The results path: the stranger's DEALER gets nothing, the client's gets its answer.
        for (curve, answered) in [(keys.curve(keys.stranger), false), (client, true)] {
            let dealer = try socket(.dealer, results, curve)
            try dealer.set(.receiveTimeout, .milliseconds(answered ? 5000 : 700))
            try dealer.send(IngestMessage.end(of: try StreamID("dealer-probe"), sequence: nil).frames, dontWait: true)
            #expect((try dealer.receiveMultipart() != nil) == answered)
        }

        // SIGHUP reads the key lists again: the stranger's key, once listed, is admitted.
        try ZMQCurveKeyFiles.write(keys.stranger, prefix: keys.clientsDirectory + "/stranger", comment: "late")
        kill(daemon.process.processIdentifier, SIGHUP)
        var admitted = false
        for _ in 0..<20 where !admitted {
            admitted = (try Self.request(.ping, to: control, curve: keys.curve(keys.stranger), milliseconds: 500)) != nil
        }
        #expect(admitted, "SIGHUP reloads the authorized keys:\n\(daemon.log)")
        #expect(daemon.stop() == 0)
    }

    @Test func plainTcpBeyondLoopbackIsRefusedUnlessInsecure() throws {
        let port = try Self.freePorts(1)[0]
        let refused = try DaemonProcess(arguments: ["--control", "tcp://0.0.0.0:\(port)"], waitUntilReady: false)
        #expect(refused.stop(signal: 0, seconds: 20) == 1, "lstmd must exit 1:\n\(refused.log)")
        #expect(refused.log.contains("refusing to serve control tcp://0.0.0.0:\(port) beyond loopback without CURVE"), "\(refused.log)")
        let insecure = try DaemonProcess(arguments: ["--results", "tcp://0.0.0.0:\(port)", "--insecure"])
        #expect(insecure.stop() == 0)
    }

    @Test func reloadStaysInTheModelDirectoryAndNeverEchoesAFile() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let models = directory.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let (_, modelPath) = try writeTestModel(in: models)
        let (second, _) = try writeTestModel(in: models, seed: 2)
        try Data("root:x:0:0:root:/root:/bin/bash\n".utf8).write(to: models.appendingPathComponent("passwd"))
        let daemon = try DaemonProcess(arguments: ["--model", modelPath, "--model-dir", models.path], directory: directory)
        func failure(_ path: String) throws -> ErrorBody? {
            if case let .failure(error) = try daemon.request(.reload(model: path)) { return error }
            return nil
        }
        for path in ["/etc/passwd", "../models/passwd", directory.appendingPathComponent("ingest").path] {
            let error = try #require(try failure(path), "\(path) must be refused")
            #expect(error.code == "reload_failed" && error.message.contains("refused"), "\(error.message)")
        }
        let inside = try #require(try failure("passwd"))
        #expect(inside.message.contains("not a safetensors file"), "\(inside.message)")
        #expect(!inside.message.contains("3475222254926655346") && !inside.message.contains("root"), "\(inside.message)")
        guard case let .reload(reply) = try daemon.request(.reload(model: "model-2.safetensors")) else {
            Issue.record("a relative name inside the directory loads"); return
        }
        #expect(reply.model.sha256 == second.sha256)
        #expect(daemon.stop() == 0)
    }
}
