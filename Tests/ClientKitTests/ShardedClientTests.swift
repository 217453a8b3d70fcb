import DaemonTestSupport
import Foundation
import LSTMClientKit
import LSTMCore
import Synchronization
import TestSupport
import Testing
import WireProtocol

/// `ShardedClient` over three real `lstmd` processes, one of which is stopped mid-run.
@Suite(.serialized) struct ShardedClientTests {
    /// 3,000 digits over 600 stream ids (5 sequences each, one after the other), all ids at once.
    static let ids = 600
    static let digitsPerID = 5

    /// What happened to one stream id.
    struct IDOutcome: Sendable {
        var finals = 0
        var wrongFinals = 0
        var failure: StreamFailure?
    }

    /// FINALs so far, and whether the daemon has been stopped.
    final class RunProgress: Sendable {
        let finals = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
    }

    @Test func threeDaemonsServeEveryDigitAndAStoppedOneFailsOnlyItsStreams() async throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 9)
        let daemons = try (0..<3).map { n in
            let own = directory.appendingPathComponent("d\(n)")
            try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
            return try DaemonProcess(arguments: ["--model", path], directory: own)
        }
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits).map { $0[27] }
        let client = try ShardedClient(daemons.map(\.endpoints), options: ClientOptions(timeout: 3, recoveryDelay: 1))
        defer { client.close() }
        let ids = try (0..<Self.ids).map { try StreamID("shard-test/\($0)") }
        let homes = ids.map { client.daemonIndex(for: $0) }
        for daemon in 0..<3 { try #require(homes.filter { $0 == daemon }.count > 100, "ids per daemon: \(homes)") }
        let stopped = 1
        let total = Self.ids * Self.digitsPerID
        let progress = RunProgress()

        let started = Date()
        let outcomes = try await withThrowingTaskGroup(of: (Int, IDOutcome).self) { group in
            // Stops daemon 1 (SIGTERM) once a third of all digits have their FINAL. Every id sends
            // its last digit only after that, so every id of the stopped daemon still had rows to
            // send when it stopped (an id that had finished all its digits could not fail).
            group.addTask {
                while progress.finals.load(ordering: .relaxed) < total / 3 { try await Task.sleep(for: .milliseconds(5)) }
                daemons[stopped].stop()
                progress.stopped.store(true, ordering: .releasing)
                return (-1, IDOutcome())
            }
            for n in 0..<Self.ids {
                group.addTask {
                    var outcome = IDOutcome()
                    for k in 0..<Self.digitsPerID {
                        if k == Self.digitsPerID - 1 {
                            while !progress.stopped.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(5)) }
                        }
                        let digit = (n * Self.digitsPerID + k) % digits.count
                        let stream = try client.stream(id: ids[n])
                        do { try stream.send(rows: rows(of: digits, digit)) } catch {
                            outcome.failure = .clientClosed
                            break
                        }
                        switch await stream.result() {
                        case .final(let prediction):
                            outcome.finals += 1
                            if !sameBits(prediction.probabilities, expected[digit]) { outcome.wrongFinals += 1 }
                            progress.finals.add(1, ordering: .relaxed)
                        case .failed(let failure):
                            outcome.failure = failure
                        case .partial, nil:
                            outcome.failure = .superseded
                        }
                        if outcome.failure != nil { break }   // its daemon is gone: this id stops
                    }
                    return (n, outcome)
                }
            }
            var all: [Int: IDOutcome] = [:]
            for try await (n, outcome) in group where n >= 0 { all[n] = outcome }
            return all
        }
        let seconds = Date().timeIntervalSince(started)

        var failuresByKind: [String: Int] = [:]
        var finals = 0
        for n in 0..<Self.ids {
            let outcome = try #require(outcomes[n])
            finals += outcome.finals
            #expect(outcome.wrongFinals == 0, "id \(n): \(outcome.wrongFinals) FINALs differ from the engine's")
            if homes[n] == stopped {
                guard let failure = outcome.failure else {
                    Issue.record("id \(n) on the stopped daemon did not fail (\(outcome.finals) FINALs)")
                    continue
                }
                let kind: String = switch failure {
                case .daemon(let code, _, _): code
                case .timeout: "timeout"
                default: "\(failure)"
                }
                failuresByKind[kind, default: 0] += 1
                #expect(kind == "shutting_down" || kind == "timeout", "id \(n): \(failure)")
                #expect(outcome.finals < Self.digitsPerID, "id \(n)")
            } else {
                #expect(outcome.failure == nil, "id \(n) on a live daemon failed: \(String(describing: outcome.failure))")
                #expect(outcome.finals == Self.digitsPerID, "id \(n)")
            }
        }
        let failed = failuresByKind.values.reduce(0, +)
        // Every id of the stopped daemon failed, none of the others did.
        #expect(failed == homes.filter { $0 == stopped }.count, "\(failuresByKind)")
        #expect(finals >= total / 3)
        print("sharded: \(finals) FINALs of \(total) digits, \(failed) ids failed on the stopped daemon \(failuresByKind), \(String(format: "%.1f", seconds)) s")
    }
}
