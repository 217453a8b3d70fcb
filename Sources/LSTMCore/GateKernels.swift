// Pointwise kernels of LSTMStepper (its tiles' activations, cell update, softmax) and the trainer.
//
// Strictly per element (each output depends only on the same element of its inputs), so a stream's
// bits never depend on what it is batched with. Vectors of 16 floats with separate multiplies and
// adds (no fused multiply-add), so every build computes the same bits: on baseline x86-64 each
// operation is four packed SSE instructions, built for the machine's CPU (README, "The release build")
// one AVX-512 or two AVX2 instructions, about twice as fast. A tail shorter than 16 goes through the
// same code in a partly filled vector, so every element gets the same operations.

/// The vector type of the pointwise kernels (here and in the trainer).
@usableFromInline package typealias GateVector = SIMD16<Float>

/// tanh(x) as a [9/8] rational minimax fitted on [0, 9] (odd numerator, even denominator),
/// clamped to ±9 where tanh rounds to 1: within 3.5e-7 of tanh (absolute) in float arithmetic, and
/// relatively accurate near 0. Horner's scheme: fewest instructions; the dependency chains of the
/// four (SSE) or one (AVX-512) vectors and of neighbouring calls overlap in the CPU.
/// Package-visible and inlinable so that the trainer (LSTMTraining) activates its Float gates with this same
/// kernel, inlined into its loops.
@inlinable @inline(__always)
package func fastTanh(_ v: GateVector) -> GateVector {
    let bound = GateVector(repeating: 9)
    // Compare and replace rather than pointwiseMin/pointwiseMax: those become a scalar loop through
    // memory on baseline x86-64 (over half of a portable step); this is compare-and-select or
    // min/max instructions in every build, with the same results (NaN stays NaN).
    var x = v.replacing(with: -bound, where: v .< -bound)
    x.replace(with: bound, where: x .> bound)
    let y = x * x
    // p = x·(a0 + a1 y + a2 y² + a3 y³ + a4 y⁴), q = 1 + b1 y + b2 y² + b3 y³ + b4 y⁴ with y = x².
    let p = x * ((((y * 1.318_395_1e-08 + 2.047_163_8e-05) * y + 0.003_486_570_4) * y + 0.133_731_89) * y
                 + 0.999_999_88)
    let q = (((y * 7.702_552_7e-07 + 3.271_366_6e-04) * y + 0.025_841_936) * y + 0.467_064_86) * y + 1
    return p / q
}

/// Loads `lanes` floats (1...16) into the first lanes; the others are zero.
@inlinable @inline(__always)
package func loadGateVector(_ pointer: UnsafePointer<Float>, lanes: Int) -> GateVector {
    if lanes == GateVector.scalarCount { return UnsafeRawPointer(pointer).loadUnaligned(as: GateVector.self) }
    var value = GateVector()
    for lane in 0..<lanes { value[lane] = pointer[lane] }
    return value
}

/// Stores the first `lanes` lanes (1...16).
@inlinable @inline(__always)
package func storeGateVector(_ value: GateVector, _ pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == GateVector.scalarCount {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: GateVector.self)
    } else {
        for lane in 0..<lanes { pointer[lane] = value[lane] }
    }
}

/// Calls `body(j, lanes)` over 0..<count: whole vectors (lanes 16), then one partial vector for the
/// last count mod 16 elements (lanes independent, so they get the same bits as in a whole one).
@inlinable @inline(__always)
package func forEachGateVector(count: Int, _ body: (_ offset: Int, _ lanes: Int) -> Void) {
    let width = GateVector.scalarCount
    var j = 0
    while j &+ width <= count { body(j, width); j &+= width }
    if j < count { body(j, count &- j) }
}

/// values = softmax(values) in place (the logits, bias included), subtracting the maximum first so
/// exp cannot overflow. Scalar and in index order: the same bits in every build.
@inline(__always)
func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
    var maximum = -Float.infinity
    for j in 0..<count { maximum = max(maximum, values[j]) }
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
