import LSTMCore

/// Deterministic pseudo-random numbers (SplitMix64) so that every run tests the same cases.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A float in [0, 1) with 24 random bits.
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// A small random model (weights in ±0.5) of a given shape.
public func randomModel(_ shape: LSTMShape, seed: UInt64, metadata: ModelMetadata = ModelMetadata()) throws -> LSTMModel {
    var rng = SplitMix64(state: seed)
    func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -0.5...0.5, using: &rng) } }
    let h = shape.hiddenSize
    let layers = (0..<shape.layers).map { k in
        LSTMLayerParameters(weightIH: values(4 * h * shape.layerInputSize(k)), weightHH: values(4 * h * h),
                            biasIH: values(4 * h), biasHH: values(4 * h))
    }
    let parameters = try LSTMParameters(shape: shape, layers: layers, fcWeight: values(shape.classes * h),
                                        fcBias: values(shape.classes))
    return LSTMModel(parameters: parameters, metadata: metadata)
}

/// A deterministic random model with small defaults: the engine's behaviour does not depend on
/// trained weights.
public func makeRandomModel(inputSize: Int = 6, hidden: Int = 5, layers: Int = 2, classes: Int = 4,
                            sequenceLength: Int? = 7, inputScale: Float = 1, seed: UInt64 = 1) throws -> LSTMModel {
    try randomModel(LSTMShape(inputSize: inputSize, hiddenSize: hidden, layers: layers, classes: classes), seed: seed,
                    metadata: ModelMetadata(sequenceLength: sequenceLength, inputScale: inputScale,
                                            labels: ModelMetadata.defaultLabels(classes: classes)))
}

/// The largest absolute difference between two equally long runs of floats.
public func maxAbsDifference<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
