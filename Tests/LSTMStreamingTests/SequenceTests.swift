import Foundation
import LSTMCore
@testable import LSTMStreaming
import TestSupport
import Testing

/// Sequence numbers (stream protocol §6.1): a row of another sequence never touches a stream's
/// state, before or after a restore; snapshots keep each stream's sequence and a checksum.
@Suite struct SequenceTests {
    /// Every prediction with its sequence number and whether it ended the stream.
    func stepAll(_ engine: StreamEngine) -> [(stream: String, row: Int, sequence: UInt32?, isFinal: Bool, ends: Bool, p: [Float])] {
        var out: [(String, Int, UInt32?, Bool, Bool, [Float])] = []
        while engine.hasQueuedRows {
            engine.step(now: 0) { out.append(($0.stream.string, $0.row, $0.sequence, $0.isFinal, $0.endsStream, Array($0.probabilities))) }
        }
        return out
    }

    @Test func aRowOfAnotherSequenceIsAGapAndNeverTouchesTheState() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let engine = StreamEngine(model: model)
        let rows = randomRows(28, width: 6, seed: 21)
        for i in 0..<4 { try engine.submit("s", i, rows[i], sequence: 1) }
        _ = stepAll(engine)
        #expect(throws: StreamError.otherSequence(received: 2, live: 1, row: 4)) { try engine.submit("s", 4, rows[4], sequence: 2) }
        #expect(StreamError.otherSequence(received: 2, live: 1, row: 4).code == .gap)
        #expect(engine.liveStreamCount == 0, "the stream is dropped")
        // Version 1 rows (no sequence number) on a numbered stream, and the reverse, are other sequences too.
        try engine.submit("t", 0, rows[0], sequence: 5)
        #expect(throws: StreamError.self) { try engine.submit("t", 1, rows[1], sequence: nil) }
        try engine.submit("u", 0, rows[0], sequence: nil)
        #expect(throws: StreamError.self) { try engine.submit("u", 1, rows[1], sequence: 5) }
        #expect(stepAll(engine).isEmpty, "nothing of t or u was applied")
    }

    /// Issue 13 #1, one stream: A's rows 0–19, a snapshot, A finishes, B starts on the same id,
    /// a crash after B's row 9, a restore: B's rows 10–27 must never continue A's state.
    @Test func afterARestoreALaterSequenceOnTheSameIdGetsAGapNotAWrongFinal() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let a = randomRows(28, width: 6, seed: 31), b = randomRows(28, width: 6, seed: 32)
        let engine = StreamEngine(model: model)
        for i in 0..<20 { try engine.submit("digit", i, a[i], sequence: 100) }
        _ = stepAll(engine)
        let snapshot = try StreamSnapshot(bytes: try engine.snapshot().serialized())
        #expect(snapshot.streams.map(\.sequence) == [100])
        for i in 20..<28 { try engine.submit("digit", i, a[i], sequence: 100) }
        for i in 0..<10 { try engine.submit("digit", i, b[i], sequence: 101) }
        let before = stepAll(engine)
        let finalA = try #require(before.first { $0.isFinal })
        #expect(finalA.sequence == 100 && finalA.p == referenceRun(model, a).last!)
        #expect(!finalA.ends, "B's row 0 is queued behind A's FINAL: the stream lives on")
        #expect(before.filter { $0.sequence == 101 }.count == 10)

        let restarted = StreamEngine(model: model)
        try restarted.restore(snapshot, now: 0)
        #expect(throws: StreamError.otherSequence(received: 101, live: 100, row: 10)) {
            try restarted.submit("digit", 10, b[10], sequence: 101)
        }
        for i in 11..<28 { #expect(throws: StreamError.self) { try restarted.submit("digit", i, b[i], sequence: 101) } }
        #expect(stepAll(restarted).isEmpty, "no prediction from A's state for B's rows")
        // The client restarts B at row 0: the exact answer.
        for i in 0..<28 { try restarted.submit("digit", i, b[i], sequence: 101) }
        let finals = stepAll(restarted).filter(\.isFinal)
        #expect(finals.count == 1 && finals[0].p == referenceRun(model, b).last! && finals[0].ends)
    }

    @Test func theSameSequenceContinuesExactlyAfterARestore() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let a = randomRows(28, width: 6, seed: 33)
        let engine = StreamEngine(model: model)
        for i in 0..<12 { try engine.submit("s", i, a[i], sequence: 9) }
        _ = stepAll(engine)
        let restarted = StreamEngine(model: model)
        try restarted.restore(try StreamSnapshot(bytes: try engine.snapshot().serialized()), now: 0)
        #expect(try restarted.submit("s", 11, a[11], sequence: 9) == .repeated)
        for i in 12..<28 { try restarted.submit("s", i, a[i], sequence: 9) }
        let out = stepAll(restarted)
        #expect(out.allSatisfy { $0.sequence == 9 })
        #expect(out.last!.isFinal && out.last!.p == referenceRun(model, a).last!)
        #expect(restarted.liveStreams(now: 0).isEmpty)
    }

    /// Issue 13 #1: a FINAL is a stream's last message. A restored stream that no row reached
    /// since the restore (its sequence may have ended before the crash) expires silently; one its
    /// client continued, with a new row or a resend, is evicted with an ERROR as usual.
    @Test func aRestoredStreamNobodyContinuesExpiresSilently() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let rows = randomRows(28, width: 6, seed: 35)
        let engine = StreamEngine(model: model)
        for id in ["continued", "ended", "resent"] { for i in 0..<5 { try engine.submit(id, i, rows[i], sequence: 5) } }
        _ = stepAll(engine)
        let snapshot = try StreamSnapshot(bytes: try engine.snapshot().serialized())
        let clock = ManualClock()
        let restarted = StreamEngine(model: model, configuration: EngineConfiguration(idleTimeoutSeconds: 2),
                                     clock: clock.engineClock)
        try restarted.restore(snapshot)
        clock.nanoseconds.store(1_000_000_000, ordering: .relaxed)
        try restarted.submitRow(stream: "continued", index: 5, sequence: 5, values: rows[5])
        #expect(try restarted.submitRow(stream: "resent", index: 4, sequence: 5, values: rows[4]) == .repeated)
        restarted.drain { _ in }
        var evicted: [(stream: String, error: StreamError)] = []
        clock.nanoseconds.store(2_500_000_000, ordering: .relaxed)
        restarted.evictIdle { evicted.append(($0.string, $1)) }
        #expect(restarted.liveStreams().map(\.id.string) == ["continued", "resent"] && evicted.isEmpty,
                "the untouched stream, past the timeout, went silently")
        clock.nanoseconds.store(3_500_000_000, ordering: .relaxed)
        restarted.evictIdle { evicted.append(($0.string, $1)) }
        #expect(evicted.map(\.stream).sorted() == ["continued", "resent"])
        #expect(evicted.first { $0.stream == "continued" }?.error == .evicted(idleSeconds: 2.5, nextRow: 6, sequence: 5))
        #expect(restarted.liveStreamCount == 0)
        let c = restarted.counters
        #expect(c[.streamsRestored] == 3 && c[.streamsEvicted] == 3 && c[.streamsFinished] + c[.streamsDropped] == 0)
        #expect(c[.streamsStarted] + c[.streamsRestored]
                == c[.streamsFinished] + c[.streamsEvicted] + c[.streamsDropped] + UInt64(restarted.liveStreamCount))
        // The client of the expired stream, if it was still there, learns that it is not live.
        #expect(throws: StreamError.notStarted(row: 5)) {
            try restarted.submitRow(stream: "ended", index: 5, sequence: 5, values: rows[5])
        }
    }

    @Test func unnumberedStreamsAreNeverSaved() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let rows = randomRows(3, width: 6, seed: 34)
        let engine = StreamEngine(model: model)
        for i in 0..<3 { try engine.submit("v1", i, rows[i], sequence: nil) }
        for i in 0..<3 { try engine.submit("v2", i, rows[i], sequence: 3) }
        _ = stepAll(engine)
        #expect(try engine.snapshot().streams.map(\.id) == ["v2"])
        #expect(engine.liveStreams(now: 0).map(\.sequence) == [nil, 3])
    }

    @Test func aFlippedBitAnywhereInTheSavedStreamsIsRefused() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let rows = randomRows(5, width: 6, seed: 35)
        let engine = StreamEngine(model: model)
        for id in ["a", "b"] { for i in 0..<5 { try engine.submit(id, i, rows[i], sequence: 4) } }
        _ = stepAll(engine)
        let bytes = try engine.snapshot().serialized()
        _ = try StreamSnapshot(bytes: bytes)
        // The tensor data is the end of the file: flip one bit in each of 80 of its bytes.
        let dataBytes = 2 * (model.shape.stateCount + model.shape.classes) * 4
        var refused = 0
        for k in 0..<80 {
            var flipped = bytes
            let offset = bytes.count - 1 - (k * 37) % dataBytes
            flipped[offset] ^= UInt8(1) << UInt8(k % 8)
            do { _ = try StreamSnapshot(bytes: flipped) } catch {
                if case .malformed = error { refused += 1 }
            }
        }
        #expect(refused == 80)
    }

    @Test func aVersion1SnapshotIsRefused() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let engine = StreamEngine(model: model)
        try engine.submit("a", 0, randomRows(1, width: 6, seed: 36)[0], sequence: 1)
        _ = stepAll(engine)
        let file = try SafetensorsFile(bytes: try engine.snapshot().serialized())
        var metadata = file.metadata
        metadata["format_version"] = "1"
        metadata["sequences"] = nil
        let old = SafetensorsFile(tensors: file.tensors, metadata: metadata).serialized()
        #expect(throws: SnapshotError.self) { try StreamSnapshot(bytes: old) }
    }

    @Test func theWriterReplacesASymlinkWithoutFollowingItAndKeepsTheFilePrivate() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("snap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let victim = directory.appendingPathComponent("victim")
        try Data("precious".utf8).write(to: victim)
        let target = directory.appendingPathComponent("streams.safetensors")
        try FileManager.default.createSymbolicLink(at: target, withDestinationURL: victim)
        let model = try makeRandomModel(sequenceLength: 28)
        let engine = StreamEngine(model: model)
        try engine.submit("a", 0, randomRows(1, width: 6, seed: 37)[0], sequence: 1)
        _ = stepAll(engine)
        try engine.snapshot().write(to: target)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
        let attributes = try FileManager.default.attributesOfItem(atPath: target.path)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try StreamSnapshot(contentsOf: target).streams.map(\.id) == ["a"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}

extension SequenceTests {
    /// Found by the crash test: a resend of row r of sequence B, while B's row 0 waits behind
    /// sequence A's applied row r, used to repeat A's prediction as B's.
    @Test func aResendNeverRepeatsThePreviousSequencesPrediction() throws {
        let model = try makeRandomModel(sequenceLength: 28)
        let a = randomRows(28, width: 6, seed: 41), b = randomRows(28, width: 6, seed: 42)
        for (first, second) in [(UInt32(1), UInt32(2)), (nil, nil)] as [(UInt32?, UInt32?)] {
            let engine = StreamEngine(model: model)
            for i in 0..<3 { try engine.submit("s", i, a[i], sequence: first) }
            _ = stepAll(engine)
            for i in 0..<3 { try engine.submit("s", i, b[i], sequence: second) }
            var repeated = 0
            let outcome = try b[2].withUnsafeBufferPointer { (buffer) throws(StreamError) in
                try engine.submitRow(stream: "s", index: 2, sequence: second, row: .floats(buffer), isLast: false, now: 0) { _ in repeated += 1 }
            }
            #expect(outcome == .duplicate && repeated == 0, "A's row 2 is not B's")
            let out = stepAll(engine)
            #expect(out.map(\.p) == Array(referenceRun(model, b).prefix(3)))
        }
    }
}
