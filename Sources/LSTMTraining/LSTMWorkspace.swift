import LSTMCore
import Foundation

/// Forward and backward passes of the MNIST row classifier
///     x_t [B×I] → LSTM layer 0 … layer L−1 (PyTorch nn.LSTM, gates i f g o) → h_{T−1} of the top
///     layer [B×H] → fc [B×C] → softmax cross-entropy,
/// for a minibatch of B ≤ `maxBatch` sequences, with every activation of every step kept for
/// backpropagation through time. All buffers are made once here; a pass allocates nothing.
///
/// Layouts (row-major, time-major, with the batch's actual B as stride):
///   input      [T, B, I]
///   gates_k    [T, B, 4H]   pre-activations, then (in place) activated i, f, g, o
///   h_k, c_k   [T+1, B, H]  slot 0 is the zero initial state; slot t+1 holds step t
///   tanhC_k    [T, B, H]    tanh(c_t), kept for the backward pass
/// so that h_k slots 1…T are layer k+1's input [T·B × H] and slots 0…T−1 are the h_{t−1} that
/// multiply W_hh, each as one contiguous matrix for a single GEMM over all steps.
///
/// Not thread-safe: one workspace per thread (the trainer gives each shard its own).
public final class LSTMWorkspace<Scalar: TrainingScalar>: @unchecked Sendable {
    public let layout: ParameterLayout
    public let sequenceLength: Int
    public let maxBatch: Int

    /// Input rows for the next `forward`: [T, B, I] for the batch size B passed to it.
    public let input: UnsafeMutableBufferPointer<Scalar>
    /// Class probabilities after `forward`: [B, C].
    public let probabilities: UnsafeMutableBufferPointer<Scalar>

    private let gates: [UnsafeMutablePointer<Scalar>]     // per layer [T, B, 4H]
    private let hidden: [UnsafeMutablePointer<Scalar>]    // per layer [T+1, B, H]
    private let cell: [UnsafeMutablePointer<Scalar>]      // per layer [T+1, B, H]
    private let tanhCell: [UnsafeMutablePointer<Scalar>]  // per layer [T, B, H]
    private let gateGradients: UnsafeMutablePointer<Scalar>   // [T, B, 4H]
    private let hiddenGradients: UnsafeMutablePointer<Scalar> // [T, B, H] dL/dh of the current layer's outputs
    private let belowGradients: UnsafeMutablePointer<Scalar>  // [T, B, H] dL/dx of the current layer = dL/dh of the layer below
    private let cellGradient: UnsafeMutablePointer<Scalar>    // [B, H] dL/dc_t flowing back to step t−1
    private let logitGradients: UnsafeMutablePointer<Scalar>  // [B, C]
    private let ones: UnsafeMutablePointer<Scalar>            // [T·B] for bias gradients (column sums)
    private let biasSum: UnsafeMutablePointer<Scalar>         // [4H] b_ih + b_hh of the current layer
    private var allocations: [UnsafeMutableBufferPointer<Scalar>] = []

    public init(layout: ParameterLayout, sequenceLength: Int, maxBatch: Int) {
        self.layout = layout
        self.sequenceLength = sequenceLength
        self.maxBatch = maxBatch
        let s = layout.shape, t = sequenceLength, b = maxBatch, h = s.hiddenSize
        var allocations: [UnsafeMutableBufferPointer<Scalar>] = []
        func make(_ count: Int) -> UnsafeMutableBufferPointer<Scalar> {
            let buffer = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: max(count, 1))
            buffer.initialize(repeating: 0)
            allocations.append(buffer)
            return buffer
        }
        input = make(t * b * s.inputSize)
        probabilities = make(b * s.classes)
        gates = (0..<s.layers).map { _ in make(t * b * 4 * h).baseAddress! }
        hidden = (0..<s.layers).map { _ in make((t + 1) * b * h).baseAddress! }
        cell = (0..<s.layers).map { _ in make((t + 1) * b * h).baseAddress! }
        tanhCell = (0..<s.layers).map { _ in make(t * b * h).baseAddress! }
        gateGradients = make(t * b * 4 * h).baseAddress!
        hiddenGradients = make(t * b * h).baseAddress!
        belowGradients = make(t * b * h).baseAddress!
        cellGradient = make(b * h).baseAddress!
        logitGradients = make(b * s.classes).baseAddress!
        ones = make(t * b).baseAddress!
        biasSum = make(4 * h).baseAddress!
        ones.update(repeating: 1, count: t * b)
        self.allocations = allocations
    }

    deinit { for buffer in allocations { buffer.deallocate() } }

    /// Runs the network on the first `batch` sequences of `input`; fills `probabilities`.
    /// - Parameter parameters: the flat parameter vector laid out as `layout`.
    public func forward(parameters p: UnsafePointer<Scalar>, batch: Int) {
        precondition(batch > 0 && batch <= maxBatch)
        let s = layout.shape, T = sequenceLength, B = batch, H = s.hiddenSize, G = 4 * H
        for k in 0..<s.layers {
            let inputWidth = k == 0 ? s.inputSize : H
            let x = k == 0 ? UnsafePointer(input.baseAddress!) : UnsafePointer(hidden[k - 1] + B * H) // [T·B, I_k]
            let a = gates[k], h = hidden[k], c = cell[k], tc = tanhCell[k]
            // a[T·B × 4H] = x[T·B × I_k] · W_ihᵀ[I_k × 4H]: the input side of all T steps in one
            // GEMM, since it does not depend on the recurrence. The biases are added with the activations.
            let bih = p + layout.biasIH(k), bhh = p + layout.biasHH(k), bias = biasSum
            for j in 0..<G { bias[j] = bih[j] + bhh[j] }
            Scalar.gemm(transposeA: false, transposeB: true, m: T * B, n: G, k: inputWidth,
                        alpha: 1, a: x, lda: inputWidth, b: p + layout.weightIH(k), ldb: inputWidth,
                        beta: 0, c: a, ldc: G)
            h.update(repeating: 0, count: B * H)  // h_{−1} = 0
            c.update(repeating: 0, count: B * H)  // c_{−1} = 0
            for t in 0..<T {
                let at = a + t * B * G
                // at[B × 4H] += h_{t−1}[B × H] · W_hhᵀ[H × 4H]   (h_{−1} = 0: nothing to add at t = 0)
                if t > 0 {
                    Scalar.gemm(transposeA: false, transposeB: true, m: B, n: G, k: H,
                                alpha: 1, a: h + t * B * H, lda: H, b: p + layout.weightHH(k), ldb: H,
                                beta: 1, c: at, ldc: G)
                }
                // i = σ(a_i + b_i), f = σ(a_f + b_f), g = tanh(a_g + b_g), o = σ(a_o + b_o)
                // c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
                let cPrev = c + t * B * H, cNext = c + (t + 1) * B * H
                let hNext = h + (t + 1) * B * H, tanhC = tc + t * B * H
                for b in 0..<B {
                    let r = b &* H
                    Scalar.cellForward(gates: at + b &* G, bias: bias, cellBefore: cPrev + r, cell: cNext + r,
                                       tanhCell: tanhC + r, hidden: hNext + r, count: H)
                }
            }
        }
        // logits[B × C] = h_{T−1}[B × H] · fc.weightᵀ[H × C] + fc.bias, then softmax per row.
        let C = s.classes
        let top = hidden[s.layers - 1] + T * B * H
        let logits = probabilities.baseAddress!
        for b in 0..<B { (logits + b * C).update(from: p + layout.fcBias, count: C) }
        Scalar.gemm(transposeA: false, transposeB: true, m: B, n: C, k: H,
                    alpha: 1, a: top, lda: H, b: p + layout.fcWeight, ldb: H, beta: 1, c: logits, ldc: C)
        for b in 0..<B {
            let row = logits + b * C
            var largest = row[0]
            for j in 1..<C { largest = max(largest, row[j]) }
            var sum: Scalar = 0
            for j in 0..<C { row[j] = Scalar.exp(row[j] - largest); sum += row[j] }
            for j in 0..<C { row[j] /= sum }
        }
    }

    /// The predicted class (argmax of `probabilities`, first on ties) of sequence `b` after `forward`.
    public func prediction(_ b: Int) -> Int {
        let C = layout.shape.classes
        let row = probabilities.baseAddress! + b * C
        var best = 0
        for j in 1..<C where row[j] > row[best] { best = j }
        return best
    }

    /// Cross-entropy summed over the batch, −Σ_b log p_b[y_b], after `forward`.
    public func lossSum(labels: UnsafePointer<Int32>, batch: Int) -> Double {
        let C = layout.shape.classes
        var total = 0.0
        for b in 0..<batch {
            // Clamped so that a saturated wrong class gives a large finite loss, not infinity.
            let p = max(Double(probabilities[b * C + Int(labels[b])]), 1e-30)
            total -= Foundation.log(p)
        }
        return total
    }

    /// Backpropagation through time after `forward` on the same batch: writes
    /// `lossScale · dΣ_b loss_b / dθ` into `gradients` (same layout as the parameters; every element
    /// is overwritten). The trainer passes lossScale = 1/B_total for the mean over a minibatch.
    public func backward(parameters p: UnsafePointer<Scalar>, labels: UnsafePointer<Int32>, batch: Int,
                         lossScale: Scalar, gradients dp: UnsafeMutablePointer<Scalar>) {
        let s = layout.shape, T = sequenceLength, B = batch, H = s.hiddenSize, G = 4 * H, C = s.classes
        // dlogits[B × C] = lossScale · (p − onehot(y))
        let dz = logitGradients
        for b in 0..<B {
            for j in 0..<C { dz[b * C + j] = lossScale * probabilities[b * C + j] }
            dz[b * C + Int(labels[b])] -= lossScale
        }
        let top = hidden[s.layers - 1] + T * B * H
        // d fc.weight[C × H] = dlogitsᵀ[C × B] · h_{T−1}[B × H];   d fc.bias[C] = Σ_b dlogits
        Scalar.gemm(transposeA: true, transposeB: false, m: C, n: H, k: B,
                    alpha: 1, a: dz, lda: C, b: top, ldb: H, beta: 0, c: dp + layout.fcWeight, ldc: H)
        Scalar.gemvTransposed(m: B, n: C, a: dz, x: ones, y: dp + layout.fcBias)
        // dL/dh of the top layer: zero except the last step, dh_{T−1}[B × H] = dlogits[B × C] · fc.weight[C × H]
        var dhOut = hiddenGradients, dxBelow = belowGradients
        dhOut.update(repeating: 0, count: (T - 1) * B * H)
        Scalar.gemm(transposeA: false, transposeB: false, m: B, n: H, k: C,
                    alpha: 1, a: dz, lda: C, b: p + layout.fcWeight, ldb: H, beta: 0, c: dhOut + (T - 1) * B * H, ldc: H)

        for k in stride(from: s.layers - 1, through: 0, by: -1) {
            let inputWidth = k == 0 ? s.inputSize : H
            let x = k == 0 ? UnsafePointer(input.baseAddress!) : UnsafePointer(hidden[k - 1] + B * H) // [T·B, I_k]
            let a = gates[k], c = cell[k], tc = tanhCell[k], da = gateGradients, dc = cellGradient
            dc.update(repeating: 0, count: B * H)  // nothing flows back from beyond the last step
            for t in stride(from: T - 1, through: 0, by: -1) {
                let at = a + t * B * G, dat = da + t * B * G
                let cPrev = c + t * B * H, tanhC = tc + t * B * H, dh = dhOut + t * B * H
                // dh_t holds dL/dh_t (from above and, added below, from step t+1):
                // dc  = dc_{t+1}·f_{t+1} (in dc) + dh ⊙ o ⊙ (1 − tanh²c_t)
                // da_i = dc ⊙ g ⊙ i(1−i),  da_f = dc ⊙ c_{t−1} ⊙ f(1−f),
                // da_g = dc ⊙ i ⊙ (1−g²),  da_o = dh ⊙ tanh c_t ⊙ o(1−o);  dc ← dc ⊙ f for step t−1
                for b in 0..<B {
                    let r = b &* H
                    Scalar.cellBackward(gates: at + b &* G, cellBefore: cPrev + r, tanhCell: tanhC + r,
                                        hiddenGradient: dh + r, cellGradient: dc + r, gateGradients: dat + b &* G, count: H)
                }
                // dh_{t−1}[B × H] += da_t[B × 4H] · W_hh[4H × H]
                if t > 0 {
                    Scalar.gemm(transposeA: false, transposeB: false, m: B, n: H, k: G,
                                alpha: 1, a: dat, lda: G, b: p + layout.weightHH(k), ldb: H,
                                beta: 1, c: dhOut + (t - 1) * B * H, ldc: H)
                }
            }
            // Weight gradients summed over all steps, one GEMM each:
            // dW_ih[4H × I_k] = daᵀ[4H × T·B] · x[T·B × I_k]
            // dW_hh[4H × H]   = daᵀ[4H × T·B] · h_{t−1}[T·B × H]   (slots 0…T−1; slot 0 is zero)
            // db_ih = db_hh   = Σ_rows da
            Scalar.gemm(transposeA: true, transposeB: false, m: G, n: inputWidth, k: T * B,
                        alpha: 1, a: da, lda: G, b: x, ldb: inputWidth, beta: 0, c: dp + layout.weightIH(k), ldc: inputWidth)
            Scalar.gemm(transposeA: true, transposeB: false, m: G, n: H, k: T * B,
                        alpha: 1, a: da, lda: G, b: hidden[k], ldb: H, beta: 0, c: dp + layout.weightHH(k), ldc: H)
            Scalar.gemvTransposed(m: T * B, n: G, a: da, x: ones, y: dp + layout.biasIH(k))
            (dp + layout.biasHH(k)).update(from: dp + layout.biasIH(k), count: G)
            // dL/dx[T·B × H] = da[T·B × 4H] · W_ih[4H × H]: the gradient reaching layer k−1's outputs.
            if k > 0 {
                Scalar.gemm(transposeA: false, transposeB: false, m: T * B, n: H, k: G,
                            alpha: 1, a: da, lda: G, b: p + layout.weightIH(k), ldb: H, beta: 0, c: dxBelow, ldc: H)
                swap(&dhOut, &dxBelow)
            }
        }
    }
}
