import DaemonTestSupport
import Foundation
import LSTMCore
import TestSupport
import Testing
import WireProtocol

/// Issue 13 #3 against a real daemon: streams still on an older model after a reload survive a
/// restart on it (they used to be missing from every snapshot after a reload), or, when its file is
/// gone, get a specified error.
@Suite(.serialized) struct GenerationRestartTests {
    /// A daemon serving `models/current.safetensors`, a link to model A; 5 streams at row 10 on A,
    /// then the link moved to model B and SIGHUP; one stream at row 10 on B; SIGTERM. Returns what
    /// the restart needs.
    func runUntilTheStopAfterAReload() throws -> (directory: URL, arguments: [String], a: LSTMModel, b: LSTMModel, aPath: String) {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let models = directory.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let (a, aPath) = try writeTestModel(in: models, seed: 1)
        let (b, bPath) = try writeTestModel(in: models, seed: 2)
        let link = models.appendingPathComponent("current.safetensors")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: aPath)
        let arguments = ["--model", link.path, "--state-dir", directory.appendingPathComponent("state").path,
                         "--snapshot-interval", "0", "--idle-timeout", "0"]
        let daemon = try DaemonProcess(arguments: arguments, directory: directory)
        let client = try TestClient(daemon)
        let digits = try fixtureDigits(6)
        for image in 0..<5 { for r in 0..<10 { try client.send(try row(r, of: "old-\(image)", sequence: 40, pixels: digits.image(at: image))) } }
        _ = try client.collect { $0.filter { $0.topic.hasPrefix("old-") }.count == 50 }

        // The operator moves the link on to model B and reloads.
        try FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: bPath)
        kill(daemon.process.processIdentifier, SIGHUP)
        var status = try daemon.status()
        for _ in 0..<200 where status.model.sha256 != b.sha256 {
            usleep(20_000)
            status = try daemon.status()
        }
        #expect(status.model.sha256 == b.sha256, "SIGHUP reloaded the moved link:\n\(daemon.log)")
        #expect(status.previousModels.map(\.sha256) == [a.sha256] && status.previousModels.first?.liveStreams == 5)
        #expect(status.previousModels.first?.path == aPath, "the older model is known by its file, not by the link")

        for r in 0..<10 { try client.send(try row(r, of: "new-0", sequence: 41, pixels: digits.image(at: 5))) }
        _ = try client.collect { $0.filter { $0.topic == "new-0" }.count == 10 }
        #expect(daemon.stop() == 0, "\(daemon.log)")
        #expect(daemon.log.contains("streams saved") && daemon.log.contains("streams=6") && daemon.log.contains("models=2"),
                "both models' streams are saved:\n\(daemon.log)")
        return (directory, arguments, a, b, aPath)
    }

    @Test func streamsOnTheOlderModelFinishOnItAfterARestart() throws {
        let (directory, arguments, a, b, _) = try runUntilTheStopAfterAReload()
        let daemon = try DaemonProcess(arguments: arguments, directory: directory)
        #expect(daemon.logContains("streams restored"), "\(daemon.log)")
        let status = try daemon.status()
        #expect(status.model.sha256 == b.sha256 && status.previousModels.map(\.sha256) == [a.sha256])
        #expect(status.counters[.streamsRestored] == 6)

        let client = try TestClient(daemon)
        let digits = try fixtureDigits(6)
        for image in 0..<5 {
            for r in 10..<28 { try client.send(try row(r, of: "old-\(image)", sequence: 40, pixels: digits.image(at: image), last: r == 27)) }
        }
        for r in 10..<28 { try client.send(try row(r, of: "new-0", sequence: 41, pixels: digits.image(at: 5), last: r == 27)) }
        let finals = try client.collect { $0.filter { $0.header.kind == .final }.count == 6 }
        #expect(!finals.contains { $0.header.kind == .error }, "\(finals.compactMap(\.errorCode))")
        for image in 0..<5 {
            let final = finals.first { $0.topic == "old-\(image)" && $0.header.kind == .final }
            #expect(sameBytes(final?.probabilities, offlineProbabilities(a, pixels: digits.image(at: image)).last!),
                    "old-\(image) finishes on model A, bit for bit")
            #expect(final?.header.sequence == 40)
        }
        let newFinal = finals.first { $0.topic == "new-0" && $0.header.kind == .final }
        #expect(sameBytes(newFinal?.probabilities, offlineProbabilities(b, pixels: digits.image(at: 5)).last!))
        #expect(try daemon.status().previousModels.isEmpty, "model A is released with its last stream")
        #expect(daemon.stop() == 0)
    }

    @Test func streamsOfAModelWhoseFileIsGoneGetNotStartedAndTheOthersFinish() throws {
        let (directory, arguments, _, b, aPath) = try runUntilTheStopAfterAReload()
        try FileManager.default.removeItem(atPath: aPath)
        let daemon = try DaemonProcess(arguments: arguments, directory: directory)
        #expect(daemon.logContains("streams not restored"), "\(daemon.log)")
        let line = daemon.log.split(separator: "\n").first { $0.contains("streams not restored") }.map(String.init) ?? ""
        #expect(line.contains("streams=5") && line.contains(aPath) && line.contains("No such file"), "\(line)")
        let status = try daemon.status()
        #expect(status.liveStreams == 1 && status.previousModels.isEmpty)

        let client = try TestClient(daemon)
        let digits = try fixtureDigits(6)
        for image in 0..<5 { try client.send(try row(10, of: "old-\(image)", sequence: 40, pixels: digits.image(at: image))) }
        for r in 10..<28 { try client.send(try row(r, of: "new-0", sequence: 41, pixels: digits.image(at: 5), last: r == 27)) }
        let received = try client.collect(quietMilliseconds: 1000) { all in
            all.filter { $0.topic.hasPrefix("old-") }.count == 5 && all.contains { $0.topic == "new-0" && $0.header.kind == .final }
        }
        for image in 0..<5 {
            let answers = received.filter { $0.topic == "old-\(image)" }
            #expect(answers.count == 1 && answers.first?.errorCode == "not_started" && answers.first?.header.row == 10
                    && answers.first?.header.sequence == 40, "old-\(image): \(answers.map { "\($0.header) \($0.errorCode ?? "")" })")
        }
        let newFinal = received.first { $0.topic == "new-0" && $0.header.kind == .final }
        #expect(sameBytes(newFinal?.probabilities, offlineProbabilities(b, pixels: digits.image(at: 5)).last!))
        #expect(daemon.stop() == 0)
    }
}
