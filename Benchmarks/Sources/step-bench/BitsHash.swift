// step-bench --hash: one 64-bit FNV-1a hash over every probability and state of 28 steps of 300
// streams through a 2-layer H = 133 model (fixed weights and inputs), the streams cut into batches
// of changing sizes. Two builds (portable and native, or two machines) compute the same bits
// exactly when they print the same hash.
import LSTMCore

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func stepBitsHash() -> UInt64 {
    let shape = LSTMShape(inputSize: 28, hiddenSize: 133, layers: 2, classes: 10)
    var rng = SplitMix64(state: 2026)
    func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -0.3...0.3, using: &rng) } }
    let h = shape.hiddenSize
    let layers = (0..<shape.layers).map { k in
        LSTMLayerParameters(weightIH: values(4 * h * shape.layerInputSize(k)), weightHH: values(4 * h * h),
                            biasIH: values(4 * h), biasHH: values(4 * h))
    }
    let parameters = try! LSTMParameters(shape: shape, layers: layers, fcWeight: values(shape.classes * h),
                                         fcBias: values(shape.classes))
    let model = LSTMModel(parameters: parameters, metadata: ModelMetadata())
    let streams = 300
    let stepper = model.makeStepper(maxBatch: streams)
    let states = UnsafeMutablePointer<Float>.allocate(capacity: streams * shape.stateCount)
    states.initialize(repeating: 0, count: streams * shape.stateCount)
    defer { states.deallocate() }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ value: Float) {
        var bits = value.bitPattern
        for _ in 0..<4 {
            hash = (hash ^ UInt64(bits & 0xff)) &* 0x100_0000_01b3
            bits >>= 8
        }
    }
    let sizes = [1, 3, 4, 5, 16, 64, 300, 7, 200, 2]
    for step in 0..<28 {
        let inputs = (0..<(streams * shape.inputSize)).map { _ in Float.random(in: 0...1, using: &rng) }
        var probabilities = [Float](repeating: 0, count: streams * shape.classes)
        var first = 0, cut = step
        while first < streams {
            let count = min(sizes[cut % sizes.count], streams - first)
            let pointers = (first..<(first + count)).map { states + $0 * shape.stateCount }
            inputs.withUnsafeBufferPointer { x in
                probabilities.withUnsafeMutableBufferPointer { p in
                    stepper.stepBatch(count: count, inputs: x.baseAddress! + first * shape.inputSize, states: pointers,
                                      probabilities: p.baseAddress! + first * shape.classes)
                }
            }
            first += count
            cut += 1
        }
        probabilities.forEach(mix)
        for i in 0..<(streams * shape.stateCount) { mix(states[i]) }
    }
    return hash
}
