import DaemonTestSupport
import Foundation
import LSTMCore
import MNIST
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// A prediction message as a subscriber saw it.
struct Received {
    var topic: String
    var header: PredictionHeader
    var body: PredictionBody

    var probabilities: [Float] {
        if case let .probabilities(values) = body { return values }
        return []
    }
    var errorCode: String? {
        if case let .error(error) = body { return error.code }
        return nil
    }
}

/// A client of a test daemon: PUSH sockets for rows and one SUB for predictions.
final class TestClient {
    let context: ZMQContext
    let pushes: [ZMQSocket]
    let subscriber: ZMQSocket

    init(_ daemon: DaemonProcess, pushSockets: Int = 1, subscribe prefix: String = "") throws {
        let context = try ZMQContext()
        self.context = context
        subscriber = try ZMQSocket(context, type: .sub)
        try subscriber.set(.linger, .zero)
        try subscriber.set(.receiveHWM, 0)
        try subscriber.subscribe(prefix)
        try subscriber.connect(daemon.predictions)
        pushes = try (0..<pushSockets).map { _ in
            let push = try ZMQSocket(context, type: .push)
            try push.set(.linger, .zero)
            try push.connect(daemon.ingest)
            return push
        }
        // A SUB gets only what is published after its subscription reached the PUB.
        try awaitSubscription(daemon)
    }

    /// Sends rows to a stream that nobody uses until its error arrives: the subscription is then live
    /// (also after a restart of the daemon, whose PUB drops what it publishes before then).
    func awaitSubscription(_ daemon: DaemonProcess) throws {
        let probe = try StreamID("subscription-probe-\(UUID().uuidString.prefix(6))")
        // Generous: on a loaded CI machine the first published message can take seconds.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && daemon.process.isRunning {
            try send(IngestMessage(streamID: probe, header: IngestHeader(kind: .end, row: 0, sequence: 0), row: []))
            if let message = try receive(timeoutMilliseconds: 100), message.topic == probe.string { return }
        }
        throw HarnessError("subscription never became live (lstmd \(daemon.process.isRunning ? "running" : "exited")):\n\(daemon.log)")
    }

    func send(_ message: IngestMessage, via socket: Int = 0) throws {
        _ = try pushes[socket].send(message.frames)
    }

    func send(frames: [[UInt8]], via socket: Int = 0) throws {
        _ = try pushes[socket].send(frames)
    }

    func receive(timeoutMilliseconds: Int) throws -> Received? {
        try subscriber.set(.receiveTimeout, .milliseconds(timeoutMilliseconds))
        guard let frames = try subscriber.receiveMultipart() else { return nil }
        let message = try PredictionMessage(frames: frames)
        return Received(topic: String(decoding: frames[0], as: UTF8.self), header: message.header, body: message.body)
    }

    /// Everything that arrives until `done` says so or nothing arrives for `quietMilliseconds`.
    func collect(quietMilliseconds: Int = 2000, until done: ([Received]) -> Bool) throws -> [Received] {
        var all: [Received] = []
        while !done(all), let message = try receive(timeoutMilliseconds: quietMilliseconds) { all.append(message) }
        return all
    }

    /// The next message on `topic`, skipping others.
    func next(on topic: String, timeoutMilliseconds: Int = 5000) throws -> Received {
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        while Date() < deadline {
            if let message = try receive(timeoutMilliseconds: 200), message.topic == topic { return message }
        }
        throw HarnessError("nothing on topic \(topic) within \(timeoutMilliseconds) ms")
    }
}

func writeTestModel(in directory: URL, seed: UInt64 = 1, hidden: Int = 32) throws -> (LSTMModel, String) {
    let model = try makeRandomModel(inputSize: 28, hidden: hidden, layers: 1, classes: 10, sequenceLength: 28,
                                    inputScale: 1.0 / 255.0, seed: seed)
    let path = directory.appendingPathComponent("model-\(seed).safetensors")
    try model.write(to: path)
    return (try LSTMModel.load(contentsOf: path), path.path)
}

/// Row `index` of a digit, in protocol version 2 with sequence number `sequence` (nil: version 1).
func row(_ index: Int, of id: String, sequence: UInt32? = 1, pixels: ArraySlice<UInt8>, last: Bool = false) throws -> IngestMessage {
    let start = pixels.startIndex + index * 28
    return IngestMessage.row(UInt32(index), of: try StreamID(id), sequence: sequence,
                             pixels: Array(pixels[start..<(start + 28)]), last: last)
}

@Suite(.serialized) struct DaemonServingTests {
    @Test func thousandDigitsOverFiftyConcurrentStreamsMatchOfflineInference() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let client = try TestClient(daemon, pushSockets: 4)
        let digits = try fixtureDigits(1000)
        let concurrent = 50
        // Slot k carries digits k, k+50, k+100, …; every round sends one row of every slot's digit.
        var finals: [String: Received] = [:]
        var partials = 0
        for wave in stride(from: 0, to: digits.count, by: concurrent) {
            for r in 0..<28 {
                for k in 0..<concurrent where wave + k < digits.count {
                    let image = wave + k
                    try client.send(try row(r, of: "digit-\(image)", pixels: digits.image(at: image)), via: k % 4)
                }
                while let message = try client.receive(timeoutMilliseconds: 0) {
                    if message.header.kind == .final { finals[message.topic] = message } else { partials += 1 }
                    #expect(message.header.kind != .error, "unexpected error \(message.errorCode ?? "")")
                }
            }
        }
        let rest = try client.collect { _ in finals.count == digits.count && partials == digits.count * 27 }
        for message in rest {
            if message.header.kind == .final { finals[message.topic] = message } else { partials += 1 }
        }
        #expect(finals.count == digits.count, "every stream gets its FINAL")
        #expect(partials == digits.count * 27)
        var worst: Float = 0
        for image in 0..<digits.count {
            guard let final = finals["digit-\(image)"] else { continue }
            let expected = offlineProbabilities(model, pixels: digits.image(at: image)).last!
            worst = max(worst, zip(final.probabilities, expected).map { abs($0 - $1) }.max()!)
            #expect(final.header.row == 27)
        }
        #expect(worst <= 1e-6, "largest difference from offline inference: \(worst)")
        let status = try daemon.status()
        #expect(status.counters[.rowsApplied] == 28_000)
        #expect(status.counters[.streamsFinished] == 1000)
        #expect(status.liveStreams == 0)
        #expect(daemon.stop() == 0)
    }

    @Test func everyErrorCodeFromACraftedMessageAndTheDaemonServesOn() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--max-streams", "3", "--max-message-size", "4096"],
                                       directory: directory)
        let client = try TestClient(daemon)
        let digit = try fixtureDigits(1).image(at: 0)
        let goodRow = Array(digit.prefix(28))
        func header(version: UInt8 = 1, kind: UInt8 = 0, dtype: UInt8 = 0, flags: UInt8 = 0, row: UInt32 = 0) -> [UInt8] {
            [version, kind, dtype, flags] + withUnsafeBytes(of: row.littleEndian, Array.init)
        }
        func expectError(_ frames: [[UInt8]], topic: String, code: ErrorCode, row: UInt32? = nil) throws {
            try client.send(frames: frames)
            let message = try client.next(on: topic)
            #expect(message.header.kind == .error, "\(code): got \(message.header.kind)")
            #expect(message.errorCode == code.rawValue, "expected \(code), got \(message.errorCode ?? "nothing")")
            #expect(message.header.argmax == 255)
            if let row { #expect(message.header.row == row) }
        }
        let s = Array("crafted".utf8)
        try expectError([Array("$reserved".utf8), header(), goodRow], topic: "$errors", code: .badStreamID)
        try expectError([[0xff, 0xfe], header(), goodRow], topic: "$errors", code: .badStreamID)
        try expectError([s, header(), goodRow, []], topic: "crafted", code: .badFrameCount)
        try expectError([s, [1, 0, 0]], topic: "crafted", code: .badHeaderSize)
        try expectError([s, header(version: 3), goodRow], topic: "crafted", code: .badVersion)
        try expectError([s, header(version: 2), goodRow], topic: "crafted", code: .badHeaderSize)
        try expectError([s, header(kind: 7), goodRow], topic: "crafted", code: .badKind)
        try expectError([s, header(dtype: 9), goodRow], topic: "crafted", code: .badDType)
        try expectError([s, header(flags: 0x80), goodRow], topic: "crafted", code: .badFlags)
        try expectError([s, header(), Array(goodRow.prefix(27))], topic: "crafted", code: .badRowSize)
        let nan = [Float](repeating: .nan, count: 28).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        try expectError([s, header(dtype: 1), nan], topic: "crafted", code: .nonFiniteInput)
        try expectError([s, header(row: 5), goodRow], topic: "crafted", code: .notStarted, row: 5)
        try expectError([s, header(kind: 1, row: 0)], topic: "crafted", code: .unknownStream)
        // A live stream, then a gap: reported and the stream dropped.
        try client.send(frames: [s, header(row: 0), goodRow])
        #expect(try client.next(on: "crafted").header.kind == .partial)
        try expectError([s, header(row: 3), goodRow], topic: "crafted", code: .gap, row: 3)
        try expectError([s, header(row: 1), goodRow], topic: "crafted", code: .notStarted, row: 1)
        // Row index beyond the model's 28 rows.
        try client.send(frames: [s, header(row: 0), goodRow])
        _ = try client.next(on: "crafted")
        try expectError([s, header(row: 28), goodRow], topic: "crafted", code: .rowOutOfRange, row: 28)
        // Capacity: three live streams, the fourth refused, the live ones untouched.
        for id in ["a", "b"] { try client.send(frames: [Array(id.utf8), header(row: 0), goodRow]); _ = try client.next(on: id) }
        try expectError([Array("d".utf8), header(row: 0), goodRow], topic: "d", code: .capacity)
        try client.send(frames: [Array("a".utf8), header(row: 1), goodRow])
        #expect(try client.next(on: "a").header.row == 1)
        // Operator drop.
        guard case .drop = try daemon.request(.drop(stream: try StreamID("b"))) else {
            Issue.record("drop reply expected")
            return
        }
        #expect(try client.next(on: "b").errorCode == ErrorCode.dropped.rawValue)
        // A message larger than --max-message-size makes libzmq drop it and disconnect its sender
        // (with whatever that connection still carried); the daemon serves everyone else on.
        let offender = try ZMQSocket(client.context, type: .push)
        try offender.set(.linger, .zero)
        try offender.connect(daemon.ingest)
        _ = try offender.send([s, header(row: 1), [UInt8](repeating: 1, count: 5000)])
        // Still serving: a full digit on a fresh stream gives the offline answer.
        for r in 0..<28 { try client.send(try row(r, of: "after", pixels: digit)) }
        var final: Received?
        while final == nil {
            let message = try client.next(on: "after")
            if message.header.kind == .final { final = message }
        }
        let expected = offlineProbabilities(model, pixels: digit).last!
        #expect(zip(final!.probabilities, expected).allSatisfy { abs($0 - $1) <= 1e-6 })
        let status = try daemon.status()
        for code: ErrorCode in [.badStreamID, .badFrameCount, .badHeaderSize, .badVersion, .badKind, .badDType,
                                .badFlags, .badRowSize, .nonFiniteInput, .notStarted, .unknownStream, .gap,
                                .rowOutOfRange, .capacity, .dropped] {
            #expect((status.counters.errors[code.rawValue] ?? 0) >= 1, "status counts \(code)")
        }
        #expect(daemon.stop() == 0)
    }

    @Test func duplicatesAreIgnoredAndIdleStreamsEvicted() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (model, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--idle-timeout", "1"], directory: directory)
        let client = try TestClient(daemon)
        let digit = try fixtureDigits(1).image(at: 0)
        // Every row sent twice (a retrying client): the answer is that of one clean pass.
        for r in 0..<28 {
            try client.send(try row(r, of: "twice", pixels: digit))
            try client.send(try row(r, of: "twice", pixels: digit))
        }
        var final: Received?
        while final == nil {
            let message = try client.next(on: "twice")
            if message.header.kind == .final { final = message }
        }
        #expect(zip(final!.probabilities, offlineProbabilities(model, pixels: digit).last!).allSatisfy { abs($0 - $1) <= 1e-6 })
        // A stream that stops sending is evicted with an error on its topic.
        try client.send(try row(0, of: "idle", pixels: digit))
        #expect(try client.next(on: "idle").header.kind == .partial)
        let evicted = try client.next(on: "idle", timeoutMilliseconds: 5000)
        #expect(evicted.errorCode == ErrorCode.evicted.rawValue)
        #expect(evicted.header.row == 1, "the ERROR names the row the stream expected")
        let status = try daemon.status()
        #expect(status.counters[.duplicates] >= 27)
        #expect(status.counters[.streamsEvicted] == 1)
        #expect(status.liveStreams == 0)
        #expect(daemon.stop() == 0)
    }
}

@Suite struct DefaultModelTests {
    @Test func withNoModelArgumentTheEmbeddedDefaultModelServesMNIST() throws {
        let daemon = try DaemonProcess()
        let status = try daemon.status()
        #expect(status.model.path == nil, "the embedded default model")
        #expect(status.model.shape.hiddenSize == 128 && status.model.shape.layers == 1)
        #expect(status.model.sequenceLength == 28)
        #expect(abs(status.model.inputScale - 1 / 255) < 1e-9)
        let model = try LSTMModel.load(contentsOf: Fixtures.productsDirectory
            .appendingPathComponent("lstmd_LSTMDefaultModel.resources/default-model.safetensors"))
        #expect(model.sha256 == status.model.sha256)
        let client = try TestClient(daemon, pushSockets: 2)
        let digits = try fixtureDigits(100)
        for r in 0..<28 {
            for image in 0..<digits.count {
                try client.send(try row(r, of: "default-\(image)", pixels: digits.image(at: image)), via: image % 2)
            }
        }
        var finals: [String: Received] = [:]
        for message in try client.collect(until: { all in all.filter { $0.header.kind == .final }.count == 100 })
        where message.header.kind == .final {
            finals[message.topic] = message
        }
        #expect(finals.count == 100)
        var correct = 0
        for image in 0..<digits.count {
            let final = try #require(finals["default-\(image)"])
            #expect(final.probabilities == offlineProbabilities(model, pixels: digits.image(at: image)).last!)
            if Int(final.header.argmax) == Int(digits.labels[image]) { correct += 1 }
        }
        #expect(correct >= 97, "a trained model: \(correct) of the first 100 test digits right")
        #expect(daemon.stop() == 0)
    }
}
