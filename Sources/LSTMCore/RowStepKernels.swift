// The fused row-step kernels of LSTMStepper, batch-invariant by construction.
//
// Every output element is reduced in one fixed order that depends only on the model's shape:
//
//     acc = bias;  for k in 0..<K { acc = acc + x[k] · w[k] }      (a multiply, then an add)
//
// whatever the batch size, the row's place in it, or whether the 4-row or the 1-row kernel
// computed it: both run exactly these operations per lane, in this order. Multiplies and adds are
// never fused, so the portable and the native build give the same bits (README, "The kernels").
//
// Register blocking: a gate tile is 16 hidden units × 4 gates (4 vectors); the 4-row kernel keeps
// 4 rows × 4 gates = 16 accumulators in registers (16 zmm with AVX-512), reusing every weight
// vector loaded for 4 rows. Bias, activations and the cell update are applied right after the
// tile's last product (from a 1 KB scratch that stays in L1), and h and c are written straight
// into the stream's state.

@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> GateVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: GateVector.self)
}

/// The epilogue of a gate tile for `rows` streams, from `scratch` [rows × 4 × 16] holding each row's
/// accumulated pre-activations i, f, g, o (i, f, o halved): c' = σf·c + σi·tanh g,
/// h' = σo·tanh(c'), σ = ½ + ½·tanh(·), written over the first `lanes` units of each stream's h
/// (`hidden[r]`) and c (`hidden[r] + cellOffset`). Each stage is a loop over independent vectors,
/// so the long tanh chains of all rows overlap in the CPU; through memory (L1) because vectors
/// passed by value are split into four SSE registers at a call.
@inline(never)
func finishCells(_ scratch: UnsafeMutablePointer<Float>, rows: Int,
                 hidden: UnsafePointer<UnsafeMutablePointer<Float>>, cellOffset: Int, lanes: Int) {
    let half = GateVector(repeating: 0.5)
    tanhInPlace(scratch, count: 4 &* rows, stride: 16)
    for r in 0..<rows {
        let gates = scratch + r &* 64, cell = hidden[r] + cellOffset
        let newCell = (half + half * loadVector(gates + 16)) * loadGateVector(cell, lanes: lanes)
            + (half + half * loadVector(gates)) * loadVector(gates + 32)
        storeGateVector(newCell, cell, lanes: lanes)
        storeVector(newCell, gates + 32)
    }
    tanhInPlace(scratch + 32, count: rows, stride: 64)
    for r in 0..<rows {
        let gates = scratch + r &* 64
        storeGateVector((half + half * loadVector(gates + 48)) * loadVector(gates + 32), hidden[r], lanes: lanes)
    }
}

/// v = tanh(v) for `count` vectors `stride` floats apart.
@inline(__always)
func tanhInPlace(_ first: UnsafeMutablePointer<Float>, count: Int, stride: Int) {
    var v = 0
    while v < count {
        let pointer = first + v &* stride
        storeVector(fastTanh(loadVector(pointer)), pointer)
        v &+= 1
    }
}

@inline(__always)
func storeVector(_ value: GateVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: GateVector.self)
}

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

/// `gateTile4` for one stream: the same operations per lane in the same order, so the same bits.
@inline(__always)
func gateTile1(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
               _ x0: UnsafePointer<Float>, hidden: UnsafePointer<UnsafeMutablePointer<Float>>, cellOffset: Int, lanes: Int,
               scratch: UnsafeMutablePointer<Float>) {
    var i0 = loadVector(bias), f0 = loadVector(bias + 16), g0 = loadVector(bias + 32), o0 = loadVector(bias + 48)
    var k = 0
    while k < depth {
        let wk = w + k &* 64
        let s0 = GateVector(repeating: x0[k])
        i0 = i0 + s0 * loadVector(wk); f0 = f0 + s0 * loadVector(wk + 16)
        g0 = g0 + s0 * loadVector(wk + 32); o0 = o0 + s0 * loadVector(wk + 48)
        k &+= 1
    }
    storeVector(i0, scratch); storeVector(f0, scratch + 16); storeVector(g0, scratch + 32); storeVector(o0, scratch + 48)
    finishCells(scratch, rows: 1, hidden: hidden, cellOffset: cellOffset, lanes: lanes)
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

/// `classifierTile4` for one stream (same operations per lane, same bits).
@inline(__always)
func classifierTile1(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, depth: Int,
                     _ h0: UnsafePointer<Float>, _ logits0: UnsafeMutablePointer<Float>, lanes: Int) {
    var a0 = loadVector(bias)
    var j = 0
    while j < depth {
        a0 = a0 + GateVector(repeating: h0[j]) * loadVector(w + j &* 16)
        j &+= 1
    }
    storeGateVector(a0, logits0, lanes: lanes)
}
