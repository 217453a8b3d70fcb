#if !LSTMD_AVX512_REGISTER_BLOCK
// The row-step kernels' register block for CPUs with 16 vector registers (baseline x86-64: 16 xmm
// of 4 floats; AVX2: 16 ymm of 8), the default (RowStepKernels.swift says why and when). A gate
// tile for 4 rows (16 units × 4 gates, the packed layout of PackedWeights.swift) is computed in
// passes over K that each cover 8 of its units for all 4 gates and 2 rows: 8 `SIMD8` accumulators
// (8 ymm; 16 xmm with SSE, where some spill, which measured faster than 4-unit passes: README, "The
// kernels"), plus the weight vectors and the broadcast inputs. Each lane's operations and their
// order are those of the wide block, so the bits are the same. A lone row uses `gateTile1`.

/// The vector one pass accumulates in: 8 units of one gate (2 xmm or 1 ymm).
typealias PassVector = SIMD8<Float>

@inline(__always)
func loadPassVector(_ pointer: UnsafePointer<Float>) -> PassVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: PassVector.self)
}

@inline(__always)
func storePassVector(_ value: PassVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: PassVector.self)
}

/// One pass for 2 rows: `weights` and `bias` start at the pass's first unit within the tile
/// ([K × 4 × 16] and [4 × 16], 8 units of each gate read), `x0`, `x1` [K]; the accumulators go to
/// `scratch0`, `scratch1`, each [4 × 16] at the same unit offset.
@inline(__always)
func gatePass2(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
               _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
               _ scratch0: UnsafeMutablePointer<Float>, _ scratch1: UnsafeMutablePointer<Float>) {
    let bi = loadPassVector(bias), bf = loadPassVector(bias + 16)
    let bg = loadPassVector(bias + 32), bo = loadPassVector(bias + 48)
    var i0 = bi, f0 = bf, g0 = bg, o0 = bo
    var i1 = bi, f1 = bf, g1 = bg, o1 = bo
    var k = 0
    while k < depth {
        let wk = w + k &* 64
        let wi = loadPassVector(wk), wf = loadPassVector(wk + 16)
        let wg = loadPassVector(wk + 32), wo = loadPassVector(wk + 48)
        let s0 = PassVector(repeating: x0[k]), s1 = PassVector(repeating: x1[k])
        i0 = i0 + s0 * wi; f0 = f0 + s0 * wf; g0 = g0 + s0 * wg; o0 = o0 + s0 * wo
        i1 = i1 + s1 * wi; f1 = f1 + s1 * wf; g1 = g1 + s1 * wg; o1 = o1 + s1 * wo
        k &+= 1
    }
    storePassVector(i0, scratch0); storePassVector(f0, scratch0 + 16)
    storePassVector(g0, scratch0 + 32); storePassVector(o0, scratch0 + 48)
    storePassVector(i1, scratch1); storePassVector(f1, scratch1 + 16)
    storePassVector(g1, scratch1 + 32); storePassVector(o1, scratch1 + 48)
}

/// One gate tile for 4 streams (the contract of the wide block's `gateTile4`): `weights` [K × 4 × 16]
/// and `bias` [4 × 16] of the tile, `x0…x3` [K] the gathered rows, `hidden` [4] where the tile's
/// units of h start (c at `+ cellOffset`), `scratch` [4 × 4 × 16]. Passes: rows 0–1, then rows
/// 2–3, for each half of the tile.
@inline(__always)
func gateTile4(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
               _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
               _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>,
               hidden: UnsafePointer<UnsafeMutablePointer<Float>>, cellOffset: Int, lanes: Int, scratch: UnsafeMutablePointer<Float>) {
    var unit = 0
    while unit < GateVector.scalarCount {
        gatePass2(weights: w + unit, bias: bias + unit, depth: depth, x0, x1, scratch + unit, scratch + 64 + unit)
        gatePass2(weights: w + unit, bias: bias + unit, depth: depth, x2, x3, scratch + 128 + unit, scratch + 192 + unit)
        unit &+= PassVector.scalarCount
    }
    finishCells(scratch, rows: 4, hidden: hidden, cellOffset: cellOffset, lanes: lanes)
}

/// Stores the lanes of `value` that fall among the first `lanes` of a 16-float row, `value`
/// holding lanes `unit`..<`unit` + 8 of it.
@inline(__always)
func storePassLanes(_ value: PassVector, _ row: UnsafeMutablePointer<Float>, unit: Int, lanes: Int) {
    if unit &+ PassVector.scalarCount <= lanes {
        storePassVector(value, row + unit)
    } else {
        var lane = 0
        while unit &+ lane < lanes { row[unit &+ lane] = value[lane]; lane &+= 1 }
    }
}

/// One classifier tile (16 classes) for 4 streams: logits = bias + Σ_j h[j]·w[j], in order of j.
/// `weights` [H × 16], `h0…3` [H] the top layer's new h, `logits0…3` written (first `lanes`), in
/// passes of 8 classes × 4 rows; a pass past `lanes` is skipped.
@inline(__always)
func classifierTile4(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
                     _ h0: UnsafePointer<Float>, _ h1: UnsafePointer<Float>,
                     _ h2: UnsafePointer<Float>, _ h3: UnsafePointer<Float>,
                     _ logits0: UnsafeMutablePointer<Float>, _ logits1: UnsafeMutablePointer<Float>,
                     _ logits2: UnsafeMutablePointer<Float>, _ logits3: UnsafeMutablePointer<Float>, lanes: Int) {
    var unit = 0
    while unit < lanes {
        let b = loadPassVector(bias + unit)
        var a0 = b, a1 = b, a2 = b, a3 = b
        var j = 0
        while j < depth {
            let wj = loadPassVector(w + (j &* 16 &+ unit))
            a0 = a0 + PassVector(repeating: h0[j]) * wj
            a1 = a1 + PassVector(repeating: h1[j]) * wj
            a2 = a2 + PassVector(repeating: h2[j]) * wj
            a3 = a3 + PassVector(repeating: h3[j]) * wj
            j &+= 1
        }
        storePassLanes(a0, logits0, unit: unit, lanes: lanes)
        storePassLanes(a1, logits1, unit: unit, lanes: lanes)
        storePassLanes(a2, logits2, unit: unit, lanes: lanes)
        storePassLanes(a3, logits3, unit: unit, lanes: lanes)
        unit &+= PassVector.scalarCount
    }
}

#endif
