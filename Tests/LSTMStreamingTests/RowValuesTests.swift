import LSTMCore
import LSTMStreaming
import TestSupport
import Testing
import WireProtocol

/// The engine decodes and checks every row once (`RowValues`): wire-encoded rows are scaled with
/// the input scale of the model their stream runs on.
@Suite struct RowValuesTests {
    /// Submits row 0 of a fresh stream and returns the prediction it gives, or the error.
    func firstPrediction(_ engine: StreamEngine, _ stream: StreamID, _ row: RowValues) throws(StreamError) -> [Float] {
        try engine.submitRow(stream: stream, index: 0, row: row, isLast: false, now: 0)
        var probabilities: [Float] = []
        engine.step(now: 0) { probabilities = Array($0.probabilities) }
        return probabilities
    }

    /// Submits row 0 of stream "s" as encoded bytes; the error, or nil when it was accepted.
    func submitEncoded(_ engine: StreamEngine, _ bytes: [UInt8], _ dtype: RowDType) -> StreamError? {
        bytes.withUnsafeBytes { raw -> StreamError? in
            do throws(StreamError) {
                _ = try engine.submitRow(stream: "s", index: 0, row: .encoded(raw, dtype), isLast: false, now: 0)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func uint8RowsAreScaledByTheModelsInputScale() throws {
        let scale: Float = 1 / 255
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 4, inputScale: scale))
        let pixels: [UInt8] = [0, 128, 255, 16]
        let encoded = try pixels.withUnsafeBytes { raw in try firstPrediction(engine, "a", .encoded(raw, .uint8)) }
        let scaled = pixels.map { Float($0) * scale }
        let floats = try scaled.withUnsafeBufferPointer { try firstPrediction(engine, "b", .floats($0)) }
        #expect(encoded == floats, "uint8 × input scale, bit for bit")
    }

    @Test func float32RowsAreLittleEndianAndUnscaled() throws {
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 3, inputScale: 1000))
        // 1.0 = 0x3F800000, -2.5 = 0xC0200000, smallest subnormal = 0x00000001.
        let bytes: [UInt8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0, 0x01, 0x00, 0x00, 0x00]
        let encoded = try bytes.withUnsafeBytes { raw in try firstPrediction(engine, "a", .encoded(raw, .float32)) }
        let values: [Float] = [1.0, -2.5, .leastNonzeroMagnitude]
        let floats = try values.withUnsafeBufferPointer { try firstPrediction(engine, "b", .floats($0)) }
        #expect(encoded == floats)
        #expect(IngestMessage.row(0, of: "x", sequence: nil, values: values).row == bytes)
    }

    @Test func rowsOfTheWrongSizeAreRefused() throws {
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 4))
        #expect(submitEncoded(engine, [1, 2, 3], .uint8) == .badRowSize(values: 4, dtype: .uint8, bytes: 3))
        #expect(StreamError.badRowSize(values: 4, dtype: .uint8, bytes: 3).description == "row is 3 bytes; 4 uint8 values need 4")
        // A uint8-sized payload labelled float32.
        #expect(submitEncoded(engine, [1, 2, 3, 4], .float32) == .badRowSize(values: 4, dtype: .float32, bytes: 4))
        #expect(submitEncoded(engine, IngestMessage.row(0, of: "x", sequence: nil, values: [1, 2, 3, 4, 5]).row, .float32)
                == .badRowSize(values: 4, dtype: .float32, bytes: 20))
        #expect(submitEncoded(engine, IngestMessage.row(0, of: "x", sequence: nil, values: [1, 2, 3, 4]).row, .float32) == nil)
        #expect(engine.liveStreamCount == 1, "only the valid row started a stream")
    }

    @Test(arguments: [
        (UInt32(0x7FC0_0000), "NaN"),        // quiet NaN
        (UInt32(0x7F80_0001), "NaN"),        // signalling NaN
        (UInt32(0xFFC0_0000), "NaN"),        // negative NaN
        (UInt32(0x7F80_0000), "infinite"),   // +inf
        (UInt32(0xFF80_0000), "infinite"),   // -inf
    ])
    func nonFiniteFloat32IsRefused(bits: UInt32, what: String) throws {
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 4))
        let bytes = IngestMessage.row(0, of: "x", sequence: nil, values: [0.5, 1, Float(bitPattern: bits), 2]).row
        let error = submitEncoded(engine, bytes, .float32)
        #expect(error?.code == .nonFiniteInput)
        #expect(error?.description == "row value 2 is \(what)")
        #expect(engine.liveStreamCount == 0)
    }

    /// Models are refused beyond `ModelMetadata.inputScaleRange`, so a scaled uint8 row is always
    /// finite: the largest scale times the largest pixel stays far below Float's range.
    @Test func scaledRowsAreFiniteAtTheLargestInputScale() throws {
        let largest = ModelMetadata.inputScaleRange.upperBound
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 3, inputScale: largest))
        #expect(submitEncoded(engine, [0, 0, 255], .uint8) == nil)
    }
}
