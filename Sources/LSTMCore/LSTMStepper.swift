/// Advances LSTM streams by one input row each with lstmd's own fused kernels (RowStepKernels.swift)
/// over weights packed once here (PackedWeights.swift). No BLAS: every output element is summed in
/// one fixed order that depends only on the model's shape, so a stream's bits never depend on how
/// many streams it is stepped with, its place among them, or the machine's BLAS. `step` and
/// `stepBatch` are the same code and agree bit for bit. Not thread-safe: one per thread.
///
/// One step of layer k for B streams (PyTorch gate order i, f, g, o), K = I_k + H:
///
///     for each block of 4 streams (then single streams):
///       X  [4 × K]   rows [x_b | h_b]            gathered (h is overwritten below)
///       for each tile t of 16 hidden units:
///         G  [4 × 4 × 16] = bias + X · W_k[t]    in register blocks (RowStepKernels.swift)
///         c' = σf·c + σi·tanh g,  h' = σo·tanh(c')   written into the states
///
/// σ(x) = ½ + ½·tanh(x/2), with the i, f, o weights and biases halved at packing time (exact), so
/// one tanh kernel serves all gates. Layer k+1 takes layer k's new h from the states. Then the
/// classifier `p = softmax(h'_top · fc.weightᵀ + fc.bias)` for each stream, the logits summed the
/// same way. Inputs are taken as the model sees them: scaling raw values by `metadata.inputScale`
/// is the caller's job.
public final class LSTMStepper {
    public let model: LSTMModel
    public let maxBatch: Int

    private let shape: LSTMShape
    private let layers: [PackedGateLayer]
    private let classifier: PackedClassifier
    /// Row stride of `gathered`: the largest K.
    private let gatheredStride: Int
    /// X [4 × gatheredStride]: the rows [x | h_prev] of the block being stepped.
    private let gathered: UnsafeMutablePointer<Float>
    /// [4 × 4 × 16]: a tile's accumulators on their way to the cell update.
    private let scratch: UnsafeMutablePointer<Float>
    /// [4]: where the current tile's units start in the h of each stream of the block.
    private let tileHidden: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    /// The one state pointer of `step`.
    private let singleState: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    /// Packs the model's weights. `maxBatch` ≥ 1 bounds `stepBatch`'s count.
    public init(model: LSTMModel, maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch \(maxBatch)")
        self.model = model
        self.maxBatch = maxBatch
        let shape = model.shape
        self.shape = shape
        layers = model.parameters.layers.enumerated().map { k, layer in
            PackedGateLayer(layer, inputs: shape.layerInputSize(k), hidden: shape.hiddenSize)
        }
        classifier = PackedClassifier(weight: model.parameters.fcWeight, bias: model.parameters.fcBias,
                                      classes: shape.classes, hidden: shape.hiddenSize)
        gatheredStride = max(shape.inputSize, shape.hiddenSize) + shape.hiddenSize
        gathered = allocateZeroed(4 * gatheredStride)
        scratch = allocateZeroed(4 * 64)
        tileHidden = .allocate(capacity: 4)
        singleState = .allocate(capacity: 1)
    }

    deinit {
        gathered.deallocate()
        scratch.deallocate()
        tileHidden.deallocate()
        singleState.deallocate()
    }

    /// Zeroes a stream state (h and c of every layer): `shape.stateCount` floats.
    public func resetState(_ state: UnsafeMutablePointer<Float>) {
        state.update(repeating: 0, count: shape.stateCount)
    }

    /// One stream, one row: `input` [I] floats, `state` [stateCount] updated in place,
    /// `probabilities` [C] written. `stepBatch` with B = 1: a matrix-vector product's cost, and the
    /// same bits as the stream would get in any batch.
    public func step(input: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>,
                     probabilities: UnsafeMutablePointer<Float>) {
        singleState.pointee = state
        stepBatch(count: 1, inputs: input, states: singleState, probabilities: probabilities)
    }

    /// B streams, one row each (0 ≤ B ≤ maxBatch). `inputs`: B × I floats row-major; `states[b]`
    /// points at stream b's state (B distinct streams); `probabilities`: B × C floats written.
    /// Each stream's result is bitwise the same whatever it is batched with.
    public func stepBatch(count: Int, inputs: UnsafePointer<Float>,
                          states: UnsafePointer<UnsafeMutablePointer<Float>>,
                          probabilities: UnsafeMutablePointer<Float>) {
        precondition(count <= maxBatch, "batch of \(count) exceeds maxBatch \(maxBatch)")
        for k in 0..<shape.layers {
            let layer = layers[k]
            var first = 0
            while first + 4 <= count {
                stepLayer4(layer, k, inputs: inputs, states: states, first: first)
                first += 4
            }
            while first < count {
                stepLayer1(layer, k, inputs: inputs, states: states, row: first)
                first += 1
            }
        }
        classify(count: count, states: states, probabilities: probabilities)
    }

    /// Copies stream b's row [x | h_prev] of layer k into row `slot` of `gathered`; returns it.
    @inline(__always)
    private func gather(_ k: Int, inputs: UnsafePointer<Float>, states: UnsafePointer<UnsafeMutablePointer<Float>>,
                        row b: Int, slot: Int) -> UnsafePointer<Float> {
        let h = shape.hiddenSize
        let inputCount = shape.layerInputSize(k)
        let x = k == 0 ? inputs + b * inputCount : UnsafePointer(states[b] + 2 * (k - 1) * h)
        let destination = gathered + slot * gatheredStride
        destination.update(from: x, count: inputCount)
        (destination + inputCount).update(from: states[b] + 2 * k * h, count: h)
        return UnsafePointer(destination)
    }

    /// Layer k for streams first..<first+4.
    private func stepLayer4(_ layer: PackedGateLayer, _ k: Int, inputs: UnsafePointer<Float>,
                            states: UnsafePointer<UnsafeMutablePointer<Float>>, first: Int) {
        let h = shape.hiddenSize
        let x0 = gather(k, inputs: inputs, states: states, row: first, slot: 0)
        let x1 = gather(k, inputs: inputs, states: states, row: first + 1, slot: 1)
        let x2 = gather(k, inputs: inputs, states: states, row: first + 2, slot: 2)
        let x3 = gather(k, inputs: inputs, states: states, row: first + 3, slot: 3)
        let hidden0 = states[first] + 2 * k * h, hidden1 = states[first + 1] + 2 * k * h
        let hidden2 = states[first + 2] + 2 * k * h, hidden3 = states[first + 3] + 2 * k * h
        let depth = layer.depth
        for t in 0..<layer.tiles {
            let unit = 16 * t
            tileHidden[0] = hidden0 + unit
            tileHidden[1] = hidden1 + unit
            tileHidden[2] = hidden2 + unit
            tileHidden[3] = hidden3 + unit
            gateTile4(weights: layer.weights + t * depth * 64, bias: layer.bias + t * 64, depth: depth,
                      x0, x1, x2, x3, hidden: tileHidden, cellOffset: h, lanes: min(16, h - unit), scratch: scratch)
        }
    }

    /// Layer k for stream `row` alone.
    private func stepLayer1(_ layer: PackedGateLayer, _ k: Int, inputs: UnsafePointer<Float>,
                            states: UnsafePointer<UnsafeMutablePointer<Float>>, row: Int) {
        let h = shape.hiddenSize
        let x0 = gather(k, inputs: inputs, states: states, row: row, slot: 0)
        let hidden0 = states[row] + 2 * k * h
        let depth = layer.depth
        for t in 0..<layer.tiles {
            let unit = 16 * t
            tileHidden[0] = hidden0 + unit
            gateTile1(weights: layer.weights + t * depth * 64, bias: layer.bias + t * 64, depth: depth,
                      x0, hidden: tileHidden, cellOffset: h, lanes: min(16, h - unit), scratch: scratch)
        }
    }

    /// Logits from each stream's new top-layer h, then a stable softmax in place.
    private func classify(count: Int, states: UnsafePointer<UnsafeMutablePointer<Float>>,
                          probabilities: UnsafeMutablePointer<Float>) {
        let top = 2 * (shape.layers - 1) * shape.hiddenSize
        let classes = shape.classes
        let depth = classifier.depth
        for t in 0..<classifier.tiles {
            let weights = classifier.weights + t * depth * 16, bias = classifier.bias + t * 16
            let lanes = min(16, classes - 16 * t)
            let logits = probabilities + 16 * t
            var b = 0
            while b + 4 <= count {
                classifierTile4(weights: weights, bias: bias, depth: depth,
                                states[b] + top, states[b + 1] + top, states[b + 2] + top, states[b + 3] + top,
                                logits + b * classes, logits + (b + 1) * classes,
                                logits + (b + 2) * classes, logits + (b + 3) * classes, lanes: lanes)
                b += 4
            }
            while b < count {
                classifierTile1(weights: weights, bias: bias, depth: depth, states[b] + top,
                                logits + b * classes, lanes: lanes)
                b += 1
            }
        }
        for b in 0..<count { softmax(probabilities + b * classes, count: classes) }
    }
}
