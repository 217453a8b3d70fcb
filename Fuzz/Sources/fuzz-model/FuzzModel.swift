import FuzzSupport
import LSTMCore
import LSTMStreaming
import WireProtocol

/// A model file as lstmd, `lstm-train eval` and `info` load it: the safetensors container, the
/// tensor set and shapes, the metadata. A model that loads is within the limits, survives its own
/// serialization, and (when small) serves a row through the engine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    _ = try? SafetensorsFile(bytes: input)
    guard let model = try? LSTMModel.load(bytes: input) else { return 0 }
    let shape = model.shape
    guard shape.classes <= LSTMShape.Limits.maxClasses, shape.hiddenSize <= LSTMShape.Limits.maxWidth else {
        violated("model of shape \(shape) loaded")
    }
    guard let again = try? LSTMModel.load(bytes: model.safetensorsBytes()), again.parameters == model.parameters,
          again.metadata == model.metadata else { violated("model does not survive its own serialization") }
    guard shape.flopsPerRow <= 1_000_000 else { return 0 }
    let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 4, maxStreams: 4))
    let row = [Float](repeating: 1, count: shape.inputSize)
    _ = row.withUnsafeBufferPointer { try? engine.submitRow(stream: try! StreamID("s"), index: 0, row: .floats($0), isLast: false, now: 0) }
    engine.step(now: 0) { prediction in
        if prediction.probabilities.count != shape.classes { violated("\(prediction.probabilities.count) probabilities") }
    }
    return 0
}
