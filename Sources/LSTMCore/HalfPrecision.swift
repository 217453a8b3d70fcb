/// The two 16-bit float formats of safetensors files, converted bit by bit: Swift's `Float16` does
/// not exist on x86_64 macOS, so the stdlib type is not used.
enum HalfPrecision {
    /// The IEEE binary16 value of `bits` (exact: every binary16 value is a Float). A NaN stays a
    /// NaN, made quiet, with its payload.
    static func float(binary16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:  // zero or subnormal: fraction · 2⁻²⁴
            return Float(bitPattern: sign | (Float(fraction) * 0x1p-24).bitPattern)
        case 0x1F:  // infinity, or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (fraction == 0 ? 0 : 0x0040_0000) | (fraction << 13))
        default:  // rebias the exponent from 15 to 127
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (fraction << 13))
        }
    }

    /// `value` rounded to the nearest IEEE binary16, ties to even: beyond the largest (65504) by
    /// half a step or more it is infinity. A NaN stays a (quiet) NaN with the top of its payload.
    static func binary16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | 0x7E00 | (UInt16(truncatingIfNeeded: magnitude >> 13) & 0x03FF) }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // 65520 and above, infinity included
        if magnitude >= 0x3880_0000 {  // 2⁻¹⁴ and above: a normal binary16
            let rebiased = magnitude - 0x3800_0000  // exponent 127 → 15
            let rounded = rebiased + 0x0FFF + ((rebiased >> 13) & 1)
            return sign | UInt16(truncatingIfNeeded: rounded >> 13)
        }
        // A subnormal binary16 (or zero): a multiple of 2⁻²⁴; scaling by 2²⁴ is exact.
        let steps = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
        return sign | UInt16(steps)
    }

    /// `value` rounded to the nearest bfloat16 (the upper half of a Float), ties to even; NaN stays
    /// a (quiet) NaN.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let roundingBias = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ roundingBias) >> 16)
    }
}
