import Foundation
import LSTMModel
import Testing
@testable import LSTMTraining

/// A tiny two-layer model in Double with random parameters, inputs and labels.
private struct TinyProblem {
    static let shape = LSTMShape(inputSize: 5, hiddenSize: 4, layers: 2, classes: 3)
    static let steps = 6
    static let batch = 3

    let layout = ParameterLayout(shape: shape)
    let workspace: LSTMWorkspace<Double>
    var parameters: [Double]
    let inputs: [Double]
    let labels: [Int32]

    init(seed: UInt64) {
        var generator = Xoshiro256(seed: seed)
        workspace = LSTMWorkspace(layout: layout, sequenceLength: Self.steps, maxBatch: Self.batch)
        // Wider than PyTorch's ±1/√H so that gates are away from 0.5 and gradients are not tiny.
        parameters = (0..<layout.count).map { _ in Double(generator.uniform(-0.8, 0.8)) }
        inputs = (0..<(Self.steps * Self.batch * Self.shape.inputSize)).map { _ in Double(generator.uniform(-1, 1)) }
        labels = (0..<Self.batch).map { _ in Int32(generator.index(below: Self.shape.classes)) }
    }

    /// Mean cross-entropy over the batch.
    func loss(_ parameters: [Double]) -> Double {
        _ = workspace.input.update(fromContentsOf: inputs)
        parameters.withUnsafeBufferPointer { workspace.forward(parameters: $0.baseAddress!, batch: Self.batch) }
        return labels.withUnsafeBufferPointer { workspace.lossSum(labels: $0.baseAddress!, batch: Self.batch) } / Double(Self.batch)
    }

    func analyticGradients() -> [Double] {
        _ = loss(parameters)
        var gradients = [Double](repeating: .nan, count: layout.count)
        parameters.withUnsafeBufferPointer { p in
            labels.withUnsafeBufferPointer { y in
                gradients.withUnsafeMutableBufferPointer { g in
                    workspace.backward(parameters: p.baseAddress!, labels: y.baseAddress!, batch: Self.batch,
                                       lossScale: 1 / Double(Self.batch), gradients: g.baseAddress!)
                }
            }
        }
        return gradients
    }
}

/// Backpropagation through time against central finite differences, for every element of every
/// parameter tensor, all in Double. With ε = 1e-6 the finite difference is accurate to ~1e-9
/// (truncation ε² plus rounding 1e-16/ε), so a relative error |a − n| / max(|a|, |n|, 1e-6)
/// above 1e-5 means a wrong gradient, not noise.
@Test func gradientsMatchFiniteDifferencesForEveryTensor() {
    let problem = TinyProblem(seed: 7)
    let analytic = problem.analyticGradients()
    let epsilon = 1e-6
    for tensor in problem.layout.tensors {
        var worst = 0.0, largest = 0.0
        for j in tensor.offset..<(tensor.offset + tensor.count) {
            var plus = problem.parameters, minus = problem.parameters
            plus[j] += epsilon
            minus[j] -= epsilon
            let numeric = (problem.loss(plus) - problem.loss(minus)) / (2 * epsilon)
            let error = abs(analytic[j] - numeric) / max(abs(analytic[j]), abs(numeric), 1e-6)
            worst = max(worst, error)
            largest = max(largest, abs(numeric))
        }
        #expect(worst < 1e-5, "\(tensor.name): worst relative error \(worst)")
        // A tensor whose gradient is all ~0 would pass vacuously.
        #expect(largest > 1e-4, "\(tensor.name): gradient too small to check (\(largest))")
    }
}

@Test func floatForwardAgreesWithDoubleForward() {
    let problem = TinyProblem(seed: 11)
    _ = problem.loss(problem.parameters)
    let single = LSTMWorkspace<Float>(layout: problem.layout, sequenceLength: TinyProblem.steps, maxBatch: TinyProblem.batch)
    _ = single.input.update(fromContentsOf: problem.inputs.map { Float($0) })
    problem.parameters.map { Float($0) }.withUnsafeBufferPointer {
        single.forward(parameters: $0.baseAddress!, batch: TinyProblem.batch)
    }
    for j in 0..<(TinyProblem.batch * TinyProblem.shape.classes) {
        #expect(abs(Double(single.probabilities[j]) - problem.workspace.probabilities[j]) < 1e-5)
    }
}

/// The Float activations are polynomial approximations (vectorisable); compare with libm.
@Test func fastFloatActivationsAreAccurate() {
    var worstExp = 0.0, worstSigmoid = 0.0, worstTanh = 0.0
    for step in -4000...4000 {
        let x = Double(step) / 100  // −40 … 40
        worstExp = max(worstExp, abs(Double(Float.exp(Float(x / 2))) / Foundation.exp(Double(Float(x / 2))) - 1))
        worstSigmoid = max(worstSigmoid, abs(Double(Float.sigmoid(Float(x))) - 1 / (1 + Foundation.exp(-Double(Float(x))))))
        worstTanh = max(worstTanh, abs(Double(Float.tanh(Float(x))) - Foundation.tanh(Double(Float(x)))))
    }
    #expect(worstExp < 5e-7, "exp relative error \(worstExp)")
    #expect(worstSigmoid < 2e-7, "sigmoid absolute error \(worstSigmoid)")
    #expect(worstTanh < 5e-7, "tanh absolute error \(worstTanh)")
}
