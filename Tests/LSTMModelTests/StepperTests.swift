import Foundation
@testable import LSTMModel
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

    @Test("a batch equals B single steps, for streams at different rows and B from 1 to 37",
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
        let states = UnsafeMutablePointer<Float>.allocate(capacity: streamCount * shape.stateCount)
        defer { states.deallocate() }
        states.initialize(repeating: 0, count: streamCount * shape.stateCount)
        var singleStates = [[Float]](repeating: [Float](repeating: 0, count: shape.stateCount), count: streamCount)

        var rng = SplitMix64(state: 42)
        var batchSizes = Set<Int>()
        var worstBatchVsSingle: Float = 0, worstVsPyTorch: Float = 0
        var inputs: [Float] = [], pointers: [UnsafeMutablePointer<Float>] = [], members: [Int] = []
        for tick in 0..<120 {
            // Some ticks step every stream, others a random subset (sometimes a single one).
            let probability = tick % 10 == 0 ? 1.0 : (tick % 10 == 1 ? 0.02 : 0.6)
            members = (0..<streamCount).filter { _ in Double.random(in: 0..<1, using: &rng) < probability }
            if members.isEmpty { members = [tick % streamCount] }
            batchSizes.insert(members.count)
            inputs = members.flatMap { reference.input(sample: sample[$0], step: row[$0]) }
            pointers = members.map { states + $0 * shape.stateCount }
            var probabilities = [Float](repeating: .nan, count: members.count * shape.classes)
            batched.stepBatch(count: members.count, inputs: inputs, states: pointers, probabilities: &probabilities)

            var singleProbabilities = [Float](repeating: 0, count: shape.classes)
            for (b, s) in members.enumerated() {
                single.step(input: Array(reference.input(sample: sample[s], step: row[s])), state: &singleStates[s],
                            probabilities: &singleProbabilities)
                let batchRow = probabilities[(b * shape.classes)..<((b + 1) * shape.classes)]
                worstBatchVsSingle = max(worstBatchVsSingle, maxAbsDifference(batchRow, singleProbabilities))
                let state = UnsafeBufferPointer(start: states + s * shape.stateCount, count: shape.stateCount)
                worstBatchVsSingle = max(worstBatchVsSingle, maxAbsDifference(state, singleStates[s]))
                worstVsPyTorch = max(worstVsPyTorch, maxAbsDifference(batchRow, reference.probabilities(sample: sample[s], step: row[s])))
                worstVsPyTorch = max(worstVsPyTorch, maxAbsDifference(state, reference.state(sample: sample[s], step: row[s])))
                row[s] += 1
                if row[s] == reference.steps {
                    row[s] = 0
                    sample[s] = (sample[s] + 1) % reference.samples
                    batched.resetState(states + s * shape.stateCount)
                    single.resetState(&singleStates[s])
                }
            }
        }
        #expect(batchSizes.contains(1) && batchSizes.contains(streamCount) && batchSizes.count > 5)
        #expect(worstBatchVsSingle <= 1e-6)
        #expect(worstVsPyTorch <= 1e-5)
    }

    @Test("a larger random model: batch equals single steps and probabilities sum to 1")
    func largerModelBatchConsistency() throws {
        let model = try randomModel(LSTMShape(inputSize: 28, hiddenSize: 128, layers: 2, classes: 10), seed: 9)
        let shape = model.shape
        let count = 16
        let batched = model.makeStepper(maxBatch: count)
        let single = model.makeStepper(maxBatch: 1)
        var rng = SplitMix64(state: 3)
        var states = [Float](repeating: 0, count: count * shape.stateCount)
        var singleStates = states
        var worst: Float = 0
        for _ in 0..<6 {
            let inputs = (0..<(count * shape.inputSize)).map { _ in Float.random(in: 0...1, using: &rng) }
            var probabilities = [Float](repeating: 0, count: count * shape.classes)
            states.withUnsafeMutableBufferPointer { buffer in
                let pointers = (0..<count).map { buffer.baseAddress! + $0 * shape.stateCount }
                batched.stepBatch(count: count, inputs: inputs, states: pointers, probabilities: &probabilities)
            }
            var one = [Float](repeating: 0, count: shape.classes)
            for b in 0..<count {
                singleStates.withUnsafeMutableBufferPointer { buffer in
                    single.step(input: Array(inputs[(b * shape.inputSize)..<((b + 1) * shape.inputSize)]),
                                state: buffer.baseAddress! + b * shape.stateCount, probabilities: &one)
                }
                worst = max(worst, maxAbsDifference(one, probabilities[(b * shape.classes)..<((b + 1) * shape.classes)]))
                #expect(abs(one.reduce(0, +) - 1) < 1e-5)
            }
            worst = max(worst, maxAbsDifference(states, singleStates))
        }
        #expect(worst <= 1e-6)
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
