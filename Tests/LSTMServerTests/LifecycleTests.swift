import DaemonTestSupport
import Foundation
import LSTMCore
import MNIST
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// Streams many digits closed-loop (each stream sends its next row once the previous row's
/// prediction arrived) and resends a row that got no answer, as a client that survives daemon
/// restarts does.
final class ClosedLoopStreams {
    let client: TestClient
    let digits: MNISTDataset
    let prefix: String
    var nextRow: [Int]
    var sentAt: [Date?]
    var finals: [Int: Received] = [:]
    var partials: [Int: [Int: Received]] = [:]
    var errors: [Int: [Received]] = [:]
    var resends = 0

    init(client: TestClient, digits: MNISTDataset, prefix: String) {
        self.client = client
        self.digits = digits
        self.prefix = prefix
        nextRow = Array(repeating: 0, count: digits.count)
        sentAt = Array(repeating: nil, count: digits.count)
    }

    var done: Bool { finals.count + errors.count >= digits.count }

    func id(_ image: Int) -> String { "\(prefix)-\(image)" }

    /// Whether every stream that has not ended got the prediction of row `row`.
    func allReached(row: Int) -> Bool {
        (0..<digits.count).allSatisfy { finals[$0] != nil || errors[$0] != nil || nextRow[$0] > row }
    }

    /// Sends what is due and reads what arrived, for at most `seconds`: until every stream ended or,
    /// with `stopAfterRow`, got that row's prediction.
    func run(seconds: Double, resendAfter: Double = 1.0, stopAfterRow: Int? = nil) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && !done && !(stopAfterRow.map(allReached(row:)) ?? false) {
            for image in 0..<digits.count where finals[image] == nil && errors[image] == nil {
                let r = nextRow[image]
                if let stop = stopAfterRow, r > stop { continue }
                if let sent = sentAt[image] {
                    guard Date().timeIntervalSince(sent) > resendAfter else { continue }
                    resends += 1
                }
                try client.send(try row(r, of: id(image), pixels: digits.image(at: image), last: r == 27))
                sentAt[image] = Date()
            }
            while let message = try client.receive(timeoutMilliseconds: 5) { take(message) }
        }
    }

    private func take(_ message: Received) {
        guard message.topic.hasPrefix(prefix + "-"), let image = Int(message.topic.dropFirst(prefix.count + 1)) else { return }
        switch message.header.kind {
        case .error:
            errors[image, default: []].append(message)
        case .final:
            finals[image] = message
        case .partial:
            partials[image, default: [:]][Int(message.header.row)] = message
            if Int(message.header.row) == nextRow[image] {
                nextRow[image] += 1
                sentAt[image] = nil
            }
        }
    }
}

/// Equal bytes, not just equal values (so −0 ≠ +0): the promise to a restored stream is bits.
func sameBytes(_ received: [Float]?, _ expected: [Float]) -> Bool {
    guard let received, received.count == expected.count else { return false }
    return zip(received, expected).allSatisfy { $0.bitPattern == $1.bitPattern }
}

@Suite(.serialized) struct LifecycleTests {
    @Test func sigtermMidStreamThenRestartContinuesEveryStreamExactly() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let stateDir = directory.appendingPathComponent("state").path
        let arguments = ["--model", path, "--state-dir", stateDir, "--snapshot-interval", "0"]
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        let client = try TestClient(daemon)
        let digits = try fixtureDigits(200)
        let streams = ClosedLoopStreams(client: client, digits: digits, prefix: "restart")
        try streams.run(seconds: 30, stopAfterRow: 13)
        #expect(streams.nextRow.allSatisfy { $0 == 14 }, "every stream reached row 14 before the stop")
        #expect(daemon.stop() == 0, "a graceful stop exits 0:\n\(daemon.log)")
        #expect(daemon.logContains("streams saved"))
        // The same client sockets keep sending while the daemon is away; ZeroMQ reconnects them.
        try streams.run(seconds: 0.3)
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        #expect(daemon.logContains("streams restored"), "\(daemon.log)")
        try streams.run(seconds: 60)
        #expect(streams.errors.isEmpty, "no errors: \(streams.errors.values.flatMap { $0.compactMap(\.errorCode) })")
        #expect(streams.finals.count == 200, "every FINAL arrives")
        var mismatched = 0
        for image in 0..<digits.count {
            let expected = offlineProbabilities(model, pixels: digits.image(at: image)).last!
            if !sameBytes(streams.finals[image]?.probabilities, expected) { mismatched += 1 }
        }
        #expect(mismatched == 0, "FINALs equal those of an uninterrupted run byte for byte: \(mismatched) of 200 differ")
        #expect(daemon.stop() == 0)
    }

    @Test func anIdleDaemonDoesNotRewriteItsSnapshot() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--state-dir", directory.appendingPathComponent("state").path,
                                                   "--snapshot-interval", "0.05", "--log-level", "info"], directory: directory)
        let client = try TestClient(daemon)
        let streams = ClosedLoopStreams(client: client, digits: try fixtureDigits(10), prefix: "idle")
        try streams.run(seconds: 30, stopAfterRow: 5)
        #expect(daemon.logContains("streams saved"), "a snapshot holds the streams' rows:\n\(daemon.log)")
        usleep(500_000)   // the last rows are saved by now
        func saves() -> Int { daemon.log.components(separatedBy: "streams saved").count - 1 }
        let before = saves()
        usleep(1_000_000)  // 20 intervals without traffic
        #expect(saves() == before, "nothing moved, so nothing is written again: \(saves() - before) more saves")
        #expect(daemon.stop() == 0)
    }

    @Test func aSnapshotOfAnotherModelIsSetAsideAndACorruptOneReported() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (modelA, pathA) = try writeTestModel(in: directory, seed: 1)
        let (_, pathB) = try writeTestModel(in: directory, seed: 2)
        let stateDir = directory.appendingPathComponent("state")
        var daemon = try DaemonProcess(arguments: ["--model", pathA, "--state-dir", stateDir.path], directory: directory)
        let client = try TestClient(daemon)
        let digit = try fixtureDigits(1).image(at: 0)
        try client.send(try row(0, of: "kept", pixels: digit))
        _ = try client.next(on: "kept")
        #expect(daemon.stop() == 0)
        // Started on model B while A's file is still there: the stream goes back onto A.
        daemon = try DaemonProcess(arguments: ["--model", pathB, "--state-dir", stateDir.path], directory: directory)
        var status = try daemon.status()
        #expect(status.liveStreams == 1 && status.previousModels.map(\.sha256) == [modelA.sha256], "\(daemon.log)")
        #expect(daemon.stop() == 0)
        // Without A's file nothing of the snapshot can be restored: it is set aside.
        try FileManager.default.removeItem(atPath: pathA)
        daemon = try DaemonProcess(arguments: ["--model", pathB, "--state-dir", stateDir.path], directory: directory)
        let entries = try FileManager.default.contentsOfDirectory(atPath: stateDir.path)
        #expect(entries.contains { $0.hasPrefix("streams.other-model-") }, "set aside, not deleted: \(entries)")
        #expect(daemon.logContains("streams not restored"))
        status = try daemon.status()
        #expect(status.liveStreams == 0)
        #expect(daemon.stop() == 0)
        // A truncated snapshot: reported, set aside, and the daemon serves.
        let file = stateDir.appendingPathComponent("streams.safetensors")
        try Data([0x10, 0, 0, 0, 0, 0, 0, 0, 0x7b]).write(to: file)
        daemon = try DaemonProcess(arguments: ["--model", pathB, "--state-dir", stateDir.path], directory: directory)
        #expect(daemon.logContains("snapshot"), "\(daemon.log)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: stateDir.path).contains { $0.hasPrefix("streams.unusable-") })
        let second = try TestClient(daemon)
        try second.send(try row(0, of: "fresh", pixels: digit))
        #expect(try second.next(on: "fresh").header.kind == .partial)
        #expect(daemon.stop() == 0)
    }

    @Test func reloadKeepsOldStreamsOnTheOldModelAndRefusesABadModel() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (oldModel, oldPath) = try writeTestModel(in: directory, seed: 1)
        let (newModel, newPath) = try writeTestModel(in: directory, seed: 2)
        let daemon = try DaemonProcess(arguments: ["--model", oldPath], directory: directory)
        let client = try TestClient(daemon)
        let digits = try fixtureDigits(2)
        for r in 0..<10 { try client.send(try row(r, of: "old", pixels: digits.image(at: 0))) }
        for _ in 0..<10 { _ = try client.next(on: "old") }
        guard case let .reload(reply) = try daemon.request(.reload(model: newPath)) else {
            Issue.record("reload reply expected")
            return
        }
        #expect(reply.model.sha256 == newModel.sha256)
        #expect(reply.previousModels.map(\.sha256) == [oldModel.sha256], "status shows both while both live")
        let status = try daemon.status()
        #expect(status.previousModels.first?.liveStreams == 1)
        for r in 10..<28 { try client.send(try row(r, of: "old", pixels: digits.image(at: 0))) }
        for r in 0..<28 { try client.send(try row(r, of: "new", pixels: digits.image(at: 1))) }
        func final(_ topic: String) throws -> Received {
            while true {
                let message = try client.next(on: topic)
                if message.header.kind != .partial { return message }
            }
        }
        #expect(try final("old").probabilities == offlineProbabilities(oldModel, pixels: digits.image(at: 0)).last!)
        #expect(try final("new").probabilities == offlineProbabilities(newModel, pixels: digits.image(at: 1)).last!)
        #expect(try daemon.status().previousModels.isEmpty, "the old model is released with its last stream")
        // An invalid model is refused; the current one keeps serving.
        let broken = directory.appendingPathComponent("broken.safetensors")
        try Data(try Data(contentsOf: URL(fileURLWithPath: newPath)).prefix(100)).write(to: broken)
        guard case let .failure(error) = try daemon.request(.reload(model: broken.path)) else {
            Issue.record("a truncated model must be refused")
            return
        }
        #expect(error.code == ErrorCode.reloadFailed.rawValue)
        #expect(try daemon.status().model.sha256 == newModel.sha256)
        // SIGHUP reloads the configured model (the old file) for new streams.
        kill(daemon.process.processIdentifier, SIGHUP)
        var reloaded = false
        for _ in 0..<100 where !reloaded {
            reloaded = try daemon.status().model.sha256 == oldModel.sha256
            usleep(20_000)
        }
        #expect(reloaded, "SIGHUP reloads the model")
        #expect(daemon.stop() == 0)
    }

    /// A reload to the same weights with another input scale: live streams keep the scale of the
    /// model they started on, so their FINALs equal an uninterrupted run (issue 11); a reload of the
    /// same file changes nothing.
    @Test func reloadKeepsEachLiveStreamsInputScale() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (scaled, scaledPath) = try writeTestModel(in: directory, seed: 5)
        let unscaled = try makeRandomModel(inputSize: 28, hidden: 32, layers: 1, classes: 10, sequenceLength: 28,
                                           inputScale: 1, seed: 5)
        let unscaledPath = directory.appendingPathComponent("unscaled.safetensors")
        try unscaled.write(to: unscaledPath)
        let daemon = try DaemonProcess(arguments: ["--model", scaledPath], directory: directory)
        let client = try TestClient(daemon)
        let digits = try fixtureDigits(20)
        for image in 0..<20 {
            for r in 0..<14 { try client.send(try row(r, of: "s\(image)", pixels: digits.image(at: image))) }
        }
        #expect(try client.collect { $0.count == 20 * 14 }.count == 20 * 14)
        guard case let .reload(same) = try daemon.request(.reload(model: scaledPath)) else {
            Issue.record("reload reply expected")
            return
        }
        #expect(same.model.sha256 == scaled.sha256 && same.previousModels.isEmpty, "the same file changes nothing")
        guard case .reload = try daemon.request(.reload(model: unscaledPath.path)) else {
            Issue.record("reload reply expected")
            return
        }
        for image in 0..<20 {
            for r in 14..<28 { try client.send(try row(r, of: "s\(image)", pixels: digits.image(at: image))) }
        }
        let finals = try client.collect { $0.count == 20 * 14 }.filter { $0.header.kind == .final }
        #expect(finals.count == 20)
        for final in finals {
            let image = try #require(Int(final.topic.dropFirst()))
            // Bit for bit the stream's own model, as the kernels are batch-invariant; the scale of
            // the other model would move them by about 1e-2.
            let expected = offlineProbabilities(scaled, pixels: digits.image(at: image)).last!
            #expect(final.probabilities == expected, "stream \(image)")
        }
        #expect(daemon.stop() == 0)
    }

    @Test func killNineThenRestartGivesGapsNeverWrongPredictions() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let stateDir = directory.appendingPathComponent("state").path
        let arguments = ["--model", path, "--state-dir", stateDir, "--snapshot-interval", "1"]
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        let client = try TestClient(daemon)
        let digits = try fixtureDigits(40)
        let streams = ClosedLoopStreams(client: client, digits: digits, prefix: "crash")
        try streams.run(seconds: 30, stopAfterRow: 5)
        // The next periodic snapshot (every second) holds every stream, however slowly this machine
        // runs; after it the daemon writes none until the streams move again.
        func saves() -> Int { daemon.log.components(separatedBy: "streams saved").count - 1 }
        let before = saves()
        let deadline = Date().addingTimeInterval(20)
        while saves() == before && Date() < deadline { usleep(50_000) }
        try streams.run(seconds: 30, stopAfterRow: 11)
        #expect(daemon.stop(signal: SIGKILL) != nil)
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        // The gaps must not be published before the client's subscription reaches the new daemon.
        try client.awaitSubscription(daemon)
        try streams.run(seconds: 30)
        let references = (0..<digits.count).map { offlineProbabilities(model, pixels: digits.image(at: $0)) }
        var wrong = 0
        for image in 0..<digits.count {
            for (r, message) in streams.partials[image] ?? [:] where !sameBytes(message.probabilities, references[image][r]) { wrong += 1 }
            if let final = streams.finals[image], !sameBytes(final.probabilities, references[image][27]) { wrong += 1 }
        }
        #expect(wrong == 0, "no prediction differs by a single bit from the offline one: \(wrong) do")
        #expect(daemon.logContains("streams restored"), "the last periodic snapshot is restored")
        // A stream whose rows died with the daemon learns it from a gap, which ends it; a resend
        // already on its way then finds no stream (`not_started`), as it should.
        let first = Set(streams.errors.values.compactMap { $0.first?.errorCode })
        #expect(first.isSubset(of: [ErrorCode.gap.rawValue]), "streams whose rows were lost get a gap first: \(first)")
        let codes = Set(streams.errors.values.flatMap { $0.compactMap(\.errorCode) })
        #expect(codes.isSubset(of: [ErrorCode.gap.rawValue, ErrorCode.notStarted.rawValue]), "\(codes)")
        #expect(streams.finals.count + streams.errors.count == digits.count)
        #expect(daemon.stop() == 0)
    }
}
