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
// Register blocking, chosen at compile time (the only difference between builds is how many
// columns one pass over K covers, which never changes an element's order of operations, so both
// give the same bits):
//
// - WideRegisterBlock.swift, when built with `-DLSTMD_AVX512_REGISTER_BLOCK` (Scripts/
//   build-release.sh adds it for CPUs with AVX-512): a pass covers a whole gate tile of 16 hidden
//   units × 4 gates for 4 rows = 16 `SIMD16` accumulators, 16 of the 32 zmm registers.
// - NarrowRegisterBlock.swift, otherwise (baseline x86-64 with 16 xmm, AVX2 with 16 ymm, any build
//   of a package that depends on lstmd): a pass covers 8 units × 4 gates for 2 rows, which
//   fits in 16 ymm registers; a tile of 4 rows takes 4 passes over the same packed weights.
// - A lone row (`gateTile1`, `classifierTile1` below) is the same in both: a whole tile per pass.
//
// Either way, bias, activations and the cell update are applied right after the tile's last
// product (from a 1 KB scratch that stays in L1), and h and c are written straight into the
// stream's state.

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

/// One gate tile for one stream, in both register blocks: 1 row × 4 gates × 16 units, 16 xmm or 8 ymm
/// or 4 zmm accumulators (measured faster than 8-unit passes with SSE and AVX2). The same operations
/// per lane in the same order as `gateTile4`, so the same bits.
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

/// One classifier tile for one stream, in both register blocks (the same operations per lane as
/// `classifierTile4`, so the same bits).
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
