import Foundation
@testable import LSTMCore
import Testing

@Suite("LSTMStepper against PyTorch")
struct StepperTests {
    @Test("single-stream steps reproduce PyTorch's probabilities, h and c after every row",
          arguments: FixtureModel.allCases)
    func singleStepMatchesPyTorch(fixture: FixtureModel) throws {
        let model = try fixture.load()
        let reference = try fixture.reference()
        #expect(model.shape.layers == (fixture == .oneLayer ? 1 : 2))
        let stepper = model.makeStepper(maxBatch: 1)
        var state = [Float](repeating: .nan, count: model.shape.stateCount)
        var probabilities = [Float](repeating: 0, count: model.shape.classes)
        var worstProbability: Float = 0, worstState: Float = 0
        for sample in 0..<reference.samples {
            stepper.resetState(&state)
            #expect(state.allSatisfy { $0 == 0 })
            for t in 0..<reference.steps {
                let input = Array(reference.input(sample: sample, step: t))
                stepper.step(input: input, state: &state, probabilities: &probabilities)
                worstProbability = max(worstProbability, maxAbsDifference(probabilities, reference.probabilities(sample: sample, step: t)))
                worstState = max(worstState, maxAbsDifference(state, reference.state(sample: sample, step: t)))
            }
        }
        #expect(worstProbability <= 1e-5)
        #expect(worstState <= 1e-5)
    }

    @Test("a batch gives the same bits as the same rows regrouped into other batches and as B single steps, for streams at different rows and B from 1 to 37",
          arguments: FixtureModel.allCases)
    func batchEqualsSingleSteps(fixture: FixtureModel) throws {
        let model = try fixture.load()
        let reference = try fixture.reference()
        let shape = model.shape
        let streamCount = 37
        let batched = model.makeStepper(maxBatch: streamCount)
        let single = model.makeStepper(maxBatch: 1)

        // Each stream plays reference samples one after another, starting at a different sample.
        var sample = (0..<streamCount).map { $0 % reference.samples }
        var row = [Int](repeating: 0, count: streamCount)
        let zeroState = [Float](repeating: 0, count: shape.stateCount)
        var states = [[Float]](repeating: zeroState, count: streamCount)
        var regroupedStates = states, singleStates = states

        var rng = SplitMix64(state: 42)
        var batchSizes = Set<Int>()
        var mismatches = 0, worstVsPyTorch: Float = 0
        for tick in 0..<120 {
            // Some ticks step every stream, others a random subset (sometimes a single one).
            let probability = tick % 10 == 0 ? 1.0 : (tick % 10 == 1 ? 0.02 : 0.6)
            var members = (0..<streamCount).filter { _ in Double.random(in: 0..<1, using: &rng) < probability }
            if members.isEmpty { members = [tick % streamCount] }
            batchSizes.insert(members.count)
            let rows = members.map { Array(reference.input(sample: sample[$0], step: row[$0])) }

            let probabilities = step(batched, rows: rows, states: &states, members: members)
            // The same rows in groups of 1, 2 or 3, in reverse order.
            var regrouped = [[Float]](repeating: [], count: members.count)
            var start = 0
            let order = Array(members.indices.reversed())
            while start < order.count {
                let group = Array(order[start..<min(order.count, start + 1 + start % 3)])
                var groupStates = group.map { regroupedStates[members[$0]] }
                let out = step(batched, rows: group.map { rows[$0] }, states: &groupStates, members: Array(groupStates.indices))
                for (i, b) in group.enumerated() {
                    regroupedStates[members[b]] = groupStates[i]
                    regrouped[b] = out[i]
                }
                start += group.count
            }

            var one = [Float](repeating: 0, count: shape.classes)
            for (b, s) in members.enumerated() {
                single.step(input: rows[b], state: &singleStates[s], probabilities: &one)
                if !sameBits(probabilities[b], regrouped[b]) || !sameBits(states[s], regroupedStates[s])
                    || !sameBits(probabilities[b], one) || !sameBits(states[s], singleStates[s]) {
                    mismatches += 1
                }
                worstVsPyTorch = max(worstVsPyTorch,
                                     maxAbsDifference(probabilities[b], reference.probabilities(sample: sample[s], step: row[s])),
                                     maxAbsDifference(states[s], reference.state(sample: sample[s], step: row[s])))
                row[s] += 1
                if row[s] == reference.steps {
                    row[s] = 0
                    sample[s] = (sample[s] + 1) % reference.samples
                    batched.resetState(&states[s])
                    batched.resetState(&regroupedStates[s])
                    single.resetState(&singleStates[s])
                }
            }
        }
        #expect(batchSizes.contains(1) && batchSizes.contains(streamCount) && batchSizes.count > 5)
        #expect(mismatches == 0)
        #expect(worstVsPyTorch <= 1e-5)
    }

    /// Steps `members` (indices into `states`) with one `stepBatch`, returning each one's probabilities.
    private func step(_ stepper: LSTMStepper, rows: [[Float]], states: inout [[Float]], members: [Int]) -> [[Float]] {
        let classes = stepper.model.shape.classes, stateCount = stepper.model.shape.stateCount
        var arena = members.flatMap { states[$0] }
        var probabilities = [Float](repeating: .nan, count: members.count * classes)
        arena.withUnsafeMutableBufferPointer { buffer in
            let pointers = members.indices.map { buffer.baseAddress! + $0 * stateCount }
            stepper.stepBatch(count: members.count, inputs: rows.flatMap { $0 }, states: pointers, probabilities: &probabilities)
        }
        for (i, s) in members.enumerated() { states[s] = Array(arena[(i * stateCount)..<((i + 1) * stateCount)]) }
        return members.indices.map { Array(probabilities[($0 * classes)..<(($0 + 1) * classes)]) }
    }

    @Test("a larger random model: a batch gives the bits of single steps and probabilities sum to 1")
    func largerModelBatchConsistency() throws {
        let model = try randomModel(LSTMShape(inputSize: 28, hiddenSize: 128, layers: 2, classes: 10), seed: 9)
        let shape = model.shape
        let count = 16
        let batched = model.makeStepper(maxBatch: count)
        let single = model.makeStepper(maxBatch: 1)
        var rng = SplitMix64(state: 3)
        var states = [[Float]](repeating: [Float](repeating: 0, count: shape.stateCount), count: count)
        var singleStates = states
        var mismatches = 0
        for _ in 0..<6 {
            let rows = (0..<count).map { _ in (0..<shape.inputSize).map { _ in Float.random(in: 0...1, using: &rng) } }
            let probabilities = step(batched, rows: rows, states: &states, members: Array(0..<count))
            var one = [Float](repeating: 0, count: shape.classes)
            for b in 0..<count {
                single.step(input: rows[b], state: &singleStates[b], probabilities: &one)
                if !sameBits(one, probabilities[b]) || !sameBits(states[b], singleStates[b]) { mismatches += 1 }
                #expect(abs(one.reduce(0, +) - 1) < 1e-5)
            }
        }
        #expect(mismatches == 0)
    }

    @Test("fastTanh stays within 4e-7 of tanh, is odd, saturates near ±1 and keeps tiny values relative")
    func fastTanhAccuracy() {
        var worst: Double = 0
        var x: Float = -12
        while x <= 12 {
            // Sixteen neighbouring arguments per call: every lane must be right, not just lane 0.
            var arguments = GateVector()
            for lane in 0..<GateVector.scalarCount { arguments[lane] = x + Float(lane) * 0.000_3 }
            let values = fastTanh(arguments)
            let negated = fastTanh(-arguments)
            for lane in 0..<GateVector.scalarCount {
                worst = max(worst, abs(Double(values[lane]) - Foundation.tanh(Double(arguments[lane]))))
                #expect(negated[lane] == -values[lane])
            }
            x += 0.002_9
        }
        #expect(worst < 4e-7)
        var extremes = GateVector()
        (extremes[0], extremes[1], extremes[2], extremes[3]) = (-1e30, 1e30, 9, 0)
        let limits: [Float] = [-1, 1, 1, 0]
        for lane in 0..<4 {
            let value = fastTanh(extremes)[lane]
            #expect(abs(value - limits[lane]) < 3e-7 && abs(value) <= 1)
        }
        let tiny: Float = 1e-20
        #expect(abs(fastTanh(GateVector(repeating: tiny))[5] / tiny - 1) < 1e-6)
    }

    @Test("fastExp stays within 4 ulp of exp over [-87, 88] and clamps beyond")
    func fastExpAccuracy() {
        var worst: Double = 0
        var x: Float = -87
        while x <= 88 {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - exact) / exact)
            x += 0.001_7
        }
        #expect(worst < 4 * Double(Float.ulpOfOne))
        #expect(fastExp(0) == 1)
        #expect(fastExp(-1000) > 0 && fastExp(-1000) < 1e-37)
        #expect(fastExp(1000).isFinite && fastExp(1000) > 1e38)
    }
}
