// Pointwise kernels of LSTMStepper: gate activations, cell update, softmax.
//
// Strictly per element (each output depends only on the same element of its inputs), so a stream's
// bits never depend on what it is batched with. Explicit SIMD4 with separate multiplies and adds:
// on baseline x86-64 that is packed SSE (mulps/addps/divps/minps/maxps); `addingProduct` would
// become per-lane fmaf calls. Tails shorter than 4 go through the same SIMD4 code in lane 0, so
// every element gets the same operations in the same order.

/// tanh(x) as a [9/8] rational minimax fitted on [0, 9] (odd numerator, even denominator),
/// clamped to ±9 where tanh rounds to 1: within 3.5e-7 of tanh (absolute) in float arithmetic, and
/// relatively accurate near 0. Estrin's scheme: shorter dependency chains than Horner's.
/// Public and inlinable so that the trainer (LSTMTraining) activates its Float gates with this same
/// kernel, inlined into its loops.
@inlinable @inline(__always)
public func fastTanh(_ v: SIMD4<Float>) -> SIMD4<Float> {
    let bound = SIMD4<Float>(repeating: 9)
    var x = v
    x.replace(with: bound, where: x .> bound)
    x.replace(with: -bound, where: x .< -bound)
    let y = x * x, y2 = y * y, y4 = y2 * y2
    // p = x·(a0 + a1 y + a2 y² + a3 y³ + a4 y⁴), q = 1 + b1 y + b2 y² + b3 y³ + b4 y⁴ with y = x².
    let p = x * ((y * 0.133_731_89 + 0.999_999_88) + y2 * (y * 2.047_163_8e-05 + 0.003_486_570_4)
                 + y4 * 1.318_395_1e-08)
    let q = (y * 0.467_064_86 + 1) + y2 * (y * 3.271_366_6e-04 + 0.025_841_936) + y4 * 7.702_552_7e-07
    return p / q
}

@inline(__always)
private func load4(_ pointer: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always)
private func store4(_ value: SIMD4<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD4<Float>.self)
}

/// gate[j] = tanh(gate[j] + bias[j]) for the 4H gate values of one stream (4H is a multiple of 4).
/// The i, f, o blocks hold half their pre-activations, so their σ is ½ + ½·tanh (see `updateCell`).
/// A pass of its own: iterations are independent, so the CPU overlaps their long dependency chains.
@inline(__always)
func activateGates(_ gate: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, count: Int) {
    var j = 0
    while j < count {
        store4(fastTanh(load4(gate + j) + load4(bias + j)), gate + j)
        j &+= 4
    }
}

/// From gates [tanh(i/2) | tanh(f/2) | tanh(g) | tanh(o/2)] [4H]: c' = σf·c + σi·g, h' = σo·tanh(c'),
/// written to the state (hidden, cell) and to `output`, with σ = ½ + ½·tanh.
@inline(__always)
func updateCell(gates: UnsafePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                cell: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, count h: Int) {
    let half = SIMD4<Float>(repeating: 0.5)
    @inline(__always)
    func cellStep(_ i: SIMD4<Float>, _ f: SIMD4<Float>, _ g: SIMD4<Float>, _ o: SIMD4<Float>,
                  _ c: SIMD4<Float>) -> (cell: SIMD4<Float>, hidden: SIMD4<Float>) {
        let newCell = (half + half * f) * c + (half + half * i) * g
        return (newCell, (half + half * o) * fastTanh(newCell))
    }
    let forget = gates + h, candidate = gates + 2 * h, outputGate = gates + 3 * h
    var j = 0
    while j &+ 4 <= h {
        let (c, value) = cellStep(load4(gates + j), load4(forget + j), load4(candidate + j),
                                  load4(outputGate + j), load4(cell + j))
        store4(c, cell + j)
        store4(value, hidden + j)
        store4(value, output + j)
        j &+= 4
    }
    while j < h {
        let (c, value) = cellStep(SIMD4(gates[j], 0, 0, 0), SIMD4(forget[j], 0, 0, 0), SIMD4(candidate[j], 0, 0, 0),
                                  SIMD4(outputGate[j], 0, 0, 0), SIMD4(cell[j], 0, 0, 0))
        cell[j] = c[0]
        hidden[j] = value[0]
        output[j] = value[0]
        j &+= 1
    }
}

/// values[j] = softmax(values + bias)[j], subtracting the maximum first so exp cannot overflow.
@inline(__always)
func softmax(_ values: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, count: Int) {
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
