import Foundation
import LSTMCore
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

/// The Float cell kernels (SIMD4, rational tanh) against the exact Double ones, element by element,
/// with H = 7 (a SIMD block and a 3-element tail) and pre-activations over ±40 (saturated gates too).
@Test func floatCellKernelsAgreeWithDoubleKernels() {
    let h = 7, trials = 200
    var generator = Xoshiro256(seed: 5)
    var worstForward = 0.0, worstBackward = 0.0
    for _ in 0..<trials {
        let preactivations = (0..<(4 * h)).map { _ in Double(Float(generator.uniform(-40, 40))) }
        let bias = (0..<(4 * h)).map { _ in Double(Float(generator.uniform(-1, 1))) }
        let cellBefore = (0..<h).map { _ in Double(Float(generator.uniform(-3, 3))) }
        let hiddenGradient = (0..<h).map { _ in Double(Float(generator.uniform(-1, 1))) }
        let cellGradient = (0..<h).map { _ in Double(Float(generator.uniform(-1, 1))) }
        let exact = CellBuffers<Double>(gates: preactivations, cellGradient: cellGradient)
        let fast = CellBuffers<Float>(gates: preactivations.map(Float.init), cellGradient: cellGradient.map(Float.init))
        exact.run(bias: bias, cellBefore: cellBefore, hiddenGradient: hiddenGradient, count: h)
        fast.run(bias: bias.map(Float.init), cellBefore: cellBefore.map(Float.init),
                 hiddenGradient: hiddenGradient.map(Float.init), count: h)
        for (a, b) in zip(exact.forwardOutputs, fast.forwardOutputs) { worstForward = max(worstForward, abs(a - Double(b))) }
        for (a, b) in zip(exact.backwardOutputs, fast.backwardOutputs) { worstBackward = max(worstBackward, abs(a - Double(b))) }
    }
    // tanh within 3.5e-7; |c| ≤ 4 and a few roundings of Float on top.
    #expect(worstForward < 2e-6, "forward absolute error \(worstForward)")
    #expect(worstBackward < 2e-6, "backward absolute error \(worstBackward)")
    #expect(worstForward > 0, "the Float kernel should not be the Double one")
}

/// One sequence's buffers for `cellForward` followed by `cellBackward`.
private final class CellBuffers<Scalar: TrainingScalar> {
    var gates: [Scalar], cell: [Scalar], tanhCell: [Scalar], hidden: [Scalar], cellGradient: [Scalar], gateGradients: [Scalar]

    init(gates: [Scalar], cellGradient: [Scalar]) {
        self.gates = gates
        self.cellGradient = cellGradient
        cell = [Scalar](repeating: 0, count: cellGradient.count)
        tanhCell = cell
        hidden = cell
        gateGradients = [Scalar](repeating: 0, count: gates.count)
    }

    func run(bias: [Scalar], cellBefore: [Scalar], hiddenGradient: [Scalar], count h: Int) {
        Scalar.cellForward(gates: &gates, bias: bias, cellBefore: cellBefore, cell: &cell, tanhCell: &tanhCell,
                           hidden: &hidden, count: h)
        Scalar.cellBackward(gates: gates, cellBefore: cellBefore, tanhCell: tanhCell, hiddenGradient: hiddenGradient,
                            cellGradient: &cellGradient, gateGradients: &gateGradients, count: h)
    }

    var forwardOutputs: [Double] { (gates + cell + tanhCell + hidden).map { Double($0) } }
    var backwardOutputs: [Double] { (gateGradients + cellGradient).map { Double($0) } }
}
