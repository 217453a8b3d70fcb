import DaemonTestSupport
import Foundation
import LSTMClientKit
import LSTMCore
import TestSupport
import Testing
import WireProtocol

/// `DaemonClient` against real `lstmd` processes on ipc endpoints.
@Suite(.serialized) struct DaemonClientTests {
    @Test func asyncStreamsGetEveryPartialAndFinalBitForBit() async throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 3)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        let client = try DaemonClient(daemon.endpoints)
        defer { client.close() }

        // 100 digits, 25 at a time, each in its own task.
        let results = try await withThrowingTaskGroup(of: (Int, [StreamEvent]).self) { group in
            var collected: [Int: [StreamEvent]] = [:]
            for index in 0..<digits.count {
                if index >= 25, let (done, events) = try await group.next() { collected[done] = events }
                group.addTask {
                    let stream = try client.stream()
                    try stream.send(rows: rows(of: digits, index))
                    var events: [StreamEvent] = []
                    for await event in stream.events { events.append(event) }
                    return (index, events)
                }
            }
            for try await (done, events) in group { collected[done] = events }
            return collected
        }
        #expect(results.count == digits.count)
        for index in 0..<digits.count {
            let events = try #require(results[index])
            // PUB may drop, but nothing here is slow enough for it: every row's answer must come.
            #expect(events.count == 28, "digit \(index): \(events.count) events, last \(String(describing: events.last))")
            for (row, event) in events.enumerated() {
                let prediction = try #require(event.prediction, "digit \(index) row \(row): \(event)")
                #expect(Int(prediction.row) == row)
                #expect(sameBits(prediction.probabilities, expected[index][row]), "digit \(index) row \(row)")
            }
            guard case .final = events.last else { Issue.record("digit \(index) ended with \(String(describing: events.last))"); continue }
        }
    }

    @Test func allStreamsWalksEveryPageAndSeesEachLiveStreamOnce() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, path) = try servedModel(in: directory, seed: 6)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let client = try DaemonClient(daemon.endpoints)
        defer { client.close() }
        let digit = rows(of: try fixtureDigits(), 0)
        let streams = try (0..<25).map { _ in try client.stream() }
        for stream in streams {
            for row in digit.prefix(3) { _ = try stream.send(pixels: row) }
        }
        let control = try ControlClient(endpoint: daemon.control)
        let deadline = Date().addingTimeInterval(20)
        while try control.status().liveStreams < streams.count && Date() < deadline { usleep(10_000) }

        var pages: [Int] = []
        try control.forEachStreamsPage(limit: 7) { reply, json in
            pages.append(reply.streams.count)
            #expect((try? ControlReply(jsonBytes: json, for: .streams(StreamsPage()))) != nil, "each page comes with its JSON")
        }
        #expect(pages.count >= 4 && pages.allSatisfy { $0 <= 7 } && pages.reduce(0, +) == streams.count, "\(pages)")
        let all = try control.allStreams(limit: 7)
        #expect(all.map(\.id) == streams.map(\.id).sorted(), "\(all.map(\.id))")
        #expect(all.allSatisfy { $0.nextRow == 3 })
    }

    @Test func losslessBlockingStreamsGetTheEnginesFinals() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 4)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        let client = try DaemonClient(daemon.endpoints, options: ClientOptions(lossless: true))
        defer { client.close() }

        // All 100 digits in flight at once on one DEALER, then read one by one.
        let streams = try (0..<digits.count).map { index in
            let stream = try client.stream()
            try stream.send(rows: rows(of: digits, index))
            return stream
        }
        for (index, stream) in streams.enumerated() {
            var partials = 0
            var final: Prediction?
            while let event = stream.next() {
                switch event {
                case .partial: partials += 1
                case .final(let prediction): final = prediction
                case .failed(let failure): Issue.record("digit \(index): \(failure)")
                }
            }
            #expect(partials == 27, "digit \(index)")
            let prediction = try #require(final, "digit \(index)")
            #expect(prediction.sequence == stream.sequence && prediction.streamID == stream.id)
            #expect(sameBits(prediction.probabilities, expected[index][27]), "digit \(index)")
        }
        // The daemon counted every row once: nothing resent on the lossless path.
        let counters = try daemon.status().counters
        #expect(counters[.rowsApplied] == UInt64(digits.count * 28))
    }

    @Test func aPartialDroppedOnTheWayIsRecoveredByResendingTheRow() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 8)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        let relay = try LossyRelay(from: daemon.predictions, in: directory, droppingRow: 5)
        var endpoints = daemon.endpoints
        endpoints.predictions = relay.endpoint
        let client = try DaemonClient(endpoints, options: ClientOptions(timeout: 5, recoveryDelay: 0.3))
        defer { client.close() }

        // Row by row: row 5's PARTIAL is dropped once; the client resends row 5 and the daemon
        // publishes its prediction again, which the relay lets through.
        let stream = try client.stream()
        for (row, pixels) in rows(of: digits, 2).enumerated() {
            try stream.send(pixels: pixels, last: row == 27)
            let event = try #require(stream.next(), "row \(row)")
            let prediction = try #require(event.prediction, "row \(row): \(event)")
            #expect(prediction.row == UInt32(row))
            #expect(sameBits(prediction.probabilities, expected[2][row]), "row \(row)")
        }
        #expect(stream.next() == nil)
        #expect(relay.dropped.load(ordering: .relaxed) == 1)
        let counters = try daemon.status().counters
        #expect(counters[.duplicates] == 1, "the one resend")
        #expect(counters[.rowsApplied] == 28)
    }

    @Test func floatRowsEndAndBadRowsAreRefusedByTheClient() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 5)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        let client = try DaemonClient(daemon.endpoints)
        defer { client.close() }

        // Float rows of the scaled pixels give the same bits as uint8 rows.
        let stream = try client.stream(id: StreamID("custom/float-digit"))
        for (row, pixels) in rows(of: digits, 7).enumerated() {
            try stream.send(values: pixels.map { Float($0) * model.metadata.inputScale }, last: row == 27)
        }
        guard case .final(let prediction) = stream.result() else { Issue.record("no FINAL"); return }
        #expect(sameBits(prediction.probabilities, expected[7][27]))
        #expect(throws: ClientError.self) { try stream.send(pixels: rows(of: digits, 0)[0]) }

        // A row of the wrong size never leaves the client.
        let short = try client.stream()
        #expect(throws: ClientError.self) { try short.send(pixels: [UInt8](repeating: 0, count: 27)) }

        // END: the events stop without a FINAL, and the daemon frees the stream.
        let ended = try client.stream()
        try ended.send(pixels: rows(of: digits, 1)[0])
        guard case .partial = ended.next() else { Issue.record("no PARTIAL for row 0"); return }
        try ended.end()
        #expect(ended.next() == nil)
        let deadline = Date().addingTimeInterval(5)
        while try daemon.status().liveStreams > 0 && Date() < deadline { usleep(20_000) }
        #expect(try daemon.status().liveStreams == 0)
    }

    @Test func aStreamContinuesAcrossADaemonRestartAndAStoppedDaemonFailsIt() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try servedModel(in: directory, seed: 6)
        let state = directory.appendingPathComponent("state").path
        let arguments = ["--model", path, "--state-dir", state, "--snapshot-interval", "0"]
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        let digits = try fixtureDigits()
        let expected = offlineProbabilities(model, digits: digits)
        let client = try DaemonClient(daemon.endpoints, options: ClientOptions(timeout: 4, recoveryDelay: 0.5))
        defer { client.close() }

        let digit = rows(of: digits, 11)
        let stream = try client.stream()
        for row in 0..<10 {
            try stream.send(pixels: digit[row])
            guard case .partial(let prediction) = stream.next() else { Issue.record("no PARTIAL for row \(row)"); return }
            #expect(sameBits(prediction.probabilities, expected[11][row]))
        }
        // SIGTERM saves the stream; a new daemon on the same endpoints restores it.
        #expect(daemon.stop() == 0)
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        // Row by row: the SUB reconnects in the background, and a PARTIAL published before it did
        // is recovered by the client's resend of the row (a FINAL could not be: it is not repeated).
        var last: StreamEvent?
        for row in 10..<28 {
            try stream.send(pixels: digit[row], last: row == 27)
            last = stream.next()
            guard let prediction = last?.prediction, prediction.row == UInt32(row) else { break }
            #expect(sameBits(prediction.probabilities, expected[11][row]), "row \(row)")
        }
        guard case .final = last else { Issue.record("ended with \(String(describing: last))"); return }

        // A daemon gone for good: the waiting stream fails (shutting_down or timeout), it does not hang.
        let orphan = try client.stream()
        try orphan.send(pixels: digit[0])
        _ = orphan.next()
        daemon.stop(signal: SIGKILL)
        try orphan.send(pixels: digit[1])
        let started = Date()
        guard case .failed(let failure) = orphan.next() else { Issue.record("no failure"); return }
        #expect(Date().timeIntervalSince(started) < 10)
        if case .timeout = failure {} else { Issue.record("expected a timeout, got \(failure)") }
    }
}
