import FuzzSupport
import LSTMCore
import LSTMStreaming
import WireProtocol

/// A stream snapshot as the daemon restores it at start: parsed, restored into an engine serving
/// a fixed small model (as the file says, and again as if its model hash matched, so that the
/// fuzzer need not guess one), then listed, stepped, evicted and dropped as the daemon would.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    guard var snapshot = try? StreamSnapshot(bytes: input) else { return 0 }
    for useFileHash in [true, false] {
        if !useFileHash { snapshot.modelSHA256 = model.sha256 }
        let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 8, maxStreams: 16,
                                                                                   idleTimeoutSeconds: 1))
        guard (try? engine.restore(snapshot, now: 0)) != nil else { continue }
        for summary in engine.liveStreams(now: 1) where summary.nextRow > Int(UInt32.max) {
            violated("stream \(summary.id) restored at row \(summary.nextRow)")
        }
        guard let saved = try? engine.snapshot(),
              (try? StreamSnapshot(bytes: saved.serialized()))?.streams == saved.streams else {
            violated("a restored snapshot does not survive its own serialization")
        }
        let row: [Float] = [0.5, -1, 2]
        for summary in engine.liveStreams(now: 1) {
            _ = row.withUnsafeBufferPointer {
                try? engine.submitRow(stream: summary.id, index: summary.nextRow, row: .floats($0), isLast: false, now: 1)
            }
        }
        engine.step(now: 1) { _ in }
        if let first = engine.liveStreams(now: 1).first { engine.dropStream(first.id) }
        engine.evictIdle(now: 10_000_000_000) { _, _ in }
    }
    return 0
}

/// I = 3, H = 2, L = 1, C = 2, sequence length 5, fixed weights: what the committed corpus was
/// made for (Scripts/fuzz.sh seed).
let model: LSTMModel = {
    func values(_ count: Int, _ seed: Float) -> [Float] { (0..<count).map { Float($0 % 7) * 0.1 - 0.3 + seed } }
    let parameters = try! LSTMParameters(
        shape: LSTMShape(inputSize: 3, hiddenSize: 2, layers: 1, classes: 2),
        layers: [LSTMLayerParameters(weightIH: values(24, 0), weightHH: values(16, 0.01), biasIH: values(8, 0.02),
                                     biasHH: values(8, 0.03))],
        fcWeight: values(4, 0.04), fcBias: values(2, 0.05))
    return LSTMModel(parameters: parameters, metadata: ModelMetadata(sequenceLength: 5, inputScale: 1))
}()
