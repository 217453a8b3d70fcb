import DaemonTestSupport
import Foundation
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// The counters' invariants (Protocols/control-protocol.md §4.2) after a mixed workload against a
/// real lstmd: finished, malformed, duplicate and repeated rows, a gap, an END, a drop, evictions,
/// and a restart that restores streams.
@Suite struct CounterTests {
    /// Checks every invariant on a status reply; `ends` is the number of accepted END messages.
    func expectInvariants(_ status: StatusReply, ends: UInt64, _ moment: String) {
        let c = status.counters
        #expect(c[.streamsStarted] + c[.streamsRestored]
                == c[.streamsFinished] + c[.streamsEvicted] + c[.streamsDropped] + UInt64(status.liveStreams), "\(moment): \(c)")
        // Every ingest message read was applied, a duplicate (or repeat), refused with an ERROR, or an accepted END.
        let endedByDaemon = ["dropped", "evicted", "shutting_down"].reduce(0) { $0 + (c.errors[$1] ?? 0) }
        let answers = c.errors.values.reduce(0, +) - endedByDaemon
        #expect(c[.rowsReceived] == c[.rowsApplied] + c[.duplicates] + answers + ends, "\(moment): \(c)")
    }

    @Test func countersAgreeAfterAMixedWorkloadAndARestart() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let arguments = ["--model", path, "--idle-timeout", "3", "--state-dir", directory.appendingPathComponent("state").path]
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        var client = try TestClient(daemon)
        let digits = try fixtureDigits(6)
        var partialOrFinal: UInt64 = 0, errorsSeen: [String: UInt64] = [:]
        func tally(_ messages: [Received]) {
            for message in messages {
                if let code = message.errorCode { errorsSeen[code, default: 0] += 1 } else { partialOrFinal += 1 }
            }
        }
        /// Everything published until nothing comes for half a second.
        func drain() throws { tally(try client.collect(quietMilliseconds: 500) { _ in false }) }

        for image in 0..<6 {
            for r in 0..<(image < 2 ? 28 : 10) { try client.send(try row(r, of: "c\(image)", pixels: digits.image(at: image))) }
        }
        try drain()
        #expect(partialOrFinal == 2 * 28 + 4 * 10)
        // Malformed messages: a reserved id, a short header, an unknown version, a short row.
        let header: [UInt8] = [1, 0, 0, 0, 10, 0, 0, 0]
        try client.send(frames: [Array("$x".utf8), header, [UInt8](repeating: 0, count: 28)])
        try client.send(frames: [Array("c2".utf8), [1, 0, 0]])
        try client.send(frames: [Array("c2".utf8), [9, 0, 0, 0, 10, 0, 0, 0], [UInt8](repeating: 0, count: 28)])
        try client.send(frames: [Array("c2".utf8), header, [UInt8](repeating: 0, count: 27)])
        // A duplicate (silent) and a resend of the last applied row (its prediction repeated).
        try client.send(try row(5, of: "c2", pixels: digits.image(at: 2)))
        try client.send(try row(9, of: "c2", pixels: digits.image(at: 2)))
        // A gap, an END and an operator's drop.
        try client.send(try row(15, of: "c3", pixels: digits.image(at: 3)))
        try client.send(.end(of: try StreamID("c4"), sequence: nil, at: 10))
        try drain()
        guard case .drop = try daemon.request(.drop(stream: try StreamID("c5"))) else {
            Issue.record("drop reply expected")
            return
        }
        try drain()
        var status = try daemon.status()
        expectInvariants(status, ends: 1, "after malformed messages, a gap, an END and a drop")
        #expect(status.liveStreams == 1)
        #expect(status.counters[.duplicates] == 2)
        #expect(status.counters[.streamsDropped] == 3)
        for code in ["bad_stream_id", "bad_header_size", "bad_version", "bad_row_size", "gap", "dropped"] {
            #expect(errorsSeen[code] == 1, "\(code)")
        }
        // c2 is left idle and evicted.
        Thread.sleep(forTimeInterval: 4.5)
        try drain()
        status = try daemon.status()
        #expect(status.counters[.streamsEvicted] == 1 && status.liveStreams == 0)
        expectInvariants(status, ends: 1, "after an eviction")
        #expect(status.counters[.predictionsPublished] == partialOrFinal, "PARTIAL and FINAL only")
        #expect(status.counters.errors["evicted"] == errorsSeen["evicted"])

        // Two streams survive a restart; one finishes there, the other is ended.
        for id in ["r1", "r2"] { for r in 0..<6 { try client.send(try row(r, of: id, pixels: digits.image(at: 0))) } }
        #expect(try client.collect { $0.count == 12 }.count == 12)
        #expect(daemon.stop() == 0)
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        client = try TestClient(daemon)
        status = try daemon.status()
        #expect(status.counters[.streamsRestored] == 2 && status.liveStreams == 2)
        expectInvariants(status, ends: 0, "after the restore")
        for r in 6..<28 { try client.send(try row(r, of: "r1", pixels: digits.image(at: 0))) }
        try client.send(.end(of: try StreamID("r2"), sequence: nil, at: 6))
        var final: Received
        repeat { final = try client.next(on: "r1") } while final.header.kind == .partial
        status = try daemon.status()
        #expect(status.counters[.streamsFinished] == 1 && status.counters[.streamsDropped] == 1 && status.liveStreams == 0)
        expectInvariants(status, ends: 1, "after the restored streams ended")
        #expect(daemon.stop() == 0)
    }
}
