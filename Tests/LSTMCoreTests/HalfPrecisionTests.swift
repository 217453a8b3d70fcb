@testable import LSTMCore
import Testing
import TestSupport

/// LSTMCore converts binary16 itself (Swift's `Float16` is missing on x86_64 macOS); here the
/// stdlib type, available on Linux, is the reference.
@Suite("binary16 conversions against Swift's Float16")
struct HalfPrecisionTests {
    @Test("every one of the 65,536 bit patterns decodes as Float16 does; NaNs stay NaN with their payload")
    func decodesEveryPattern() {
        var mismatches: [UInt16] = []
        for bits in UInt16.min...UInt16.max {
            let ours = HalfPrecision.float(binary16: bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                let payload = (ours.bitPattern >> 13) & 0x1FF, expected = UInt32(bits & 0x1FF)
                if !ours.isNaN || ours.sign != reference.sign || payload != expected || ours.isSignalingNaN { mismatches.append(bits) }
            } else if ours.bitPattern != reference.bitPattern {
                mismatches.append(bits)
            }
        }
        #expect(mismatches.count == 0, "first mismatches: \(mismatches.prefix(8))")
    }

    @Test("rounding to binary16 matches Float16 at every value, every tie between neighbours and beside them")
    func roundsEveryNeighbourhood() {
        var mismatches: [Float] = []
        func check(_ value: Float) {
            if HalfPrecision.binary16Bits(value) != Float16(value).bitPattern { mismatches.append(value) }
        }
        for bits in UInt16(0)..<0x7C00 {  // every finite non-negative binary16
            let value = Float(Float16(bitPattern: bits))
            // Past the largest (65504) the next step would be 65536: the tie there is 65520.
            let next = bits == 0x7BFF ? 65536 : Float(Float16(bitPattern: bits + 1))
            let tie = (value + next) / 2  // exact: 12 significant bits
            for candidate in [value, value.nextDown, value.nextUp, tie, tie.nextDown, tie.nextUp] {
                check(candidate)
                check(-candidate)
            }
        }
        for special in [Float.infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0x1p-25, 0x1p-26] {
            check(special)
        }
        #expect(mismatches.count == 0, "first mismatches: \(mismatches.prefix(8).map(\.bitPattern))")
    }

    @Test("a million random Float bit patterns round as Float16 does; NaNs stay NaN")
    func roundsRandomPatterns() {
        var random = SplitMix64(state: 16)
        var mismatches: [UInt32] = []
        for _ in 0..<1_000_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            let ours = HalfPrecision.binary16Bits(value)
            if value.isNaN {
                if ours & 0x7E00 != 0x7E00 || (ours & 0x8000 != 0) != (value.sign == .minus) { mismatches.append(value.bitPattern) }
            } else if ours != Float16(value).bitPattern {
                mismatches.append(value.bitPattern)
            }
        }
        #expect(mismatches.count == 0, "first mismatches: \(mismatches.prefix(8))")
    }
}
