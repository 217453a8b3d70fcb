#if LSTMD_AVX512_REGISTER_BLOCK
// The row-step kernels' register block for CPUs with 32 vector registers of 16 floats (AVX-512),
// selected by `-DLSTMD_AVX512_REGISTER_BLOCK` (RowStepKernels.swift says why and when): a pass
// covers a whole gate tile for 4 rows, 4 rows × 4 gates = 16 `SIMD16` accumulators, reusing every
// weight vector loaded for 4 rows. Built without AVX-512 this spills (16 xmm hold 4 of the 64 SSE
// vectors it needs), which is why it is not the default.

/// One gate tile for 4 streams. `weights` [K × 4 × 16] and `bias` [4 × 16] of the tile;
/// `x0…x3` [K] each: the rows [x | h_prev] (a copy: the tile writes h in place while later tiles
/// still read the old h); `hidden` [4]: where the tile's 16 units of h start in each state, c at
/// `+ cellOffset`; `scratch` [4 × 4 × 16] takes the accumulators on their way to `finishCells`.
@inline(__always)
func gateTile4(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
               _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
               _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>,
               hidden: UnsafePointer<UnsafeMutablePointer<Float>>, cellOffset: Int, lanes: Int, scratch: UnsafeMutablePointer<Float>) {
    let bi = loadVector(bias), bf = loadVector(bias + 16), bg = loadVector(bias + 32), bo = loadVector(bias + 48)
    var i0 = bi, f0 = bf, g0 = bg, o0 = bo
    var i1 = bi, f1 = bf, g1 = bg, o1 = bo
    var i2 = bi, f2 = bf, g2 = bg, o2 = bo
    var i3 = bi, f3 = bf, g3 = bg, o3 = bo
    var k = 0
    while k < depth {
        let wk = w + k &* 64
        let wi = loadVector(wk), wf = loadVector(wk + 16), wg = loadVector(wk + 32), wo = loadVector(wk + 48)
        let s0 = GateVector(repeating: x0[k]), s1 = GateVector(repeating: x1[k])
        let s2 = GateVector(repeating: x2[k]), s3 = GateVector(repeating: x3[k])
        i0 = i0 + s0 * wi; f0 = f0 + s0 * wf; g0 = g0 + s0 * wg; o0 = o0 + s0 * wo
        i1 = i1 + s1 * wi; f1 = f1 + s1 * wf; g1 = g1 + s1 * wg; o1 = o1 + s1 * wo
        i2 = i2 + s2 * wi; f2 = f2 + s2 * wf; g2 = g2 + s2 * wg; o2 = o2 + s2 * wo
        i3 = i3 + s3 * wi; f3 = f3 + s3 * wf; g3 = g3 + s3 * wg; o3 = o3 + s3 * wo
        k &+= 1
    }
    storeVector(i0, scratch); storeVector(f0, scratch + 16); storeVector(g0, scratch + 32); storeVector(o0, scratch + 48)
    storeVector(i1, scratch + 64); storeVector(f1, scratch + 80); storeVector(g1, scratch + 96); storeVector(o1, scratch + 112)
    storeVector(i2, scratch + 128); storeVector(f2, scratch + 144); storeVector(g2, scratch + 160); storeVector(o2, scratch + 176)
    storeVector(i3, scratch + 192); storeVector(f3, scratch + 208); storeVector(g3, scratch + 224); storeVector(o3, scratch + 240)
    finishCells(scratch, rows: 4, hidden: hidden, cellOffset: cellOffset, lanes: lanes)
}

/// One classifier tile (16 classes) for 4 streams: logits = bias + Σ_j h[j]·w[j], in order of j.
/// `weights` [H × 16], `h0…3` [H] the top layer's new h, `logits0…3` written (first `lanes`).
@inline(__always)
func classifierTile4(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
                     _ h0: UnsafePointer<Float>, _ h1: UnsafePointer<Float>,
                     _ h2: UnsafePointer<Float>, _ h3: UnsafePointer<Float>,
                     _ logits0: UnsafeMutablePointer<Float>, _ logits1: UnsafeMutablePointer<Float>,
                     _ logits2: UnsafeMutablePointer<Float>, _ logits3: UnsafeMutablePointer<Float>, lanes: Int) {
    let b = loadVector(bias)
    var a0 = b, a1 = b, a2 = b, a3 = b
    var j = 0
    while j < depth {
        let wj = loadVector(w + j &* 16)
        a0 = a0 + GateVector(repeating: h0[j]) * wj
        a1 = a1 + GateVector(repeating: h1[j]) * wj
        a2 = a2 + GateVector(repeating: h2[j]) * wj
        a3 = a3 + GateVector(repeating: h3[j]) * wj
        j &+= 1
    }
    storeGateVector(a0, logits0, lanes: lanes)
    storeGateVector(a1, logits1, lanes: lanes)
    storeGateVector(a2, logits2, lanes: lanes)
    storeGateVector(a3, logits3, lanes: lanes)
}

#endif
