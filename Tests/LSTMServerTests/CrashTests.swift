import DaemonTestSupport
import Foundation
import LSTMCore
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// Issue 13: randomized kill -9 rounds with reused ids, ENDs, restarts at row 0 and resends, over
/// PUSH and DEALER. Every prediction must equal offline inference of its own sequence, and every
/// sequence must end with its FINAL, an ERROR, or the client's END.
@Suite(.serialized) struct CrashTests {
    final class Sequence {
        let id: String
        let number: UInt32
        let digit: Int
        var nextToSend = 0
        /// Rows whose prediction arrived.
        var seen = Set<Int>()
        var over = false
        init(id: String, number: UInt32, digit: Int) { (self.id, self.number, self.digit) = (id, number, digit) }
    }

    @Test func killNineAtRandomMomentsNeverGivesAWrongPrediction() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let digits = try fixtureDigits(50)
        let expected = (0..<50).map { offlineProbabilities(model, pixels: digits.image(at: $0)) }
        // Each start picks a snapshot interval: short ones catch kills during a write, longer ones
        // leave snapshots older than sequences that ended and ids reused since (issue 13 #1).
        func arguments() -> [String] {
            ["--model", path, "--state-dir", directory.appendingPathComponent("state").path,
             "--snapshot-interval", ["0.02", "0.05", "0.1", "0.3"][Int(random.next() % 4)], "--idle-timeout", "3"]
        }
        // A new seed each run (printed with any failure, to replay it).
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var random = SplitMix64(state: seed)
        func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

        let slots = 120, rounds = 12
        var bySequence: [UInt32: Sequence] = [:]
        var current: [Sequence?] = Array(repeating: nil, count: slots)
        var nextNumber: UInt32 = 1
        var wrong: [String] = []
        var ended = 0, finals = 0, errors: [String: Int] = [:]

        var daemon = try DaemonProcess(arguments: arguments(), directory: directory)
        var push = try TestClient(daemon)
        var dealer = try ResultsClient(daemon)

        func viaDealer(_ slot: Int) -> Bool { slot % 2 == 1 }
        func startSequence(_ slot: Int) {
            let sequence = Sequence(id: "crash-\(slot)", number: nextNumber, digit: Int(random.next() % 50))
            nextNumber += 1
            bySequence[sequence.number] = sequence
            current[slot] = sequence
        }
        func send(_ sequence: Sequence, row r: Int, slot: Int) throws {
            let message = try row(r, of: sequence.id, sequence: sequence.number, pixels: digits.image(at: sequence.digit),
                                  last: r == 27)
            if viaDealer(slot) { _ = try dealer.dealer.send(message.frames, dontWait: true) } else { try push.send(message) }
        }
        func record(_ message: Received) {
            guard message.topic.hasPrefix("crash-"), let number = message.header.sequence,
                  let sequence = bySequence[number], sequence.id == message.topic else { return }
            switch message.header.kind {
            case .partial, .final:
                let want = expected[sequence.digit][Int(message.header.row)]
                // The row-step kernels are batch-invariant: a prediction equals the offline one bit for bit.
                if message.probabilities.map(\.bitPattern) != want.map(\.bitPattern) {
                    wrong.append("\(sequence.id) seq \(number) row \(message.header.row)")
                }
                sequence.seen.insert(Int(message.header.row))
                if message.header.kind == .final && !sequence.over { sequence.over = true; finals += 1 }
            case .error:
                errors[message.errorCode ?? "?", default: 0] += 1
                sequence.over = true
            }
        }
        func drain(milliseconds: Int) throws {
            while let message = try push.receive(timeoutMilliseconds: milliseconds) {
                if !message.topic.hasPrefix("crash-") || Int(message.topic.dropFirst(6)).map({ !viaDealer($0) }) ?? false { record(message) }
            }
            while let message = try dealer.receive(timeoutMilliseconds: 0) { record(message) }
        }
        /// Waits until the SUB hears the restarted daemon (its subscription is resent on reconnect).
        func awaitSubscription() throws {
            let probe = try StreamID("crash-probe")
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && daemon.process.isRunning {
                try push.send(IngestMessage.end(of: probe, sequence: 0))
                if let m = try push.receive(timeoutMilliseconds: 100), m.topic == "crash-probe" { return }
            }
            throw HarnessError("subscription never became live (lstmd \(daemon.process.isRunning ? "running" : "exited")):\n\(daemon.log)")
        }

        /// Waits until the new DEALER is connected (admitted at its ZAP handshake) and read: rows
        /// sent before that queue in it, and those past its high-water mark are lost to `dontWait`.
        func awaitDealer() throws {
            let probe = try StreamID("crash-dealer-probe")
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && daemon.process.isRunning {
                _ = try dealer.dealer.send(IngestMessage.end(of: probe, sequence: 0).frames, dontWait: true)
                if let m = try dealer.receive(timeoutMilliseconds: 100), m.topic == "crash-dealer-probe" { return }
            }
            throw HarnessError("the DEALER was never served (lstmd \(daemon.process.isRunning ? "running" : "exited")):\n\(daemon.log)")
        }

        for slot in 0..<slots { startSequence(slot) }
        for round in 0..<rounds {
            // Phase A: traffic until a random kill.
            let ticks = 3 + Int(random.next() % 60)
            for _ in 0..<ticks {
                for slot in 0..<slots {
                    guard let sequence = current[slot] else { continue }
                    if sequence.over || sequence.nextToSend == 28 {
                        if sequence.over || sequence.seen.contains(27) { startSequence(slot) }
                        continue
                    }
                    if sequence.nextToSend > 3 && chance(2) {          // abandon with END
                        let end = IngestMessage.end(of: try StreamID(sequence.id), sequence: sequence.number)
                        if viaDealer(slot) { _ = try dealer.dealer.send(end.frames, dontWait: true) } else { try push.send(end) }
                        sequence.over = true
                        ended += 1
                        startSequence(slot)
                    } else if sequence.nextToSend > 3 && chance(2) {   // restart at row 0: a new sequence
                        sequence.over = true
                        ended += 1
                        startSequence(slot)
                        try send(current[slot]!, row: 0, slot: slot)
                        current[slot]!.nextToSend = 1
                    } else if sequence.nextToSend > 0 && chance(3) {   // resend the previous row
                        try send(sequence, row: sequence.nextToSend - 1, slot: slot)
                    } else {
                        try send(sequence, row: sequence.nextToSend, slot: slot)
                        sequence.nextToSend += 1
                    }
                }
                try drain(milliseconds: 1)
                usleep(2000)
            }
            usleep(UInt32(random.next() % 30_000))
            kill(daemon.process.processIdentifier, SIGKILL)
            _ = daemon.stop(signal: SIGKILL)
            try drain(milliseconds: 10)

            // Phase B: restart; every sequence in flight resends from its first unseen row.
            daemon = try DaemonProcess(arguments: arguments(), directory: directory)
            push = try TestClient(daemon)
            dealer = try ResultsClient(daemon)
            try awaitSubscription()
            try awaitDealer()
            let inFlight = current.compactMap { $0 }.filter { !$0.over && $0.nextToSend > 0 }
            for sequence in inFlight {
                let slot = Int(sequence.id.dropFirst(6))!
                let first = (0..<28).first { !sequence.seen.contains($0) } ?? 28
                for r in first..<28 { try send(sequence, row: r, slot: slot) }
                sequence.nextToSend = 28
            }
            let deadline = Date().addingTimeInterval(10)
            while inFlight.contains(where: { !$0.over }) && Date() < deadline { try drain(milliseconds: 20) }
            let stuck = inFlight.filter { !$0.over }.map { "\($0.id) seq \($0.number) seen \($0.seen.sorted())" }
            #expect(stuck.isEmpty, "round \(round) (seed \(seed)): sequences without FINAL or ERROR: \(stuck.prefix(5))")
            for slot in 0..<slots where current[slot]!.over || current[slot]!.nextToSend == 28 { startSequence(slot) }
        }
        #expect(wrong.isEmpty, "seed \(seed): wrong predictions: \(wrong.prefix(10))")
        #expect(finals > 0)
        print("crash test (seed \(seed)): \(rounds) rounds × \(slots) ids, \(nextNumber - 1) sequences, \(finals) FINALs, "
              + "\(ended) abandoned or restarted, errors \(errors.sorted { $0.key < $1.key })")
        #expect(daemon.stop() == 0)
    }
}
