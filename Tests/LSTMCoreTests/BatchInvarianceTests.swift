@testable import LSTMCore
import Testing

/// Each stream's probabilities and state bytes must not depend on the batch it is stepped in: not on
/// B, its place in the batch, nor on `step` against `stepBatch`, on any machine (no BLAS involved).
@Suite("Row steps are batch-invariant")
struct BatchInvarianceTests {
    /// The default model's shape; H not a multiple of 16 with C < 16; three layers with C > 16
    /// (two classifier tiles); whole tiles everywhere.
    static let shapes = [
        LSTMShape(inputSize: 28, hiddenSize: 128, layers: 1, classes: 10),
        LSTMShape(inputSize: 7, hiddenSize: 37, layers: 2, classes: 3),
        LSTMShape(inputSize: 28, hiddenSize: 20, layers: 3, classes: 17),
        LSTMShape(inputSize: 3, hiddenSize: 16, layers: 2, classes: 16),
    ]

    /// Batch sizes tried besides random ones: the edges of the 4-row blocks and of a full batch.
    static let edgeSizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 299, 300]

    @Test("300 streams give the same bits stepped alone with `step` and in batches of 1 to 300 in random order",
          arguments: shapes.indices)
    func batchCompositionNeverChangesBits(shapeIndex: Int) throws {
        let shape = Self.shapes[shapeIndex]
        let model = try randomModel(shape, seed: 100 + UInt64(shapeIndex))
        let streamCount = 300
        let alone = model.makeStepper(maxBatch: 1)
        let batched = model.makeStepper(maxBatch: streamCount)
        var rng = SplitMix64(state: 7 + UInt64(shapeIndex))

        var aloneStates = [[Float]](repeating: [Float](repeating: 0, count: shape.stateCount), count: streamCount)
        let batchedStates = UnsafeMutableBufferPointer<Float>.allocate(capacity: streamCount * shape.stateCount)
        defer { batchedStates.deallocate() }
        batchedStates.initialize(repeating: 0)
        var sizesUsed = Set<Int>()
        var edgeCursor = 0
        var mismatchedProbabilities = 0, mismatchedStates = 0, rowsCompared = 0

        for tick in 0..<8 {
            // Inputs beyond [0, 1] too, so that gates saturate in some lanes.
            let rows = (0..<streamCount).map { _ in (0..<shape.inputSize).map { _ in Float.random(in: -3...3, using: &rng) } }
            var aloneProbabilities = [[Float]](repeating: [], count: streamCount)
            for s in 0..<streamCount {
                var p = [Float](repeating: .nan, count: shape.classes)
                alone.step(input: rows[s], state: &aloneStates[s], probabilities: &p)
                aloneProbabilities[s] = p
            }

            // The streams in a random order, cut into batches: all 300 at once, 300 single
            // `stepBatch` calls, or a mix of edge and random sizes.
            var order = Array(0..<streamCount)
            order.shuffle(using: &rng)
            var start = 0
            while start < streamCount {
                let size: Int
                switch tick {
                case 0: size = streamCount
                case 1: size = 1
                default:
                    if Bool.random(using: &rng) {
                        size = Self.edgeSizes[edgeCursor % Self.edgeSizes.count]
                        edgeCursor += 1
                    } else {
                        size = Int.random(in: 1...streamCount, using: &rng)
                    }
                }
                let members = Array(order[start..<min(streamCount, start + size)])
                sizesUsed.insert(members.count)
                let inputs = members.flatMap { rows[$0] }
                let pointers = members.map { batchedStates.baseAddress! + $0 * shape.stateCount }
                var probabilities = [Float](repeating: .nan, count: members.count * shape.classes)
                batched.stepBatch(count: members.count, inputs: inputs, states: pointers, probabilities: &probabilities)
                for (b, s) in members.enumerated() {
                    let mine = probabilities[(b * shape.classes)..<((b + 1) * shape.classes)]
                    if !sameBits(mine, aloneProbabilities[s]) { mismatchedProbabilities += 1 }
                    rowsCompared += 1
                }
                start += members.count
            }
            for s in 0..<streamCount {
                let state = batchedStates[(s * shape.stateCount)..<((s + 1) * shape.stateCount)]
                if !sameBits(state, aloneStates[s]) { mismatchedStates += 1 }
            }
        }
        #expect(rowsCompared == 8 * streamCount)
        #expect(sizesUsed.contains(1) && sizesUsed.contains(streamCount) && sizesUsed.count >= 15,
                "batch sizes used: \(sizesUsed.sorted())")
        #expect(mismatchedProbabilities == 0, "\(mismatchedProbabilities) of \(rowsCompared) rows differ from the stream stepped alone")
        #expect(mismatchedStates == 0, "\(mismatchedStates) stream states differ from the stream stepped alone")
        // The streams really moved: a state still all zero would compare equal trivially.
        #expect(aloneStates.allSatisfy { $0.contains { $0 != 0 } })
    }

    @Test("the last tile's padding lanes never reach the state next to it", arguments: [1, 4, 5])
    func partialTilesWriteOnlyTheirUnits(batch: Int) throws {
        // H = 37: the third tile holds 5 units; a sentinel after each state must survive.
        let shape = LSTMShape(inputSize: 5, hiddenSize: 37, layers: 2, classes: 3)
        let model = try randomModel(shape, seed: 4)
        let stepper = model.makeStepper(maxBatch: batch)
        let stride = shape.stateCount + 1
        var states = [Float](repeating: 0, count: batch * stride)
        for b in 0..<batch { states[b * stride + shape.stateCount] = 1234.5 }
        var probabilities = [Float](repeating: .nan, count: batch * shape.classes + 1)
        probabilities[batch * shape.classes] = -1
        let inputs = (0..<(batch * shape.inputSize)).map { Float($0 % 7) / 7 }
        states.withUnsafeMutableBufferPointer { buffer in
            let pointers = (0..<batch).map { buffer.baseAddress! + $0 * stride }
            for _ in 0..<3 {
                stepper.stepBatch(count: batch, inputs: inputs, states: pointers, probabilities: &probabilities)
            }
        }
        for b in 0..<batch {
            #expect(states[b * stride + shape.stateCount] == 1234.5)
            let p = probabilities[(b * shape.classes)..<((b + 1) * shape.classes)]
            #expect(abs(p.reduce(0, +) - 1) < 1e-5)
        }
        #expect(probabilities[batch * shape.classes] == -1)
    }
}

/// Bitwise equality (so −0 ≠ +0 and NaN payloads count).
func sameBits<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}
