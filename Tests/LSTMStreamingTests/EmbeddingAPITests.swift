import LSTMCore
import LSTMStreaming
import Synchronization
import TestSupport
import Testing
import WireProtocol

/// A clock a test moves by hand.
final class ManualClock: Sendable {
    let nanoseconds = Atomic<UInt64>(0)
    var engineClock: EngineClock { EngineClock { [self] in nanoseconds.load(ordering: .relaxed) } }
}

/// The API an embedding program uses: exact snapshots, the safe row forms, the engine's own clock.
@Suite struct EmbeddingAPITests {
    /// Streams, each the same random sequence of 7 rows (row i of stream s is `rows[(s + i) % 7]`).
    static let streams = 10
    static func row(_ stream: Int, _ index: Int, _ rows: [[Float]]) -> [Float] { rows[(stream + index) % rows.count] }

    /// Submits rows `range` of every stream, interleaved, numbered with sequence 40 + stream.
    static func feed(_ engine: StreamEngine, _ range: Range<Int>, _ rows: [[Float]]) throws {
        for index in range {
            for s in 0..<streams {
                try engine.submitRow(stream: try StreamID("s\(s)"), index: index, sequence: UInt32(40 + s),
                                     values: row(s, index, rows))
            }
        }
    }

    static func finals(_ engine: StreamEngine) -> [String: [Float]] {
        var finals: [String: [Float]] = [:]
        engine.drain { p in if p.isFinal { finals[p.stream.string] = Array(p.probabilities) } }
        return finals
    }

    @Test("a snapshot taken while more streams wait than a step holds restores every stream to the same FINALs")
    func snapshotMidBatchFinishesEveryStreamExactly() throws {
        let model = try makeRandomModel(sequenceLength: 7)
        let rows = randomRows(7, width: 6, seed: 21)
        let uninterrupted = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 4))
        try Self.feed(uninterrupted, 0..<7, rows)
        let expected = Self.finals(uninterrupted)
        #expect(expected.count == Self.streams)

        let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 4))
        try Self.feed(engine, 0..<3, rows)
        #expect(engine.step { _ in } == 4)   // 4 of 10 streams stepped once, 26 rows still queued
        #expect(throws: SnapshotError.rowsQueued(rows: 26, streams: 10)) { try engine.snapshot() }
        var drained: [String: Int] = [:]
        #expect(engine.drain { drained[$0.stream.string, default: 0] += 1 } == 26)
        #expect(!engine.hasQueuedRows && drained.count == Self.streams)
        let saved = try StreamSnapshot(bytes: try engine.snapshot().serialized())
        #expect(saved.streams.count == Self.streams && saved.streams.allSatisfy { $0.nextRow == 3 })

        let restored = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 3))
        try restored.restore(saved)
        try Self.feed(restored, 3..<7, rows)
        #expect(Self.finals(restored) == expected)
        #expect(restored.liveStreamCount == 0)
    }

    @Test("uint8 pixels are scaled by the stream's model; float values are used as they are")
    func safeRowForms() throws {
        let model = try makeRandomModel(inputScale: 1.0 / 255)
        let pixels: [UInt8] = [0, 17, 255, 128, 3, 90]
        func firstPrediction(_ submit: (StreamEngine) throws(StreamError) -> Void) throws -> [Float] {
            let engine = StreamEngine(model: model)
            try submit(engine)
            var probabilities: [Float] = []
            engine.drain { probabilities = Array($0.probabilities) }
            return probabilities
        }
        let fromPixels = try firstPrediction { engine throws(StreamError) in
            try engine.submitRow(stream: "p", index: 0, pixels: pixels)
        }
        let fromValues = try firstPrediction { engine throws(StreamError) in
            try engine.submitRow(stream: "v", index: 0, values: pixels.map { Float($0) * (1.0 / 255) })
        }
        #expect(fromPixels == fromValues && fromPixels.count == 4)
        // The error keeps its type through the array forms: no cast needed to read its code.
        let engine = StreamEngine(model: model)
        do {
            try engine.submitRow(stream: "short", index: 0, pixels: [1, 2])
            Issue.record("a 2-value row was accepted for a model of 6 inputs")
        } catch {
            #expect(error.code == .badRowSize)
            #expect(error == .badRowSize(values: 6, dtype: .uint8, bytes: 2))
        }
        #expect(throws: StreamError.nonFiniteInput(column: 1, isNaN: true, scale: nil)) {
            try engine.submitRow(stream: "nan", index: 0, values: [0, .nan, 0, 0, 0, 0])
        }
    }

    @Test("calls without now: read the engine's clock")
    func injectedClockDrivesEviction() throws {
        let clock = ManualClock()
        let engine = StreamEngine(model: try makeRandomModel(),
                                  configuration: EngineConfiguration(idleTimeoutSeconds: 2), clock: clock.engineClock)
        try engine.submitRow(stream: "old", index: 0, values: [Float](repeating: 0, count: 6))
        engine.drain { _ in }
        clock.nanoseconds.store(1_500_000_000, ordering: .relaxed)
        try engine.submitRow(stream: "new", index: 0, values: [Float](repeating: 0, count: 6))
        engine.drain { _ in }
        clock.nanoseconds.store(2_500_000_000, ordering: .relaxed)
        #expect(engine.liveStreams().map(\.idleSeconds) == [1.0, 2.5])
        var evicted: [String] = []
        engine.evictIdle { stream, _ in evicted.append(stream.string) }
        #expect(evicted == ["old"])
        #expect(engine.liveStreams().map(\.id.string) == ["new"])
    }

    @Test("the monotonic clock never goes back")
    func monotonicClock() {
        let first = EngineClock.monotonic.nanoseconds()
        let second = EngineClock.monotonic.nanoseconds()
        #expect(second >= first && first > 0)
    }
}
