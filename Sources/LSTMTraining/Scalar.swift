import CBLAS
import Foundation
import LSTMCore

/// The floating-point types the training math runs in: `Float` for training, `Double` for the
/// gradient check. Everything is row-major; the BLAS calls are OpenBLAS's CBLAS.
public protocol TrainingScalar: BinaryFloatingPoint, Sendable {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// y[n] = Aᵀ · x for A [m×n] row-major, x [m] (sums the rows of A when x is all ones).
    static func gemvTransposed(m: Int, n: Int, a: UnsafePointer<Self>, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>)
    /// e^x (the softmax; a few calls per sequence, so libm).
    static func exp(_ x: Self) -> Self
    /// The pointwise part of one LSTM step for one sequence, from the pre-activations a [4H]
    /// (gate blocks i f g o, without bias) in `gates`:
    ///     gates ← i = σ(a_i + b_i), f = σ(a_f + b_f), g = tanh(a_g + b_g), o = σ(a_o + b_o)
    ///     cell = f ⊙ cellBefore + i ⊙ g,   tanhCell = tanh(cell),   hidden = o ⊙ tanhCell   [H] each
    static func cellForward(gates: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>,
                            cellBefore: UnsafePointer<Self>, cell: UnsafeMutablePointer<Self>,
                            tanhCell: UnsafeMutablePointer<Self>, hidden: UnsafeMutablePointer<Self>, count: Int)
    /// Backpropagation through `cellForward` for one sequence, with the activated `gates` [4H] it
    /// left, dh = dL/dh_t and, in `cellGradient`, the dL/dc_t that flows back from step t+1 ([H] each):
    ///     dc = cellGradient + dh ⊙ o ⊙ (1 − tanh²c)
    ///     gateGradients [4H] ← da_i = dc ⊙ g ⊙ i(1−i),  da_f = dc ⊙ cellBefore ⊙ f(1−f),
    ///                          da_g = dc ⊙ i ⊙ (1−g²),  da_o = dh ⊙ tanh c ⊙ o(1−o)
    ///     cellGradient ← dc ⊙ f   (dL/dc_{t−1})
    static func cellBackward(gates: UnsafePointer<Self>, cellBefore: UnsafePointer<Self>, tanhCell: UnsafePointer<Self>,
                             hiddenGradient: UnsafePointer<Self>, cellGradient: UnsafeMutablePointer<Self>,
                             gateGradients: UnsafeMutablePointer<Self>, count: Int)
}

@inline(__always)
private func blasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TrainingScalar {
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemvTransposed(m: Int, n: Int, a: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), 1, a, Int32(n), x, 1, 0, y, 1)
    }

    @inline(__always)
    public static func exp(_ x: Float) -> Float { Foundation.exp(x) }

    /// Explicit 16-float vectors (`GateVector`) with LSTMModel's rational `fastTanh` (within 3.5e-7
    /// of tanh), σ(x) = ½ + ½·tanh(x/2). The tail of H mod 16 goes through the same code in a partly filled vector.
    @inline(__always)
    public static func cellForward(gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                                   cellBefore: UnsafePointer<Float>, cell: UnsafeMutablePointer<Float>,
                                   tanhCell: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, count h: Int) {
        let half = GateVector(repeating: 0.5)
        let i = gates, f = gates + h, g = gates + 2 * h, o = gates + 3 * h
        let bi = bias, bf = bias + h, bg = bias + 2 * h, bo = bias + 3 * h
        @inline(__always)
        func block(_ j: Int, _ lanes: Int) {
            let ai = load(i + j, lanes) + load(bi + j, lanes), af = load(f + j, lanes) + load(bf + j, lanes)
            let ag = load(g + j, lanes) + load(bg + j, lanes), ao = load(o + j, lanes) + load(bo + j, lanes)
            let si = half + half * fastTanh(half * ai), sf = half + half * fastTanh(half * af)
            let tg = fastTanh(ag), so = half + half * fastTanh(half * ao)
            let c = sf * load(cellBefore + j, lanes) + si * tg
            let tc = fastTanh(c)
            store(si, i + j, lanes)
            store(sf, f + j, lanes)
            store(tg, g + j, lanes)
            store(so, o + j, lanes)
            store(c, cell + j, lanes)
            store(tc, tanhCell + j, lanes)
            store(so * tc, hidden + j, lanes)
        }
        forEachGateVector(count: h, block)
    }

    /// Explicit `GateVector`s, same operation order as the Double version.
    @inline(__always)
    public static func cellBackward(gates: UnsafePointer<Float>, cellBefore: UnsafePointer<Float>, tanhCell: UnsafePointer<Float>,
                                    hiddenGradient: UnsafePointer<Float>, cellGradient: UnsafeMutablePointer<Float>,
                                    gateGradients: UnsafeMutablePointer<Float>, count h: Int) {
        let one = GateVector(repeating: 1)
        @inline(__always)
        func block(_ j: Int, _ lanes: Int) {
            let i = load(gates + j, lanes), f = load(gates + h + j, lanes)
            let g = load(gates + 2 * h + j, lanes), o = load(gates + 3 * h + j, lanes)
            let tc = load(tanhCell + j, lanes), dh = load(hiddenGradient + j, lanes)
            let dc = load(cellGradient + j, lanes) + dh * o * (one - tc * tc)
            store(dc * g * i * (one - i), gateGradients + j, lanes)
            store(dc * load(cellBefore + j, lanes) * f * (one - f), gateGradients + h + j, lanes)
            store(dc * i * (one - g * g), gateGradients + 2 * h + j, lanes)
            store(dh * tc * o * (one - o), gateGradients + 3 * h + j, lanes)
            store(dc * f, cellGradient + j, lanes)
        }
        forEachGateVector(count: h, block)
    }
}

/// LSTMModel's vector load and store, named shortly for the cell loops above.
@inline(__always)
private func load(_ pointer: UnsafePointer<Float>, _ lanes: Int) -> GateVector {
    loadGateVector(pointer, lanes: lanes)
}

@inline(__always)
private func load(_ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) -> GateVector {
    loadGateVector(pointer, lanes: lanes)
}

@inline(__always)
private func store(_ value: GateVector, _ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) {
    storeGateVector(value, pointer, lanes: lanes)
}

extension Double: TrainingScalar {
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static func gemvTransposed(m: Int, n: Int, a: UnsafePointer<Double>, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        cblas_dgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), 1, a, Int32(n), x, 1, 0, y, 1)
    }

    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }

    /// Exact (libm) activations: the gradient check runs in Double.
    public static func cellForward(gates: UnsafeMutablePointer<Double>, bias: UnsafePointer<Double>,
                                   cellBefore: UnsafePointer<Double>, cell: UnsafeMutablePointer<Double>,
                                   tanhCell: UnsafeMutablePointer<Double>, hidden: UnsafeMutablePointer<Double>, count h: Int) {
        func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        let i = gates, f = gates + h, g = gates + 2 * h, o = gates + 3 * h
        for j in 0..<h {
            i[j] = sigmoid(i[j] + bias[j])
            f[j] = sigmoid(f[j] + bias[h + j])
            g[j] = Foundation.tanh(g[j] + bias[2 * h + j])
            o[j] = sigmoid(o[j] + bias[3 * h + j])
            cell[j] = f[j] * cellBefore[j] + i[j] * g[j]
            tanhCell[j] = Foundation.tanh(cell[j])
            hidden[j] = o[j] * tanhCell[j]
        }
    }

    public static func cellBackward(gates: UnsafePointer<Double>, cellBefore: UnsafePointer<Double>, tanhCell: UnsafePointer<Double>,
                                    hiddenGradient: UnsafePointer<Double>, cellGradient: UnsafeMutablePointer<Double>,
                                    gateGradients: UnsafeMutablePointer<Double>, count h: Int) {
        for j in 0..<h {
            let i = gates[j], f = gates[h + j], g = gates[2 * h + j], o = gates[3 * h + j]
            let tc = tanhCell[j], dh = hiddenGradient[j]
            let dc = cellGradient[j] + dh * o * (1 - tc * tc)
            gateGradients[j] = dc * g * i * (1 - i)
            gateGradients[h + j] = dc * cellBefore[j] * f * (1 - f)
            gateGradients[2 * h + j] = dc * i * (1 - g * g)
            gateGradients[3 * h + j] = dh * tc * o * (1 - o)
            cellGradient[j] = dc * f
        }
    }
}
