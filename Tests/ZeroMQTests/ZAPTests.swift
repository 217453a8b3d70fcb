import Foundation
import Testing
import ZeroMQ

@Suite("ZAP authentication", .enabled(if: ZMQ.has("curve"), "libzmq was built without CURVE"))
struct ZAPTests {
    /// A CURVE PULL server on tcp 127.0.0.1 behind a ZAP handler that admits `admitted` keys with
    /// their user ids; records every request the handler saw.
    final class SecuredServer {
        let context: ZMQContext
        let serverKeys: ZMQCurveKeyPair
        let pull: ZMQSocket
        let endpoint: String
        let handler: ZMQZAPHandler
        let seen = Shared<[ZAPRequest]>([])

        init(admitted: [ZMQCurveKey: String]) throws {
            context = try ZMQContext()
            serverKeys = try ZMQCurve.generateKeyPair()
            handler = try ZMQZAPHandler(context: context) { [seen] request in
                seen.value.append(request)
                guard let key = request.curveKey, let user = admitted[key] else { return .deny("unknown key") }
                return .accept(userID: user)
            }
            pull = try ZMQSocket(context, type: .pull)
            try pull.set(.linger, .zero)
            try ZMQCurveServer(keyPair: serverKeys, zapDomain: "test").apply(to: pull)
            try pull.bind("tcp://127.0.0.1:*")
            endpoint = try pull.lastEndpoint
        }

        /// A PUSH client connected with `curve` (nil: plain), which sends one message.
        func send(from curve: ZMQCurveClient?) throws -> ZMQSocket {
            let push = try ZMQSocket(context, type: .push)
            try push.set(.linger, .zero)
            try curve?.apply(to: push)
            try push.connect(endpoint)
            try push.send([bytes("hello")], dontWait: true)
            return push
        }

        /// The next message and its User-Id, or nil within `milliseconds`.
        func receive(milliseconds: Int) throws -> (frames: [[UInt8]], user: String?)? {
            try pull.set(.receiveTimeout, .milliseconds(milliseconds))
            let parts = ZMQMultipart()
            guard try pull.receiveMultipart(into: parts) else { return nil }
            return (parts.frames, parts[0].property("User-Id"))
        }

        deinit {
            pull.close()
            handler.stop()
        }
    }

    @Test("An admitted key is served and its messages carry the user id the handler gave")
    func admittedKey() throws {
        let client = try ZMQCurve.generateKeyPair()
        let server = try SecuredServer(admitted: [client.publicKey: "admin"])
        let push = try server.send(from: ZMQCurveClient(serverKey: server.serverKeys.publicKey, keyPair: client))
        let received = try #require(try server.receive(milliseconds: 5000))
        #expect(received.frames == [bytes("hello")])
        #expect(received.user == "admin")
        let request = try #require(server.seen.value.first)
        #expect(request.domain == "test" && request.mechanism == "CURVE" && request.address == "127.0.0.1")
        #expect(request.curveKey == client.publicKey)
        push.close()
    }

    @Test("Unknown keys, plain clients and clients trusting another server key get nothing through")
    func refusedClients() throws {
        let admitted = try ZMQCurve.generateKeyPair()
        let stranger = try ZMQCurve.generateKeyPair()
        let server = try SecuredServer(admitted: [admitted.publicKey: "client"])
        let impostorServer = try ZMQCurve.generateKeyPair().publicKey
        let sockets = [
            try server.send(from: ZMQCurveClient(serverKey: server.serverKeys.publicKey, keyPair: stranger)),
            try server.send(from: nil),
            try server.send(from: ZMQCurveClient(serverKey: impostorServer, keyPair: admitted)),
        ]
        #expect(try server.receive(milliseconds: 700) == nil)
        #expect(server.seen.value.contains { $0.curveKey == stranger.publicKey }, "the stranger reached the handler and was denied")
        #expect(!server.seen.value.contains { $0.curveKey == admitted.publicKey },
                "a client with the wrong server key fails the handshake before ZAP")
        // The same server still serves an admitted client afterwards.
        let good = try server.send(from: ZMQCurveClient(serverKey: server.serverKeys.publicKey, keyPair: admitted))
        #expect(try server.receive(milliseconds: 5000)?.user == "client")
        for socket in sockets + [good] { socket.close() }
    }

    @Test("A second handler in the same context is refused; a stopped one frees the endpoint")
    func oneHandlerPerContext() throws {
        let context = try ZMQContext()
        let first = try ZMQZAPHandler(context: context) { _ in .deny("no") }
        #expect(throws: ZMQError.self) { try ZMQZAPHandler(context: context) { _ in .deny("no") } }
        first.stop()
        // libzmq releases an inproc endpoint when its reaper destroys the closed socket, a moment
        // after zmq_close: the endpoint comes free within a bounded time.
        var second: ZMQZAPHandler?
        for _ in 0..<200 where second == nil {
            second = try? ZMQZAPHandler(context: context) { _ in .deny("no") }
            if second == nil { usleep(10_000) }
        }
        #expect(second != nil, "the stopped handler's endpoint was not freed within 2 s")
        second?.stop()
    }
}

@Suite("CURVE key files")
struct CurveKeyFileTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("A written pair reads back; the secret file is 0600, the public one 0644; nothing is overwritten")
    func roundTrip() throws {
        let directory = try temporaryDirectory()
        let prefix = directory.appendingPathComponent("lstmd").path
        let pair = try ZMQCurve.generateKeyPair()
        try ZMQCurveKeyFiles.write(pair, prefix: prefix, comment: "test")
        #expect(try mode(prefix + ".key") == 0o600)
        #expect(try mode(prefix + ".pub") == 0o644)
        #expect(try ZMQCurveKeyFiles.readSecretKey(at: prefix + ".key") == pair)
        #expect(try ZMQCurveKeyFiles.readPublicKey(prefix + ".pub") == pair.publicKey)
        #expect(try ZMQCurveKeyFiles.readPublicKey(pair.publicKey.z85) == pair.publicKey)
        #expect(throws: ZMQKeyFileError.exists(path: prefix + ".key")) {
            try ZMQCurveKeyFiles.write(try ZMQCurve.generateKeyPair(), prefix: prefix, comment: "again")
        }
        #expect(try ZMQCurveKeyFiles.readSecretKey(at: prefix + ".key") == pair, "the first pair is intact")
    }

    @Test("A secret key file others may read is refused")
    func exposedSecret() throws {
        let directory = try temporaryDirectory()
        let prefix = directory.appendingPathComponent("open").path
        try ZMQCurveKeyFiles.write(try ZMQCurve.generateKeyPair(), prefix: prefix, comment: "test")
        chmod(prefix + ".key", 0o644)
        #expect(throws: ZMQKeyFileError.exposedSecret(path: prefix + ".key", mode: 0o644)) {
            try ZMQCurveKeyFiles.readSecretKey(at: prefix + ".key")
        }
    }

    @Test("Key lists: comments, names and a directory of .pub files; a bad line is named, not quoted")
    func keyLists() throws {
        let directory = try temporaryDirectory()
        let (a, b, c) = (try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair())
        let list = directory.appendingPathComponent("authorized").path
        try "# operators\n\n\(a.publicKey.z85) alice\n   \(b.publicKey.z85)\tbob\n".write(toFile: list, atomically: true, encoding: .utf8)
        #expect(try ZMQCurveKeyFiles.readKeyList(at: list) == [a.publicKey, b.publicKey])

        let keys = directory.appendingPathComponent("keys.d")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try ZMQCurveKeyFiles.write(c, prefix: keys.appendingPathComponent("carol").path, comment: "carol")
        try ZMQCurveKeyFiles.write(a, prefix: keys.appendingPathComponent("alice").path, comment: "alice")
        #expect(try ZMQCurveKeyFiles.readKeyList(at: keys.path) == [a.publicKey, c.publicKey],
                "only the .pub files, in name order; the .key files beside them are not read")

        let secretLooking = "\(a.secretKey.z85.dropLast())"  // 39 characters of a secret
        try "\(b.publicKey.z85)\n\(secretLooking)\n".write(toFile: list, atomically: true, encoding: .utf8)
        do {
            _ = try ZMQCurveKeyFiles.readKeyList(at: list)
            Issue.record("a 39-character key must be refused")
        } catch {
            #expect(error == .malformed(path: list, line: 2, reason: "a key is 40 Z85 characters; this one has 39"))
            #expect(!error.description.contains(secretLooking))
        }
        #expect(throws: ZMQKeyFileError.unreadable(path: directory.path + "/none", reason: "no such file or directory")) {
            try ZMQCurveKeyFiles.readKeyList(at: directory.path + "/none")
        }
    }
}
