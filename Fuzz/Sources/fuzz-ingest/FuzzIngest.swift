import FuzzSupport
import LSTMStreaming
import WireProtocol

/// The daemon's ingest decoding (PULL and ROUTER): frames → validated message → row values. The
/// in-place decoder and the copying one must agree, and a row that decodes is finite-sized.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIngest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let split = input.withUnsafeBytes { frames($0) }
    let copied = try? decodeIngest(frames: split)
    var output = [Float](repeating: 0, count: 28)
    split.withUnsafeFramePointers { raw in
        let view: IngestView
        do { view = try decodeIngest(frames: raw) } catch {
            if copied != nil { violated("the copying decoder accepted what the in-place one refused") }
            return
        }
        guard let copied, copied.streamID == view.streamID, copied.header == view.header,
              copied.row.elementsEqual(view.row) else { violated("the two decoders disagree") }
        for inputSize in [1, 28] {
            output.withUnsafeMutableBufferPointer { out in
                _ = try? RowValues.encoded(view.row, view.header.dtype)
                    .decode(inputSize: inputSize, inputScale: 1.0 / 255.0, into: out.baseAddress!)
            }
        }
    }
    return 0
}

extension Array where Element == [UInt8] {
    /// Calls `body` with a raw buffer over every frame, all valid during the call.
    func withUnsafeFramePointers(_ body: ([UnsafeRawBufferPointer]) -> Void) {
        func nest(_ index: Int, _ collected: [UnsafeRawBufferPointer]) {
            guard index < count else { return body(collected) }
            self[index].withUnsafeBytes { nest(index + 1, collected + [$0]) }
        }
        nest(0, [])
    }
}
