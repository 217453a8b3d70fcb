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
/// The pointwise part (GateKernels.swift) evaluates only tanh: σ(x) = ½ + ½·tanh(x/2), with the
/// i, f, o weights and biases halved at packing time (exact in floating point).
///
/// then the classifier `p = softmax(h'_top · fc.weightᵀ + fc.bias)` for each stream. Inputs are
/// taken as the model sees them: scaling raw values by `metadata.inputScale` is the caller's job.
/// Call `BLASThreads.set(1)` first unless this thread should share BLAS work.
public final class LSTMStepper {
    public let model: LSTMModel
    public let maxBatch: Int

    private let shape: LSTMShape
    /// Per layer k: W_k [(I_k+H) × 4H] row-major = [weight_ih | weight_hh]ᵀ, its i, f, o columns halved.
    private let weights: [UnsafeMutablePointer<Float>]
    /// Per layer k: bias_ih + bias_hh [4H], its i, f, o blocks halved.
    private let biases: [UnsafeMutablePointer<Float>]
    /// fc.weight [C × H] and fc.bias [C].
    private let classifierWeight: UnsafeMutablePointer<Float>
    private let classifierBias: UnsafeMutablePointer<Float>
    /// Rows per pass of `stepBatch`: larger batches go through in chunks of this many streams so that
    /// the chunk's buffers stay in the L2 cache between its GEMM and its gate pass (B = 1024 in one
    /// pass spills G to L3). Each chunk is its own untransposed SGEMM, so batch invariance holds.
    static let chunkRows = 256
    /// min(maxBatch, chunkRows): the buffers' row count.
    private let bufferRows: Int
    /// X [bufferRows × (max(I, H) + H)]: GEMM input rows [x | h_prev] of the current layer.
    private let stacked: UnsafeMutablePointer<Float>
    /// G [bufferRows × 4H]: gate pre-activations, then activations.
    private let gates: UnsafeMutablePointer<Float>
    /// [bufferRows × H]: the top layer's new h, input of the classifier.
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

        // σ(x) = ½ + ½·tanh(x/2): halving the i, f, o blocks' weights and bias (exact in floating
        // point) lets one tanh pass cover all four gates.
        func gateScale(_ row: Int) -> Float { (2 * h..<3 * h).contains(row) ? 1 : 0.5 }

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

        let bufferRows = min(maxBatch, Self.chunkRows)
        self.bufferRows = bufferRows
        stacked = .allocate(capacity: bufferRows * (max(shape.inputSize, h) + h))
        gates = .allocate(capacity: bufferRows * gateCount)
        topHidden = .allocate(capacity: bufferRows * h)
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
        var first = 0
        while first < count {
            let rows = min(bufferRows, count - first)
            advanceChunk(count: rows, inputs: inputs + first * shape.inputSize, states: states + first,
                         probabilities: probabilities + first * shape.classes, vectorProducts: vectorProducts)
            first += rows
        }
    }

    /// `advance` for at most `bufferRows` streams.
    private func advanceChunk(count: Int, inputs: UnsafePointer<Float>,
                              states: UnsafePointer<UnsafeMutablePointer<Float>>,
                              probabilities: UnsafeMutablePointer<Float>, vectorProducts: Bool) {
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
