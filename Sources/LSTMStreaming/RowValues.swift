import WireProtocol

/// One row's values as a host hands them to the engine. The engine decodes and checks them once,
/// with the input scale of the model the row's stream runs on (which, after a reload, need not be
/// the current model's).
public enum RowValues {
    /// The wire's encoding (frame 3 of an ingest message): uint8 values, multiplied by the stream's
    /// model's input scale, or float32 little-endian values, used as they are.
    case encoded(UnsafeRawBufferPointer, RowDType)
    /// Floats used as they are (already scaled).
    case floats(UnsafeBufferPointer<Float>)

    /// Writes the row's `inputSize` values to `output`, or throws `badRowSize` when it does not hold
    /// `inputSize` values and `nonFiniteInput` when a value (after scaling) is NaN or infinite.
    public func decode(inputSize: Int, inputScale: Float, into output: UnsafeMutablePointer<Float>) throws(StreamError) {
        // value × 0 is 0 for finite values and NaN otherwise: one branch-free sum tells whether any
        // value is NaN or infinite (and lets the loops vectorize).
        var poison: Float = 0
        var scale: Float?
        switch self {
        case let .encoded(payload, dtype):
            guard payload.count == inputSize * dtype.byteWidth else {
                throw .badRowSize(values: inputSize, dtype: dtype, bytes: payload.count)
            }
            guard inputSize > 0, let source = payload.baseAddress else { return }
            switch dtype {
            case .uint8:
                scale = inputScale
                let bytes = source.assumingMemoryBound(to: UInt8.self)
                for i in 0..<inputSize {
                    let value = Float(bytes[i]) * inputScale
                    output[i] = value
                    poison += value * 0
                }
            case .float32:
                for i in 0..<inputSize {
                    let value = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    output[i] = value
                    poison += value * 0
                }
            }
        case let .floats(values):
            guard values.count == inputSize else {
                throw .badRowSize(values: inputSize, dtype: .float32, bytes: 4 * values.count)
            }
            for i in 0..<inputSize {
                output[i] = values[i]
                poison += values[i] * 0
            }
        }
        if !poison.isZero, let column = (0..<inputSize).first(where: { !output[$0].isFinite }) {
            throw .nonFiniteInput(column: column, isNaN: output[column].isNaN, scale: scale)
        }
    }
}
