import LSTMCore
import LSTMStreaming
import TestSupport
import Testing
import WireProtocol

/// Ids written as literals in these tests are valid.
extension StreamID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { try! self.init(value) }
}

/// Everything an engine emitted, copied out of the callbacks.
struct Emitted: Equatable {
    var stream: String
    var row: Int
    var isFinal: Bool
    var probabilities: [Float]
}

extension StreamEngine {
    func stepAll(now: UInt64 = 0) -> (steps: [Int], emitted: [Emitted]) {
        var steps: [Int] = []
        var emitted: [Emitted] = []
        while hasQueuedRows {
            steps.append(step(now: now) { p in
                emitted.append(Emitted(stream: p.stream.string, row: p.row, isFinal: p.isFinal, probabilities: Array(p.probabilities)))
            })
        }
        return (steps, emitted)
    }

    @discardableResult
    func submit(_ stream: String, _ index: Int, _ values: [Float], sequence: UInt32? = 7, last: Bool = false,
                now: UInt64 = 0) throws(StreamError) -> SubmitOutcome {
        try values.withUnsafeBufferPointer { (buffer) throws(StreamError) in
            try submitRow(stream: try! StreamID(stream), index: index, sequence: sequence, row: .floats(buffer), isLast: last, now: now)
        }
    }
}

/// Probabilities after every row of `rows`, computed by one stream alone (a batch of one, which
/// the engine's batches of any size must equal bit for bit).
func referenceRun(_ model: LSTMModel, _ rows: [[Float]]) -> [[Float]] {
    let stepper = model.makeStepper(maxBatch: 1)
    let state = UnsafeMutablePointer<Float>.allocate(capacity: model.shape.stateCount)
    defer { state.deallocate() }
    stepper.resetState(state)
    var out: [[Float]] = []
    var probabilities = [Float](repeating: 0, count: model.shape.classes)
    var states = [state]
    for row in rows {
        row.withUnsafeBufferPointer { x in
            probabilities.withUnsafeMutableBufferPointer { p in
                stepper.stepBatch(count: 1, inputs: x.baseAddress!, states: &states, probabilities: p.baseAddress!)
            }
        }
        out.append(probabilities)
    }
    return out
}

func randomRows(_ count: Int, width: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(state: seed)
    return (0..<count).map { _ in (0..<width).map { _ in rng.nextUnit() } }
}

@Suite struct StreamEngineTests {
    @Test func interleavedStreamsEqualEachStreamAlone() throws {
        let model = try makeRandomModel()
        let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 8))
        let streams = (0..<20).map { "s\($0)" }
        let inputs = Dictionary(uniqueKeysWithValues: streams.enumerated().map {
            ($1, randomRows(7, width: 6, seed: UInt64($0 + 10)))
        })
        // Rows arrive interleaved and unevenly: stream k sends its rows in bursts of (k % 3) + 1.
        var emitted: [Emitted] = []
        var position = Dictionary(uniqueKeysWithValues: streams.map { ($0, 0) })
        while position.values.contains(where: { $0 < 7 }) {
            for (k, stream) in streams.enumerated() {
                for _ in 0..<(k % 3 + 1) where position[stream]! < 7 {
                    let index = position[stream]!
                    #expect(try engine.submit(stream, index, inputs[stream]![index]) == .queued)
                    position[stream]! += 1
                }
            }
            emitted += engine.stepAll().emitted
        }
        #expect(engine.liveStreamCount == 0)
        for stream in streams {
            let mine = emitted.filter { $0.stream == stream }
            #expect(mine.map(\.row) == Array(0..<7))
            #expect(mine.map(\.isFinal) == Array(repeating: false, count: 6) + [true])
            let reference = referenceRun(model, inputs[stream]!)
            for (got, want) in zip(mine, reference) {
                #expect(got.probabilities == want, "batched like alone, bit for bit")
            }
        }
        #expect(engine.counters[.streamsFinished] == 20)
        #expect(engine.counters[.rowsApplied] == 140)
    }

    @Test func neverTwoRowsOfOneStreamInOneStep() throws {
        let engine = StreamEngine(model: try makeRandomModel(), configuration: EngineConfiguration(maxBatch: 64))
        let rows = randomRows(7, width: 6, seed: 3)
        for (i, row) in rows.enumerated() { try engine.submit("solo", i, row) }
        try engine.submit("other", 0, rows[0])
        let (steps, emitted) = engine.stepAll()
        #expect(steps == [2, 1, 1, 1, 1, 1, 1])
        #expect(emitted.filter { $0.stream == "solo" }.map(\.row) == Array(0..<7))
    }

    @Test func duplicatesAreIgnoredAndCounted() throws {
        let model = try makeRandomModel()
        let engine = StreamEngine(model: model)
        let rows = randomRows(7, width: 6, seed: 4)
        try engine.submit("d", 0, rows[0])
        try engine.submit("d", 1, rows[1])
        // Already accepted (queued and applied): duplicates, even with different values.
        #expect(try engine.submit("d", 1, rows[5]) == .duplicate)
        _ = engine.stepAll()
        #expect(try engine.submit("d", 0, rows[6]) == .queued)   // row 0 restarts: not a duplicate
        _ = engine.stepAll()
        for i in 1..<7 {
            #expect(try engine.submit("d", i, rows[i]) == .queued)
            #expect(try engine.submit("d", i, rows[0]) == .duplicate)
        }
        let emitted = engine.stepAll().emitted
        #expect(engine.counters[.duplicates] == 7)
        // The state after the restart saw exactly rows[6], rows[1...6]: duplicates changed nothing.
        let reference = referenceRun(model, [rows[6]] + Array(rows[1...6]))
        #expect(maxAbsDifference(emitted.last!.probabilities, reference.last!) <= 1e-6)
        #expect(emitted.last!.isFinal)
    }

    @Test func aGapDropsTheStreamWithAnError() throws {
        let engine = StreamEngine(model: try makeRandomModel())
        let rows = randomRows(7, width: 6, seed: 5)
        try engine.submit("g", 0, rows[0])
        try engine.submit("other", 0, rows[0])
        #expect(throws: StreamError.gap(expected: 1, received: 3)) { try engine.submit("g", 3, rows[3]) }
        #expect(engine.liveStreamCount == 1)
        #expect(throws: StreamError.notStarted(row: 4)) { try engine.submit("g", 4, rows[4]) }
        let emitted = engine.stepAll().emitted
        #expect(emitted.map(\.stream) == ["other"], "the dropped stream's queued row is discarded")
        #expect(engine.counters[.streamsDropped] == 1, "the gap ended the stream")
        #expect(engine.counters[.streamsStarted] == 2)
    }

    @Test func capacityRefusesNewStreamsOnly() throws {
        let engine = StreamEngine(model: try makeRandomModel(), configuration: EngineConfiguration(maxStreams: 3))
        let rows = randomRows(7, width: 6, seed: 6)
        for s in ["a", "b", "c"] { try engine.submit(s, 0, rows[0]) }
        #expect(throws: StreamError.capacity(maxStreams: 3)) { try engine.submit("d", 0, rows[0]) }
        for s in ["a", "b", "c"] { try engine.submit(s, 1, rows[1]) }
        _ = engine.stepAll()
        #expect(engine.liveStreams(now: 0).map(\.nextRow) == [2, 2, 2])
        #expect(try engine.submit("a", 0, rows[0]) == .queued, "restarting a live stream needs no new capacity")
    }

    @Test func pagesListEveryStreamThatStaysLiveExactlyOnce() throws {
        let engine = StreamEngine(model: try makeRandomModel(), configuration: EngineConfiguration(maxStreams: 5_000))
        let row = randomRows(1, width: 6, seed: 8)[0]
        for s in 0..<2_500 { try engine.submit("s\(s)", 0, row) }
        _ = engine.stepAll()
        var listed: [String] = [], cursor = 0, pages = 0
        repeat {
            let (page, next) = engine.liveStreams(cursor: cursor, limit: 100, now: 0)
            #expect(page.count <= 100)
            listed += page.map(\.id.string)
            pages += 1
            // Meanwhile streams end and others start (in freed records too).
            if pages == 3 { for s in 0..<50 { engine.dropStream(try StreamID("s\(s * 7)")) } }
            if pages == 5 { for s in 0..<80 { try engine.submit("late\(s)", 0, row) } }
            cursor = next ?? 0
        } while cursor != 0 && pages < 1_000
        let dropped = Set((0..<50).map { "s\($0 * 7)" })
        let stayed = (0..<2_500).map { "s\($0)" }.filter { !dropped.contains($0) }
        #expect(Set(stayed).isSubset(of: Set(listed)), "every stream live for the whole scan is listed")
        #expect(listed.count == Set(listed).count, "nothing is listed twice")
        #expect(pages >= 25 && pages < 1_000)
        // One page of a big engine costs its limit: 10 records from the middle, 10 or fewer streams.
        let (middle, after) = engine.liveStreams(cursor: 1_000, limit: 10, now: 0)
        #expect(middle.count <= 10 && after == 1_010)
        #expect(engine.liveStreams(cursor: 1 << 40, limit: 10, now: 0).next == nil)
    }

    @Test func idleStreamsAreEvicted() throws {
        let engine = StreamEngine(model: try makeRandomModel(), configuration: EngineConfiguration(idleTimeoutSeconds: 2))
        let rows = randomRows(7, width: 6, seed: 7)
        try engine.submit("old", 0, rows[0], now: 0)
        try engine.submit("new", 0, rows[0], now: 1_500_000_000)
        _ = engine.stepAll()
        var evicted: [(String, StreamError)] = []
        engine.evictIdle(now: 2_500_000_000) { evicted.append(($0.string, $1)) }
        #expect(evicted.map(\.0) == ["old"])
        #expect(evicted.first?.1.code == .evicted)
        #expect(engine.liveStreams(now: 2_500_000_000).map(\.id) == ["new"])
        #expect(engine.counters[.streamsEvicted] == 1)
    }

    @Test func evictionSweepsInBoundedSlices() throws {
        let engine = StreamEngine(model: try makeRandomModel(),
                                  configuration: EngineConfiguration(maxStreams: 5_000, idleTimeoutSeconds: 2))
        let row = randomRows(1, width: 6, seed: 9)[0]
        for s in 0..<3_000 { try engine.submit("idle\(s)", 0, row, now: 0) }
        try engine.submit("busy", 0, row, now: 0)
        _ = engine.stepAll()
        for s in stride(from: 0, to: 3_000, by: 3) { engine.dropStream(try StreamID("idle\(s)")) }  // free records too
        try engine.submit("busy", 1, row, now: 2_900_000_000)
        _ = engine.stepAll(now: 2_900_000_000)
        var evicted: [String] = [], slices = 0
        while engine.liveStreamCount > 1 && slices < 100 {
            var slice = 0
            engine.evictIdle(now: 3_000_000_000, scanning: 256) { stream, _ in evicted.append(stream.string); slice += 1 }
            #expect(slice <= 256, "a slice looks at 256 records, so it evicts at most 256 streams")
            slices += 1
        }
        #expect(evicted.count == 2_000 && Set(evicted).count == 2_000, "each idle stream is evicted once")
        #expect(slices == 12, "3,001 records in slices of 256")
        #expect(engine.liveStreams(now: 0).map(\.id) == ["busy"])
    }

    @Test func lastFlagFinishesEarlyAndUnknownLengthNeedsIt() throws {
        let engine = StreamEngine(model: try makeRandomModel(sequenceLength: nil))
        let rows = randomRows(12, width: 6, seed: 8)
        for i in 0..<10 { try engine.submit("long", i, rows[i]) }
        try engine.submit("long", 10, rows[10], last: true)
        #expect(throws: StreamError.rowAfterLast(row: 11, lastRow: 10)) { try engine.submit("long", 11, rows[11]) }
        let emitted = engine.stepAll().emitted
        #expect(emitted.filter(\.isFinal).map(\.row) == [10])
        #expect(engine.liveStreamCount == 0)
    }

    @Test func rowsBeyondTheSequenceLengthAreRefused() throws {
        let engine = StreamEngine(model: try makeRandomModel(sequenceLength: 7))
        let rows = randomRows(8, width: 6, seed: 9)
        for i in 0..<7 { try engine.submit("s", i, rows[i]) }
        // Row 6 finished the stream (7 rows); row 7 is not part of any sequence.
        #expect(throws: StreamError.self) { try engine.submit("s", 7, rows[7]) }
        #expect(engine.stepAll().emitted.last?.isFinal == true)
    }

    @Test func badRowsAreRefusedWithoutTouchingTheStream() throws {
        let model = try makeRandomModel()
        let engine = StreamEngine(model: model)
        let rows = randomRows(7, width: 6, seed: 10)
        try engine.submit("s", 0, rows[0])
        #expect(throws: StreamError.badRowSize(values: 6, dtype: .float32, bytes: 20)) { try engine.submit("s", 1, Array(rows[1].prefix(5))) }
        var poisoned = rows[1]
        poisoned[2] = .nan
        #expect(throws: StreamError.nonFiniteInput(column: 2, isNaN: true, scale: nil)) { try engine.submit("s", 1, poisoned) }
        poisoned[2] = .infinity
        #expect(throws: StreamError.nonFiniteInput(column: 2, isNaN: false, scale: nil)) { try engine.submit("s", 1, poisoned) }
        for i in 1..<7 { try engine.submit("s", i, rows[i]) }
        let emitted = engine.stepAll().emitted
        #expect(maxAbsDifference(emitted.last!.probabilities, referenceRun(model, rows).last!) <= 1e-6)
    }

    @Test func endAndDropFreeTheStream() throws {
        let engine = StreamEngine(model: try makeRandomModel())
        let rows = randomRows(7, width: 6, seed: 11)
        try engine.submit("e", 0, rows[0])
        try engine.submit("d", 0, rows[0])
        try engine.endStream("e")
        #expect(throws: StreamError.unknownStream) { try engine.endStream("e") }
        #expect(engine.dropStream("d")?.nextRow == 1)
        #expect(engine.dropStream("d") == nil)
        #expect(engine.stepAll().emitted.isEmpty)
        #expect(engine.liveStreamCount == 0)
    }

    @Test func streamsFinishOnTheModelTheyStartedWith() throws {
        let oldModel = try makeRandomModel(seed: 1)
        let newModel = try makeRandomModel(seed: 2)
        let engine = StreamEngine(model: oldModel)
        let rows = randomRows(7, width: 6, seed: 12)
        for i in 0..<3 { try engine.submit("before", i, rows[i]) }
        _ = engine.stepAll()
        try engine.replaceModel(with: newModel)
        #expect(engine.generations.count == 2)
        for i in 3..<7 { try engine.submit("before", i, rows[i]) }
        for i in 0..<7 { try engine.submit("after", i, rows[i]) }
        let emitted = engine.stepAll().emitted
        let before = emitted.last { $0.stream == "before" }!
        let after = emitted.last { $0.stream == "after" }!
        #expect(maxAbsDifference(before.probabilities, referenceRun(oldModel, rows).last!) <= 1e-6)
        #expect(maxAbsDifference(after.probabilities, referenceRun(newModel, rows).last!) <= 1e-6)
        #expect(engine.generations.count == 1, "the old model is released with its last stream")
        #expect(engine.currentModel === newModel)
        let wrongInput = try makeRandomModel(inputSize: 9)
        #expect(throws: StreamError.self) { try engine.replaceModel(with: wrongInput) }
    }
}

@Suite struct RepeatTests {
    @Test func resendingTheLastAppliedRowRepeatsItsPrediction() throws {
        let model = try makeRandomModel()
        let engine = StreamEngine(model: model)
        let rows = randomRows(7, width: 6, seed: 13)
        for i in 0..<3 { try engine.submit("r", i, rows[i]) }
        let applied = engine.stepAll().emitted
        var repeated: [Emitted] = []
        let outcome = try rows[2].withUnsafeBufferPointer { (buffer) throws(StreamError) in
            try engine.submitRow(stream: "r", index: 2, sequence: 7, row: .floats(buffer), isLast: false, now: 0) { p in
                repeated.append(Emitted(stream: p.stream.string, row: p.row, isFinal: p.isFinal, probabilities: Array(p.probabilities)))
            }
        }
        #expect(outcome == .repeated)
        #expect(repeated == [applied.last!], "the same prediction, bit for bit")
        #expect(try engine.submit("r", 1, rows[1]) == .duplicate, "older rows stay silent")
        #expect(engine.counters[.duplicates] == 2)
        // The state did not move: the rest of the stream equals one clean pass.
        for i in 3..<7 { try engine.submit("r", i, rows[i]) }
        #expect(engine.stepAll().emitted.last!.probabilities == referenceRun(model, rows).last!)
    }

    @Test func aPredictionCarriesWhenItsRowWasSubmitted() throws {
        let engine = StreamEngine(model: try makeRandomModel())
        let rows = randomRows(3, width: 6, seed: 15)
        try engine.submit("a", 0, rows[0], now: 1_000)
        try engine.submit("b", 0, rows[0], now: 2_000)
        try engine.submit("a", 1, rows[1], now: 3_000)   // queued behind a's row 0: the next step
        var submitted: [String: [UInt64]] = [:]
        while engine.hasQueuedRows {
            engine.step(now: 9_000) { p in submitted[p.stream.string, default: []].append(p.submittedAt) }
        }
        #expect(submitted == ["a": [1_000, 3_000], "b": [2_000]])
        // A resend of the last applied row is answered at once: its prediction carries the resend's time.
        var repeated: [UInt64] = []
        try rows[1].withUnsafeBufferPointer { (buffer) throws(StreamError) in
            _ = try engine.submitRow(stream: "a", index: 1, sequence: 7, row: .floats(buffer), isLast: false, now: 12_000) { p in
                repeated.append(p.submittedAt)
            }
        }
        #expect(repeated == [12_000])
    }

    @Test func aSnapshotRestoresStreamsExactly() throws {
        let model = try makeRandomModel()
        let rows = randomRows(7, width: 6, seed: 14)
        let before = StreamEngine(model: model)
        for id in ["a", "b"] { for i in 0..<4 { try before.submit(id, i, rows[i]) } }
        _ = before.stepAll()
        let bytes = try before.snapshot().serialized()
        let snapshot = try StreamSnapshot(bytes: bytes)
        #expect(snapshot.streams.map(\.id) == ["a", "b"])
        #expect(snapshot.streams.map(\.nextRow) == [4, 4])
        let after = StreamEngine(model: model)
        try after.restore(snapshot, now: 0)
        for id in ["a", "b"] { for i in 4..<7 { try after.submit(id, i, rows[i]) } }
        let finals = after.stepAll().emitted.filter(\.isFinal)
        #expect(finals.count == 2)
        #expect(finals.allSatisfy { $0.probabilities == referenceRun(model, rows).last! })
        // Onto another model, without this one: left out, nothing restored.
        let other = StreamEngine(model: try makeRandomModel(seed: 9))
        #expect(try other.restore(snapshot, now: 0).sections.map(\.leftOut) == [.modelNotAvailable])
        #expect(other.liveStreamCount == 0)
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: SnapshotError.self) { try StreamSnapshot(bytes: Array(bytes.prefix(cut))) }
        }
    }
}

/// After a reload, each stream's rows are decoded with the input scale of the model it runs on.
@Suite struct ReloadTests {
    func pixels(_ count: Int, width: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in (0..<width).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
    }

    /// Submits uint8 rows `range` of `stream`, steps them all and returns their predictions.
    func feed(_ engine: StreamEngine, _ stream: StreamID, _ rows: [[UInt8]], _ range: Range<Int>) throws -> [Emitted] {
        for index in range {
            let error = rows[index].withUnsafeBytes { raw -> StreamError? in
                do throws(StreamError) {
                    _ = try engine.submitRow(stream: stream, index: index, row: .encoded(raw, .uint8), isLast: false, now: 0)
                    return nil
                } catch {
                    return error
                }
            }
            if let error { throw error }
        }
        return engine.stepAll().emitted
    }

    @Test func liveStreamsKeepTheirModelsInputScale() throws {
        let scaled = try makeRandomModel(sequenceLength: 7, inputScale: 1 / 255, seed: 21)
        let unscaled = try makeRandomModel(sequenceLength: 7, inputScale: 1, seed: 21)   // same weights
        #expect(scaled.sha256 != unscaled.sha256)
        let rows = pixels(7, width: 6, seed: 22)
        let alone = StreamEngine(model: scaled)
        let uninterrupted = try feed(alone, "x", rows, 0..<7).last!
        let engine = StreamEngine(model: scaled)
        _ = try feed(engine, "x", rows, 0..<4)
        #expect(try engine.replaceModel(with: unscaled))
        let final = try feed(engine, "x", rows, 4..<7).last!
        #expect(final.isFinal)
        #expect(final.probabilities == uninterrupted.probabilities, "the stream's rows are scaled by 1/255 to the end")
        // A stream started after the reload runs on the new model, with its scale.
        let fresh = try feed(engine, "y", rows, 0..<7).last!
        #expect(fresh.probabilities == (try feed(StreamEngine(model: unscaled), "y", rows, 0..<7)).last!.probabilities)
        #expect(engine.generations.count == 1, "the old generation went with its last stream")
    }

    @Test func aRestartAfterAReloadMovesToTheNewScale() throws {
        let scaled = try makeRandomModel(sequenceLength: 7, inputScale: 1 / 255, seed: 23)
        let unscaled = try makeRandomModel(sequenceLength: 7, inputScale: 1, seed: 23)
        let rows = pixels(7, width: 6, seed: 24)
        let engine = StreamEngine(model: scaled)
        _ = try feed(engine, "x", rows, 0..<3)
        try engine.replaceModel(with: unscaled)
        // Row 0 again with nothing queued: the stream's new sequence runs on the new model.
        let final = try feed(engine, "x", rows, 0..<7).last!
        #expect(final.probabilities == (try feed(StreamEngine(model: unscaled), "x", rows, 0..<7)).last!.probabilities)
    }

    @Test func replacingWithTheSameModelChangesNothing() throws {
        let model = try makeRandomModel(seed: 25)
        let same = try LSTMModel.load(bytes: model.safetensorsBytes())
        #expect(same.sha256 == model.sha256 && same !== model)
        let engine = StreamEngine(model: model, origin: ModelOrigin(path: "/first"))
        _ = try feed(engine, "x", pixels(2, width: 6, seed: 26), 0..<2)
        #expect(try engine.replaceModel(with: same, origin: ModelOrigin(path: "/second")) == false)
        #expect(engine.generations.count == 1)
        #expect(engine.currentModel === model)
        #expect(engine.generations.first?.origin.path == "/first")
        #expect(engine.generations.first?.liveStreams == 1)
    }
}

/// `started + restored = finished + evicted + dropped + live` after every way a stream can end.
@Suite struct CounterInvariantTests {
    @Test func everyStreamEndsExactlyOnce() throws {
        let model = try makeRandomModel(sequenceLength: 7)
        let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 4, maxStreams: 40, idleTimeoutSeconds: 1))
        var rng = SplitMix64(state: 27)
        let rows = randomRows(7, width: 6, seed: 28)
        var next: [String: Int] = [:]
        func holds() -> Bool {
            let c = engine.counters
            return c[.streamsStarted] + c[.streamsRestored]
                == c[.streamsFinished] + c[.streamsEvicted] + c[.streamsDropped] + UInt64(engine.liveStreamCount)
        }
        for round in 0..<400 {
            let stream = "s\(rng.next() % 50)"
            let now = UInt64(round) * 10_000_000
            switch rng.next() % 10 {
            case 0: _ = engine.dropStream(try! StreamID(stream)); next[stream] = nil
            case 1: try? engine.endStream(try! StreamID(stream)); next[stream] = nil
            case 2: _ = try? engine.submit(stream, Int(rng.next() % 7), rows[0], now: now)   // gaps, duplicates
            case 3: _ = try? engine.submit(stream, 0, rows[0], now: now); next[stream] = 1     // (re)starts
            default:
                let index = next[stream] ?? 0
                _ = try? engine.submit(stream, index, rows[index], now: now)
                next[stream] = index + 1 < 7 ? index + 1 : nil
            }
            if rng.next() % 3 == 0 { _ = engine.step(now: now) { _ in } }
            if round % 50 == 49 { engine.evictIdle(now: now) { _, _ in } }
            #expect(holds(), "round \(round): \(engine.counters)")
        }
        _ = engine.stepAll()
        #expect(holds())
        let c = engine.counters
        #expect(c[.streamsFinished] > 0 && c[.streamsDropped] > 0 && c[.streamsEvicted] > 0 && c[.streamsRestarted] > 0)
        // Restored streams count as restored and end like any other.
        let restored = StreamEngine(model: model)
        try restored.restore(try engine.snapshot(), now: 0)
        for stream in restored.liveStreams(now: 0) { restored.dropStream(stream.id) }
        #expect(restored.counters[.streamsRestored] == UInt64(try engine.snapshot().streams.count))
        #expect(restored.counters[.streamsDropped] == restored.counters[.streamsRestored])
    }
}
