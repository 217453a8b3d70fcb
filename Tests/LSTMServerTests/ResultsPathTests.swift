import DaemonTestSupport
import Foundation
import MNIST
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// A DEALER client of the daemon's lossless ROUTER path.
final class ResultsClient {
    let context: ZMQContext
    let dealer: ZMQSocket

    init(_ daemon: DaemonProcess, receiveHighWaterMark: Int = 1000) throws {
        let context = try ZMQContext()
        self.context = context
        dealer = try ZMQSocket(context, type: .dealer)
        try dealer.set(.linger, .zero)
        try dealer.set(.receiveHWM, receiveHighWaterMark)
        try dealer.connect(daemon.results)
    }

    func send(_ message: IngestMessage) throws { _ = try dealer.send(message.frames) }

    func receive(timeoutMilliseconds: Int) throws -> Received? {
        try dealer.set(.receiveTimeout, .milliseconds(timeoutMilliseconds))
        guard let frames = try dealer.receiveMultipart() else { return nil }
        let message = try PredictionMessage(frames: frames)
        return Received(topic: String(decoding: frames[0], as: UTF8.self), header: message.header, body: message.body)
    }
}

@Suite(.serialized) struct ResultsPathTests {
    @Test func aClientThatReadsLateLosesNothingWhileAnotherIsServed() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--results-hwm", "20"], directory: directory)
        let digits = try fixtureDigits(120)
        let slow = try ResultsClient(daemon, receiveHighWaterMark: 10)
        // The slow client sends 100 digits, interleaved, and reads nothing yet.
        for r in 0..<28 {
            for image in 0..<100 {
                try slow.send(try row(r, of: "slow-\(image)", pixels: digits.image(at: image)))
            }
        }
        // Meanwhile a second client streams 20 digits closed-loop: each row waits for its answer.
        let quick = try ResultsClient(daemon)
        var latencies: [Double] = []
        var quickFinals = 0
        for image in 100..<120 {
            for r in 0..<28 {
                let sent = Date()
                try quick.send(try row(r, of: "quick-\(image)", pixels: digits.image(at: image)))
                let answer = try #require(try quick.receive(timeoutMilliseconds: 10_000), "the second client is not held up")
                #expect(answer.topic == "quick-\(image)" && Int(answer.header.row) == r)
                latencies.append(Date().timeIntervalSince(sent))
                if answer.header.kind == .final { quickFinals += 1 }
            }
        }
        #expect(quickFinals == 20)
        #expect(daemon.logContains("results client reads slowly"), "the slow client was held back:\n\(daemon.log)")
        latencies.sort()
        print("second client's row-to-prediction latency while the first did not read: p50 \(latencies[latencies.count / 2] * 1e3) ms, max \(latencies.last! * 1e3) ms")
        // Now the slow client reads everything: every prediction, in order per stream, none lost.
        var nextRow = [String: Int]()
        var finals = 0
        while let message = try slow.receive(timeoutMilliseconds: 5000) {
            #expect(message.header.kind != .error)
            let expected = nextRow[message.topic, default: 0]
            #expect(Int(message.header.row) == expected, "in order on \(message.topic)")
            nextRow[message.topic] = expected + 1
            if message.header.kind == .final {
                finals += 1
                let image = Int(message.topic.dropFirst("slow-".count))!
                #expect(message.probabilities == offlineProbabilities(model, pixels: digits.image(at: image)).last!)
            }
            if finals == 100 && nextRow.values.allSatisfy({ $0 == 28 }) { break }
        }
        #expect(finals == 100)
        #expect(nextRow.count == 100 && nextRow.values.allSatisfy { $0 == 28 }, "all 2,800 predictions arrived")
        #expect(daemon.stop() == 0)
    }

    @Test func aRestoredStreamIsBoundAgainToTheDealerThatContinuesIt() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let arguments = ["--model", path, "--state-dir", directory.appendingPathComponent("state").path]
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        let client = try ResultsClient(daemon)
        let digit = try fixtureDigits(1).image(at: 0)
        for r in 0..<10 {
            try client.send(try row(r, of: "resumed", pixels: digit))
            #expect(try client.receive(timeoutMilliseconds: 5000).map { Int($0.header.row) } == r)
        }
        #expect(daemon.stop() == 0)
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        var final: Received?
        for r in 10..<28 {
            try client.send(try row(r, of: "resumed", pixels: digit))
            let answer = try #require(try client.receive(timeoutMilliseconds: 5000), "row \(r) answered on the DEALER")
            #expect(Int(answer.header.row) == r)
            if answer.header.kind == .final { final = answer }
        }
        #expect(final?.probabilities == offlineProbabilities(model, pixels: digit).last!)
        #expect(daemon.stop() == 0)
    }
}
