import FuzzSupport
import WireProtocol

/// The client's prediction decoding (SUB and DEALER): frames → header, topic, body; an ERROR's
/// JSON. A PARTIAL or FINAL that decodes re-encodes to the same header bytes (version 1 or 2; the
/// argmax byte aside, which the encoder computes).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPrediction(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let split = input.withUnsafeBytes { frames($0) }
    guard let message = try? PredictionMessage(frames: split) else { return 0 }
    if case .probabilities(let probabilities) = message.body, (1...255).contains(probabilities.count) {
        var header = [UInt8](repeating: 0, count: headerSize(sequence: message.header.sequence))
        var body = [UInt8](repeating: 0, count: 4 * probabilities.count)
        probabilities.withUnsafeBufferPointer { values in
            header.withUnsafeMutableBytes { h in
                body.withUnsafeMutableBytes { b in
                    _ = encodePrediction(kind: message.header.kind, row: message.header.row,
                                         sequence: message.header.sequence, probabilities: values, header: h, body: b)
                }
            }
        }
        guard body == split[2] else { violated("probabilities do not re-encode to the same bytes") }
        guard header[1] == split[1][1], header[4...] == split[1][4...] else { violated("header does not re-encode") }
    }
    _ = message.frames
    return 0
}
