import CBLAS

/// Advances LSTM streams by one input row each: packed weights plus scratch buffers for up to
/// `maxBatch` streams, made once so that steps allocate nothing. Not thread-safe: one per thread.
///
/// One step of layer k for B streams (PyTorch gate order i, f, g, o):
///
///     X  [B × (I_k+H)]  rows [x_b | h_b]          gathered from the inputs and the stream states
///     G  [B × 4H]       = X · W_k                 one SGEMM, W_k [(I_k+H) × 4H]
///     i, f, o = σ(G + b),  g = tanh(G + b),  c' = f·c + i·g,  h' = o·tanh(c')
///
/// then the classifier `p = softmax(h'_top · fc.weightᵀ + fc.bias)` for each stream. Inputs are
/// taken as the model sees them: scaling raw values by `metadata.inputScale` is the caller's job.
/// Call `BLASThreads.set(1)` first unless this thread should share BLAS work.
public final class LSTMStepper {
    public let model: LSTMModel
    public let maxBatch: Int

    private let shape: LSTMShape
    /// Per layer k: W_k [(I_k+H) × 4H] row-major = [weight_ih | weight_hh]ᵀ, its g columns doubled.
    private let weights: [UnsafeMutablePointer<Float>]
    /// Per layer k: bias_ih + bias_hh [4H], its g block doubled.
    private let biases: [UnsafeMutablePointer<Float>]
    /// fc.weight [C × H] and fc.bias [C].
    private let classifierWeight: UnsafeMutablePointer<Float>
    private let classifierBias: UnsafeMutablePointer<Float>
    /// X [maxBatch × (max(I, H) + H)]: GEMM input rows [x | h_prev] of the current layer.
    private let stacked: UnsafeMutablePointer<Float>
    /// G [maxBatch × 4H]: gate pre-activations, then activations.
    private let gates: UnsafeMutablePointer<Float>
    /// [maxBatch × H]: the top layer's new h, input of the classifier.
    private let topHidden: UnsafeMutablePointer<Float>
    /// The one state pointer of `step`.
    private let singleState: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    /// Packs the model's weights. `maxBatch` ≥ 1 bounds `stepBatch`'s count.
    public init(model: LSTMModel, maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch \(maxBatch)")
        self.model = model
        self.maxBatch = maxBatch
        let shape = model.shape
        self.shape = shape
        let h = shape.hiddenSize
        let gateCount = 4 * h

        // tanh(x) = 2σ(2x) − 1: doubling the g block's weights and bias (exact in floating point)
        // lets one sigmoid pass cover all four gates.
        func gateScale(_ row: Int) -> Float { (2 * h..<3 * h).contains(row) ? 2 : 1 }

        var weights: [UnsafeMutablePointer<Float>] = []
        var biases: [UnsafeMutablePointer<Float>] = []
        for (k, layer) in model.parameters.layers.enumerated() {
            let inputs = shape.layerInputSize(k)
            let columns = inputs + h
            let w = UnsafeMutablePointer<Float>.allocate(capacity: columns * gateCount)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: gateCount)
            for row in 0..<gateCount {
                let scale = gateScale(row)
                for j in 0..<inputs { w[j * gateCount + row] = scale * layer.weightIH[row * inputs + j] }
                for j in 0..<h { w[(inputs + j) * gateCount + row] = scale * layer.weightHH[row * h + j] }
                b[row] = scale * (layer.biasIH[row] + layer.biasHH[row])
            }
            weights.append(w)
            biases.append(b)
        }
        self.weights = weights
        self.biases = biases

        // fc.weight [C × H] transposed to [H × C]: with both operands untransposed OpenBLAS gives a
        // row the same bits whatever the batch size (not so with a transposed B at B = 1 or 2).
        classifierWeight = .allocate(capacity: shape.classes * h)
        for c in 0..<shape.classes {
            for j in 0..<h { (classifierWeight + j * shape.classes + c).initialize(to: model.parameters.fcWeight[c * h + j]) }
        }
        classifierBias = .allocate(capacity: shape.classes)
        classifierBias.initialize(from: model.parameters.fcBias, count: shape.classes)

        stacked = .allocate(capacity: maxBatch * (max(shape.inputSize, h) + h))
        gates = .allocate(capacity: maxBatch * gateCount)
        topHidden = .allocate(capacity: maxBatch * h)
        singleState = .allocate(capacity: 1)
    }

    deinit {
        for pointer in weights { pointer.deallocate() }
        for pointer in biases { pointer.deallocate() }
        classifierWeight.deallocate()
        classifierBias.deallocate()
        stacked.deallocate()
        gates.deallocate()
        topHidden.deallocate()
        singleState.deallocate()
    }

    /// Zeroes a stream state (h and c of every layer): `shape.stateCount` floats.
    public func resetState(_ state: UnsafeMutablePointer<Float>) {
        state.update(repeating: 0, count: shape.stateCount)
    }

    /// One stream, one row: `input` [I] floats, `state` [stateCount] updated in place,
    /// `probabilities` [C] written. The fastest path for a lone stream: matrix-vector products
    /// (SGEMV) instead of a one-row SGEMM, which would repack the weights on every call. It sums in
    /// another order than `stepBatch`, so the two agree to about 5e-6, not bit for bit.
    public func step(input: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                     probabilities: UnsafeMutablePointer<Float>) {
        singleState.pointee = state
        advance(count: 1, inputs: input, states: singleState, probabilities: probabilities, vectorProducts: true)
    }

    /// B streams, one row each (0 ≤ B ≤ maxBatch). `inputs`: B × I floats row-major; `states[b]`
    /// points at stream b's state (B distinct streams); `probabilities`: B × C floats written.
    ///
    /// Always matrix-matrix products with untransposed operands, even for B = 1: a stream's result
    /// is then bitwise the same whatever it is batched with (OpenBLAS computes each row of the
    /// product alike for every B), so a re-batched or restored stream gives exactly the same
    /// probabilities as an uninterrupted one.
    public func stepBatch(count: Int, inputs: UnsafePointer<Float>,
                          states: UnsafePointer<UnsafeMutablePointer<Float>>,
                          probabilities: UnsafeMutablePointer<Float>) {
        advance(count: count, inputs: inputs, states: states, probabilities: probabilities, vectorProducts: false)
    }

    private func advance(count: Int, inputs: UnsafePointer<Float>,
                         states: UnsafePointer<UnsafeMutablePointer<Float>>,
                         probabilities: UnsafeMutablePointer<Float>, vectorProducts: Bool) {
        precondition(count <= maxBatch, "batch of \(count) exceeds maxBatch \(maxBatch)")
        guard count > 0 else { return }
        let h = shape.hiddenSize
        let gateCount = 4 * h
        let batch = Int32(count)

        for k in 0..<shape.layers {
            let inputCount = shape.layerInputSize(k)
            let columns = inputCount + h
            // X rows [x | h_prev]. Above layer 0, x was written by the previous layer's pass.
            for b in 0..<count {
                let row = stacked + b * columns
                if k == 0 { row.update(from: inputs + b * inputCount, count: inputCount) }
                (row + inputCount).update(from: states[b] + 2 * k * h, count: h)
            }
            if vectorProducts {
                // G [4H] = W_kᵀ · x
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(columns), Int32(gateCount), 1,
                            weights[k], Int32(gateCount), stacked, 1, 0, gates, 1)
            } else {
                // G [B × 4H] = X [B × (I_k+H)] · W_k [(I_k+H) × 4H]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, Int32(gateCount), Int32(columns), 1,
                            stacked, Int32(columns), weights[k], Int32(gateCount), 0, gates, Int32(gateCount))
            }
            // The new h goes to the next layer's X rows (stride 2H), or to the classifier's input.
            let isTop = k == shape.layers - 1
            let output = isTop ? topHidden : stacked
            let outputStride = isTop ? h : 2 * h
            let bias = biases[k]
            for b in 0..<count {
                let gate = gates + b * gateCount
                activateGates(gate, bias: bias, count: gateCount)
                let hidden = states[b] + 2 * k * h
                updateCell(gates: gate, hidden: hidden, cell: hidden + h, output: output + b * outputStride, count: h)
            }
        }

        // Logits [B × C] = H_top [B × H] · fc.weightᵀ [H × C], written straight into probabilities.
        let classes = shape.classes
        if vectorProducts {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(h), Int32(classes), 1,
                        classifierWeight, Int32(classes), topHidden, 1, 0, probabilities, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, Int32(classes), Int32(h), 1,
                        topHidden, Int32(h), classifierWeight, Int32(classes), 0, probabilities, Int32(classes))
        }
        for b in 0..<count {
            softmax(probabilities + b * classes, bias: classifierBias, count: classes)
        }
    }
}

// MARK: - Pointwise kernels
// Plain loops without calls or branches so that LLVM vectorizes them even for baseline x86-64.

/// gate[j] = σ(gate[j] + bias[j]) for the 4H gate values of one stream.
@inline(__always)
private func activateGates(_ gate: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, count: Int) {
    for j in 0..<count {
        gate[j] = 1 / (1 + fastExp(-(gate[j] + bias[j])))
    }
}

/// From activated gates [σi | σf | σ(2g) | σo]: c' = f·c + i·g, h' = o·tanh(c'), written to the state
/// (hidden, cell) and to `output`.
@inline(__always)
private func updateCell(gates: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                        cell: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, count h: Int) {
    // One pointer per gate block: indexing with [j] alone keeps overflow checks out of the loop,
    // which would stop it from vectorizing.
    let inputGate = gates, forgetGate = gates + h, candidate = gates + 2 * h, outputGate = gates + 3 * h
    for j in 0..<h {
        let c = forgetGate[j] * cell[j] + inputGate[j] * (2 * candidate[j] - 1)
        let value = outputGate[j] * (2 / (1 + fastExp(-2 * c)) - 1)
        cell[j] = c
        hidden[j] = value
        output[j] = value
    }
}

/// values[j] = softmax(values + bias)[j], subtracting the maximum first so exp cannot overflow.
@inline(__always)
private func softmax(_ values: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, count: Int) {
    var maximum = -Float.infinity
    for j in 0..<count {
        values[j] += bias[j]
        maximum = max(maximum, values[j])
    }
    var sum: Float = 0
    for j in 0..<count {
        values[j] = fastExp(values[j] - maximum)
        sum += values[j]
    }
    let scale = 1 / sum
    for j in 0..<count { values[j] *= scale }
}

/// eˣ to within ~2 ulp (Cephes expf polynomial), branch-free so that loops calling it vectorize;
/// x is clamped to [−87, 88] so 2ⁿ stays a normal float (e⁻⁸⁷ ≈ 1.6e−38, e⁸⁸ ≈ 1.7e38).
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87), 88)
    // Adding 1.5·2²³ rounds x/ln2 to the nearest integer n, which lands in the low mantissa bits.
    let shifter: Float = 12_582_912
    let t = x * 1.442_695_04 + shifter
    let n = t - shifter
    // r = x − n·ln2 in two parts (Cody–Waite), |r| ≤ ln2/2.
    let r = (x - n * 0.693_359_375) + n * 2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_65
    p = p * r + 0.500_000_01
    let expR = p * r * r + r + 1
    let twoToN = Float(bitPattern: (t.bitPattern &- shifter.bitPattern &+ 127) &<< 23)
    return expR * twoToN
}
