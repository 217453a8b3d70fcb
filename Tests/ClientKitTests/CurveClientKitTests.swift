import DaemonTestSupport
import Foundation
import LSTMClientKit
import LSTMCore
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// The client library against real `lstmd` processes that require CURVE: an authorized key is
/// served on every socket (REQ, PUSH + SUB, DEALER), anyone else gets a clear error in time.
@Suite(.serialized, .enabled(if: ZMQ.has("curve"), "libzmq was built without CURVE"))
struct CurveClientKitTests {
    /// Key files as `lstm-client keygen` writes them: the daemon's, an admin's, an authorized
    /// client's, and a stranger's that the daemon does not list.
    struct Keys {
        let directory: URL
        let server, admin, client, stranger: ZMQCurveKeyPair

        init(in directory: URL) throws {
            self.directory = directory
            (server, admin, client, stranger) = (try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair(),
                                                 try ZMQCurve.generateKeyPair(), try ZMQCurve.generateKeyPair())
            for (pair, name) in [(server, "lstmd"), (admin, "admin"), (client, "client"), (stranger, "stranger")] {
                try ZMQCurveKeyFiles.write(pair, prefix: path(name), comment: name)
            }
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        /// `pair`'s keys for a daemon whose public key is `serverKey` (default: the real one).
        func curve(_ pair: ZMQCurveKeyPair, trusting serverKey: ZMQCurveKey? = nil) -> CurveKeys {
            CurveKeys(serverKey: serverKey ?? server.publicKey, keyPair: pair)
        }

        /// A daemon with these keys serving `model`, in its own directory below this one.
        func daemon(_ name: String, model: String) throws -> DaemonProcess {
            let own = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
            let daemon = try DaemonProcess(arguments: [
                "--model", model, "--curve-secret-key", path("lstmd.key"),
                "--curve-authorized-keys", path("client.pub"), "--curve-admin-keys", path("admin.pub"),
            ], directory: own, waitUntilReady: false)
            // The harness's plain ping cannot reach a CURVE daemon: ask with the admin's key.
            let control = try ControlClient(endpoint: daemon.control, timeout: 0.3, curve: curve(admin))
            for _ in 0..<100 where daemon.process.isRunning {
                if (try? control.ping()) != nil { return daemon }
            }
            throw HarnessError("lstmd with CURVE never answered the admin's ping:\n\(daemon.log)")
        }
    }

    @Test func anAuthorizedKeyGetsEveryFinalOnEverySocketAndOnlyAnAdminDrops() async throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try Keys(in: directory)
        let (model, path) = try servedModel(in: directory, seed: 12)
        let daemons = try (0..<2).map { try keys.daemon("d\($0)", model: path) }
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        // The keys as an application loads them: the daemon's .pub and the client's .key file.
        let curve = try CurveKeys(serverKey: keys.path("lstmd.pub"), secretKeyFile: keys.path("client.key"))
        #expect(curve.keyPair == keys.client)

        // PUSH + SUB, then DEALER: every PARTIAL and the FINAL, bit for bit.
        for lossless in [false, true] {
            let client = try DaemonClient(daemons[0].endpoints, options: ClientOptions(lossless: lossless, curve: curve))
            defer { client.close() }
            for index in 0..<10 {
                let stream = try client.stream()
                try stream.send(rows: rows(of: digits, index))
                var events: [StreamEvent] = []
                while let event = stream.next() { events.append(event) }
                #expect(events.count == 28, "lossless \(lossless), digit \(index): \(String(describing: events.last))")
                guard case .final(let final) = events.last else { Issue.record("digit \(index): no FINAL"); continue }
                #expect(sameBits(final.probabilities, expected[index][27]), "lossless \(lossless), digit \(index)")
            }
        }

        // Two daemons behind one sharded client, both reached with the same keys.
        let sharded = try ShardedClient(daemons.map(\.endpoints), options: ClientOptions(curve: curve))
        defer { sharded.close() }
        let streams = try (10..<50).map { index in
            let stream = try sharded.stream()
            try stream.send(rows: rows(of: digits, index))
            return (index, stream)
        }
        for (index, stream) in streams {
            guard case .final(let final) = await stream.result() else { Issue.record("digit \(index): no FINAL"); continue }
            #expect(sameBits(final.probabilities, expected[index][27]), "sharded digit \(index)")
        }
        let served = try daemons.map { try ControlClient(endpoint: $0.control, curve: curve).status().counters[.streamsFinished] }
        #expect(served[0] > 20 && served[1] > 0, "digits finished per daemon: \(served)")

        // Batch connections (bench, eval) and the lossless probe speak CURVE too.
        #expect(DaemonClient.answersOnLosslessPath(daemons[0].endpoints, curve: curve, timeout: 5))
        let batch = try BatchConnection(daemons: [daemons[0].endpoints], options: ClientOptions(curve: curve),
                                        subscriptionPrefix: Array("batch/".utf8))
        let digit = Array(digits.image(at: 0))
        for row in 0..<28 {
            let sent = try digit.withUnsafeBytes { pixels in
                try batch.sendRow(UInt32(row), of: StreamID("batch/0"), sequence: 1,
                                  values: UnsafeRawBufferPointer(rebasing: pixels[(row * 28)..<(row * 28 + 28)]),
                                  last: row == 27, on: 0)
            }
            #expect(sent)
        }
        var final: [Float]?
        for _ in 0..<500 where final == nil {
            try batch.wait(milliseconds: 10)
            try batch.receiveAvailable({ view in
                if view.header.kind == .final { final = view.probabilities }
            }, undecodable: { Issue.record("undecodable: \($0)") })
        }
        #expect(final.map { sameBits($0, expected[0][27]) } == true, "the batch connection's FINAL")

        // Control: a client key reads, but only an admin's may drop.
        func refusal<Reply>(_ request: () throws(ClientError) -> Reply) -> ErrorBody? {
            do { _ = try request(); return nil } catch .refused(_, let error) { return error } catch { return nil }
        }
        let nobody = try StreamID("nobody")
        let control = try ControlClient(endpoint: daemons[0].control, curve: curve)
        #expect(try control.status().liveStreams == 0)
        #expect(refusal { () throws(ClientError) in try control.drop(nobody) }?.code == "forbidden")
        let client = try DaemonClient(daemons[0].endpoints, options: ClientOptions(curve: curve))
        defer { client.close() }
        #expect(refusal { () throws(ClientError) in try client.control(.drop(stream: nobody)) }?.code == "forbidden")
        let admin = try ControlClient(endpoint: daemons[0].control, curve: keys.curve(keys.admin))
        #expect(refusal { () throws(ClientError) in try admin.drop(nobody) }?.code == "unknown_stream", "the admin's drop gets past the access check")
    }

    /// The error `body` throws, nil when it throws none.
    func failure(_ body: () throws(ClientError) -> Void) -> ClientError? {
        do { try body(); return nil } catch { return error }
    }

    @Test func noKeyAWrongServerKeyOrAnUnknownKeyGetsAClearErrorInTime() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try Keys(in: directory)
        let (_, path) = try servedModel(in: directory, seed: 13)
        let daemon = try keys.daemon("d", model: path)

        let refused: [(String, CurveKeys?)] = [
            ("no key", nil),
            ("a wrong server key", keys.curve(keys.client, trusting: keys.stranger.publicKey)),
            ("a key the daemon does not list", keys.curve(keys.stranger)),
        ]
        for (name, curve) in refused {
            for lossless in [false, true] {
                let started = Date()
                let options = ClientOptions(lossless: lossless, timeout: 1, recoveryDelay: 0.5, curve: curve)
                let error = failure { () throws(ClientError) in _ = try DaemonClient(daemon.endpoints, options: options) }
                guard case .notReachable(let endpoint, let seconds, let withCurve)? = error else {
                    Issue.record("\(name): \(String(describing: error))")
                    continue
                }
                #expect(endpoint == daemon.control && seconds == 1 && withCurve == (curve != nil), "\(name)")
                #expect(Date().timeIntervalSince(started) < 5, "\(name): the error came late")
            }
            #expect(throws: ClientError.self, "\(name): a sharded client") {
                try ShardedClient([daemon.endpoints], options: ClientOptions(timeout: 1, recoveryDelay: 0.5, curve: curve))
            }
            // The data sockets get nothing either: no answer on the results path, and an END sent
            // on PUSH is never answered on SUB.
            #expect(!DaemonClient.answersOnLosslessPath(daemon.endpoints, curve: curve, timeout: 0.7), "\(name)")
            let batch = try BatchConnection(daemons: [daemon.endpoints], options: ClientOptions(curve: curve),
                                            subscriptionPrefix: Array("probe/".utf8))
            _ = try batch.sendEnd(of: StreamID("probe/\(name.count)"), sequence: 1, at: 0, on: 0)
            var heard = 0
            for _ in 0..<70 {
                try batch.wait(milliseconds: 10)
                try batch.receiveAvailable({ _ in heard += 1 }, undecodable: { _ in heard += 1 })
            }
            #expect(heard == 0, "\(name): heard \(heard) messages")
        }
        // The message says why a CURVE client may see silence.
        let error = ClientError.notReachable(endpoint: daemon.control, seconds: 1, curve: true)
        #expect(error.description.contains("with CURVE, a wrong server key or a client key the daemon does not authorize"))
    }
}
