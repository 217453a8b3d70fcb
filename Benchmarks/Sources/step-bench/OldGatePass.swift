// The 16-float gate pass of the OpenBLAS path, frozen as it was (up to commit 7708a4e): lstmd's own
// helpers are package-level in LSTMCore, which this separate package cannot see, and measuring the
// old path must not follow changes to the new kernels anyway.

typealias GateVector = SIMD16<Float>

/// tanh(x) as the [9/8] rational minimax lstmd used then, clamped to ±9.
@inline(__always)
func fastTanh(_ v: GateVector) -> GateVector {
    let bound = GateVector(repeating: 9)
    var x = v.replacing(with: -bound, where: v .< -bound)
    x.replace(with: bound, where: x .> bound)
    let y = x * x
    let p = x * ((((y * 1.318_395_1e-08 + 2.047_163_8e-05) * y + 0.003_486_570_4) * y + 0.133_731_89) * y
                 + 0.999_999_88)
    let q = (((y * 7.702_552_7e-07 + 3.271_366_6e-04) * y + 0.025_841_936) * y + 0.467_064_86) * y + 1
    return p / q
}

@inline(__always)
func loadGateVector(_ pointer: UnsafePointer<Float>, lanes: Int) -> GateVector {
    if lanes == GateVector.scalarCount { return UnsafeRawPointer(pointer).loadUnaligned(as: GateVector.self) }
    var value = GateVector()
    for lane in 0..<lanes { value[lane] = pointer[lane] }
    return value
}

@inline(__always)
func storeGateVector(_ value: GateVector, _ pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == GateVector.scalarCount {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: GateVector.self)
    } else {
        for lane in 0..<lanes { pointer[lane] = value[lane] }
    }
}

@inline(__always)
func forEachGateVector(count: Int, _ body: (_ offset: Int, _ lanes: Int) -> Void) {
    var j = 0
    while j + GateVector.scalarCount <= count { body(j, GateVector.scalarCount); j += GateVector.scalarCount }
    if j < count { body(j, count - j) }
}
