import LSTMModel

/// A deterministic random model: the engine's behaviour does not depend on trained weights.
public func makeRandomModel(inputSize: Int = 6, hidden: Int = 5, layers: Int = 2, classes: Int = 4,
                            sequenceLength: Int? = 7, inputScale: Float = 1, seed: UInt64 = 1) throws -> LSTMModel {
    var rng = SplitMix(seed: seed)
    func values(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextUnit() * 0.8 - 0.4 } }
    var layerParameters: [LSTMLayerParameters] = []
    for k in 0..<layers {
        let inputs = k == 0 ? inputSize : hidden
        layerParameters.append(LSTMLayerParameters(
            weightIH: values(4 * hidden * inputs), weightHH: values(4 * hidden * hidden),
            biasIH: values(4 * hidden), biasHH: values(4 * hidden)))
    }
    let parameters = try LSTMParameters(
        shape: LSTMShape(inputSize: inputSize, hiddenSize: hidden, layers: layers, classes: classes),
        layers: layerParameters, fcWeight: values(classes * hidden), fcBias: values(classes))
    return LSTMModel(parameters: parameters, metadata: ModelMetadata(
        sequenceLength: sequenceLength, inputScale: inputScale, labels: ModelMetadata.defaultLabels(classes: classes)))
}

public struct SplitMix {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

