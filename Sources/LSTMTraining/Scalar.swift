import CBLAS
import Foundation

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
    /// Logistic sigmoid 1 / (1 + e^-x).
    static func sigmoid(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func exp(_ x: Self) -> Self
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

    /// A branch-free e^x (Cephes polynomial, ~2 ulp on the clamped range) that the compiler can
    /// vectorise; glibc's expf/tanhf are calls, which keep the gate loops scalar.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.0), 88.0)
        // n = round(x / ln 2) through the 1.5·2²³ trick (no rounding call, no trap on conversion).
        let shifted = clamped * 1.44269504 + 12582912.0
        let n = shifted - 12582912.0
        let exponent = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * r * r + r + 1
        return y * Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
    }

    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// tanh x = 1 − 2 / (e^{2x} + 1): exact at both tails, absolute error ~1e-7 near 0.
    @inline(__always)
    public static func tanh(_ x: Float) -> Float { 1 - 2 / (exp(2 * x) + 1) }
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

    public static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
}
