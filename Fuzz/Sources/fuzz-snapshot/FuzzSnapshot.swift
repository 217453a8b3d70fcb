import FuzzSupport
import LSTMCore
import LSTMStreaming
import WireProtocol

/// A stream snapshot as the daemon restores it at start: parsed, restored into an engine serving
/// a fixed small model, with a second one to restore older sections onto (as the file says, and
/// again with its first two sections' model hashes made theirs, so that the fuzzer need not guess
/// one), then listed, stepped, evicted and dropped as the daemon would.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    guard var snapshot = try? StreamSnapshot(bytes: input) else { return 0 }
    for useFileHashes in [true, false] {
        if !useFileHashes {
            for (i, sha) in [model.sha256, olderModel.sha256].enumerated() where i < snapshot.sections.count {
                snapshot.sections[i].modelSHA256 = sha
            }
        }
        let engine = StreamEngine(model: model, configuration: EngineConfiguration(maxBatch: 8, maxStreams: 16,
                                                                                   idleTimeoutSeconds: 1))
        guard let report = try? engine.restore(snapshot, models: [olderModel], now: 0) else { continue }
        if report.restoredStreams != engine.liveStreamCount {
            violated("the report says \(report.restoredStreams) streams restored, the engine holds \(engine.liveStreamCount)")
        }
        for summary in engine.liveStreams(now: 1) where summary.nextRow > Int(UInt32.max) {
            violated("stream \(summary.id) restored at row \(summary.nextRow)")
        }
        guard let saved = try? engine.snapshot(),
              (try? StreamSnapshot(bytes: saved.serialized()))?.sections == saved.sections else {
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

/// The same shape with other weights and no sequence length: a model of older streams.
let olderModel: LSTMModel = {
    func values(_ count: Int, _ seed: Float) -> [Float] { (0..<count).map { Float($0 % 5) * 0.1 - 0.2 + seed } }
    let parameters = try! LSTMParameters(
        shape: LSTMShape(inputSize: 3, hiddenSize: 2, layers: 1, classes: 2),
        layers: [LSTMLayerParameters(weightIH: values(24, 0), weightHH: values(16, 0.01), biasIH: values(8, 0.02),
                                     biasHH: values(8, 0.03))],
        fcWeight: values(4, 0.04), fcBias: values(2, 0.05))
    return LSTMModel(parameters: parameters, metadata: ModelMetadata(sequenceLength: nil, inputScale: 1))
}()
