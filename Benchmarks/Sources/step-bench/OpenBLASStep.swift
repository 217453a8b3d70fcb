// The row step as lstmd computed it before its own kernels (up to commit 7708a4e), kept here only
// to measure beside them: SGEMV for one stream, untransposed SGEMM in chunks of 256 rows for a
// batch, then the 16-float gate pass and the classifier product. Its bits depend on OpenBLAS's
// kernel, which is why inference no longer uses it.
import CBLAS
import Foundation
import LSTMCore

final class OpenBLASStep {
    let shape: LSTMShape
    /// W [(I+H) × 4H] = [weight_ih | weight_hh]ᵀ with the i, f, o columns halved; bias [4H] likewise.
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>
    /// fc.weight transposed [H × C], fc.bias [C].
    let fcWeight: UnsafeMutablePointer<Float>
    let fcBias: UnsafeMutablePointer<Float>
    static let chunkRows = 256
    let stacked: UnsafeMutablePointer<Float>
    let gates: UnsafeMutablePointer<Float>
    let topHidden: UnsafeMutablePointer<Float>

    init(model: LSTMModel) {
        shape = model.shape
        precondition(shape.layers == 1, "the reference path covers the benchmark's one-layer model")
        let h = shape.hiddenSize, inputs = shape.inputSize, gateCount = 4 * h, columns = inputs + h
        let layer = model.parameters.layers[0]
        weights = .allocate(capacity: columns * gateCount)
        bias = .allocate(capacity: gateCount)
        for row in 0..<gateCount {
            let scale: Float = (2 * h..<3 * h).contains(row) ? 1 : 0.5
            for j in 0..<inputs { weights[j * gateCount + row] = scale * layer.weightIH[row * inputs + j] }
            for j in 0..<h { weights[(inputs + j) * gateCount + row] = scale * layer.weightHH[row * h + j] }
            bias[row] = scale * (layer.biasIH[row] + layer.biasHH[row])
        }
        fcWeight = .allocate(capacity: shape.classes * h)
        for c in 0..<shape.classes {
            for j in 0..<h { fcWeight[j * shape.classes + c] = model.parameters.fcWeight[c * h + j] }
        }
        fcBias = .allocate(capacity: shape.classes)
        fcBias.initialize(from: model.parameters.fcBias, count: shape.classes)
        stacked = .allocate(capacity: Self.chunkRows * columns)
        gates = .allocate(capacity: Self.chunkRows * gateCount)
        topHidden = .allocate(capacity: Self.chunkRows * h)
    }

    func step(count: Int, inputs: UnsafePointer<Float>, states: UnsafePointer<UnsafeMutablePointer<Float>>,
              probabilities: UnsafeMutablePointer<Float>) {
        var first = 0
        while first < count {
            let rows = min(Self.chunkRows, count - first)
            chunk(rows, inputs + first * shape.inputSize, states + first, probabilities + first * shape.classes)
            first += rows
        }
    }

    private func chunk(_ count: Int, _ inputs: UnsafePointer<Float>, _ states: UnsafePointer<UnsafeMutablePointer<Float>>,
                       _ probabilities: UnsafeMutablePointer<Float>) {
        let h = shape.hiddenSize, inputCount = shape.inputSize, gateCount = 4 * h, columns = inputCount + h
        for b in 0..<count {
            (stacked + b * columns).update(from: inputs + b * inputCount, count: inputCount)
            (stacked + b * columns + inputCount).update(from: states[b], count: h)
        }
        if count == 1 {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(columns), Int32(gateCount), 1, weights, Int32(gateCount),
                        stacked, 1, 0, gates, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(gateCount), Int32(columns), 1,
                        stacked, Int32(columns), weights, Int32(gateCount), 0, gates, Int32(gateCount))
        }
        let half = GateVector(repeating: 0.5)
        for b in 0..<count {
            let gate = gates + b * gateCount
            forEachGateVector(count: gateCount) { j, lanes in
                storeGateVector(fastTanh(loadGateVector(gate + j, lanes: lanes) + loadGateVector(bias + j, lanes: lanes)),
                                gate + j, lanes: lanes)
            }
            let hidden = states[b], cell = states[b] + h, output = topHidden + b * h
            forEachGateVector(count: h) { j, lanes in
                let i = loadGateVector(gate + j, lanes: lanes), f = loadGateVector(gate + h + j, lanes: lanes)
                let g = loadGateVector(gate + 2 * h + j, lanes: lanes), o = loadGateVector(gate + 3 * h + j, lanes: lanes)
                let newCell = (half + half * f) * loadGateVector(cell + j, lanes: lanes) + (half + half * i) * g
                let value = (half + half * o) * fastTanh(newCell)
                storeGateVector(newCell, cell + j, lanes: lanes)
                storeGateVector(value, hidden + j, lanes: lanes)
                storeGateVector(value, output + j, lanes: lanes)
            }
        }
        let classes = shape.classes
        if count == 1 {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(h), Int32(classes), 1, fcWeight, Int32(classes),
                        topHidden, 1, 0, probabilities, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(classes), Int32(h), 1,
                        topHidden, Int32(h), fcWeight, Int32(classes), 0, probabilities, Int32(classes))
        }
        for b in 0..<count {
            let p = probabilities + b * classes
            var maximum = -Float.infinity
            for c in 0..<classes { p[c] += fcBias[c]; maximum = max(maximum, p[c]) }
            var sum: Float = 0
            for c in 0..<classes { p[c] = expf(p[c] - maximum); sum += p[c] }
            for c in 0..<classes { p[c] /= sum }
        }
    }
}

/// The OpenBLAS kernel family the library picked for this CPU (or OPENBLAS_CORETYPE), e.g. "Cooperlake".
func openBLASCoreName() -> String { String(cString: openblas_get_corename()) }

/// One core's FP32 peak with separate multiplies and adds (what the kernels use), in GFLOP/s:
/// 6 independent multiply chains and 6 independent add chains of 16-float vectors, so neither the
/// multiply nor the add pipes wait on latency; best of 3 runs of ~0.3 s, timed in this thread's
/// CPU time (as `rows_per_cpu_s`).
func measurePeakGFLOPs() -> Double {
    var best = 0.0
    // Run-time values, so the compiler cannot fold the loop.
    let n = 30_000_000 + Int(getpid() & 1)
    let seed = Float(CommandLine.arguments.count)
    for _ in 0..<3 {
        let elapsed = threadCPUSeconds { peakLoop(n, seed: seed) }
        precondition(peakSink.isFinite)
        best = max(best, Double(n) * 12 * 16 / elapsed / 1e9)
    }
    return best
}

/// Where `peakLoop` leaves its result: a global written inside the timed region, so the compiler
/// cannot move the loop (otherwise free of side effects) past the clock reads.
nonisolated(unsafe) var peakSink: Float = 0

@inline(never)
func peakLoop(_ n: Int, seed: Float) {
    let m = GateVector(repeating: 0.999_999), a = GateVector(repeating: 1e-7)
    var p0 = GateVector(repeating: seed), p1 = p0 + 1, p2 = p0 + 2, p3 = p0 + 3, p4 = p0 + 4, p5 = p0 + 5
    var q0 = GateVector(repeating: seed), q1 = q0 + 1, q2 = q0 + 2, q3 = q0 + 3, q4 = q0 + 4, q5 = q0 + 5
    for _ in 0..<n {
        p0 = p0 * m; p1 = p1 * m; p2 = p2 * m; p3 = p3 * m; p4 = p4 * m; p5 = p5 * m
        q0 = q0 + a; q1 = q1 + a; q2 = q2 + a; q3 = q3 + a; q4 = q4 + a; q5 = q5 + a
    }
    peakSink = (p0 + p1 + p2 + p3 + p4 + p5 + q0 + q1 + q2 + q3 + q4 + q5).sum()
}
