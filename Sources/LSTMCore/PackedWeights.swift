/// One layer's gate weights and biases, packed once at load in the order the row-step kernels
/// (RowStepKernels.swift) stream them.
///
/// Hidden units go in tiles of 16 (one `GateVector`), T = ⌈H/16⌉; lanes past H are zero. For tile t
/// and input k (0 ≤ k < K = I_k + H, inputs then previous h), four vectors i, f, g, o lie next to
/// each other, so a tile is K·64 contiguous floats:
///
///     weights [T × K × 4 × 16]   weights[t][k][gate][lane] = s·W_gate[16t + lane][k]
///     bias    [T × 4 × 16]       bias[t][gate][lane]      = s·(b_ih + b_hh)[gate·H + 16t + lane]
///
/// with s = ½ for the i, f and o gates (σ(x) = ½ + ½·tanh(x/2); halving is exact) and 1 for g.
final class PackedGateLayer {
    /// K: the layer's inputs plus H.
    let depth: Int
    let tiles: Int
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(_ layer: LSTMLayerParameters, inputs: Int, hidden h: Int) {
        depth = inputs + h
        tiles = (h + 15) / 16
        weights = allocateZeroed(tiles * depth * 64)
        bias = allocateZeroed(tiles * 64)
        for gate in 0..<4 {
            let scale: Float = gate == 2 ? 1 : 0.5
            for unit in 0..<h {
                let row = gate * h + unit
                let (t, lane) = unit.quotientAndRemainder(dividingBy: 16)
                let tile = weights + t * depth * 64 + gate * 16 + lane
                for k in 0..<inputs { tile[k * 64] = scale * layer.weightIH[row * inputs + k] }
                for k in 0..<h { tile[(inputs + k) * 64] = scale * layer.weightHH[row * h + k] }
                bias[t * 64 + gate * 16 + lane] = scale * (layer.biasIH[row] + layer.biasHH[row])
            }
        }
    }

    deinit {
        weights.deallocate()
        bias.deallocate()
    }
}

/// The classifier `fc` packed like a gate layer with one vector per input: classes in tiles of 16,
/// T = ⌈C/16⌉, lanes past C zero.
///
///     weights [T × H × 16]   weights[t][j][lane] = fc.weight[16t + lane][j]
///     bias    [T × 16]
final class PackedClassifier {
    let depth: Int
    let tiles: Int
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(weight: [Float], bias fcBias: [Float], classes: Int, hidden h: Int) {
        depth = h
        tiles = (classes + 15) / 16
        weights = allocateZeroed(tiles * h * 16)
        bias = allocateZeroed(tiles * 16)
        for c in 0..<classes {
            let (t, lane) = c.quotientAndRemainder(dividingBy: 16)
            for j in 0..<h { weights[(t * h + j) * 16 + lane] = weight[c * h + j] }
            bias[t * 16 + lane] = fcBias[c]
        }
    }

    deinit {
        weights.deallocate()
        bias.deallocate()
    }
}

/// `count` zeroed floats on a 64-byte boundary (one cache line, one AVX-512 vector).
func allocateZeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
    let pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
    return pointer
}
