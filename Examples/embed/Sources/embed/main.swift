// Streams 100 MNIST test digits through lstmd's engine, row by row and interleaved, takes a
// snapshot half way, restores it into a fresh engine (as a restarted program would) and finishes
// every digit there. Exits 1 when the accuracy is below 95 % or when any restored FINAL differs
// from an uninterrupted run's, 2 on an error.
//
//   swift run --package-path Examples/embed [DIGITS_DIRECTORY]
import Foundation
import LSTMCore
import LSTMDefaultModel
import LSTMStreaming
import MNIST
import WireProtocol

/// Where Tests/Fixtures is, from this file's place in the repository (or the first argument).
let fixtures = CommandLine.arguments.dropFirst().first.map { URL(fileURLWithPath: $0) }
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../../Tests/Fixtures").standardized
/// Stops the program with `error`'s message (not a crash: the usual way a command-line tool fails).
func fail(_ error: any Error) -> Never {
    FileHandle.standardError.write(Data("embed: \(error)\n".utf8))
    exit(2)
}

let digits: MNISTDataset, model: LSTMModel
do {
    digits = try MNISTDataset(split: .test,
                              imagesFile: fixtures.appendingPathComponent("mnist-t10k-100-images-idx3-ubyte.gz"),
                              labelsFile: fixtures.appendingPathComponent("mnist-t10k-100-labels-idx1-ubyte.gz"))
    model = try DefaultModel.load()
} catch { fail(error) }
let width = MNISTDataset.columns
// A step holds 32 streams: with 100 digits, rows are still queued when the snapshot is asked for.
let configuration = EngineConfiguration(maxBatch: 32)

/// Every digit's FINAL probabilities, by stream id; with `snapshotAtRow`, the engine is saved to a
/// file before that row and the rest runs on a fresh engine restored from it.
func classifyAll(snapshotAtRow: Int?) throws -> [String: [Float]] {
    var engine = StreamEngine(model: model, configuration: configuration)
    var finals: [String: [Float]] = [:]
    let collect: (Prediction) -> Void = { if $0.isFinal { finals[$0.stream.string] = Array($0.probabilities) } }
    for row in 0..<MNISTDataset.rows {
        if row == snapshotAtRow {
            engine.drain(collect)   // a snapshot holds no queued rows: apply them first
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("embed-\(getpid()).safetensors")
            defer { try? FileManager.default.removeItem(at: file) }
            try engine.snapshot().write(to: file)
            engine = StreamEngine(model: model, configuration: configuration)
            try engine.restore(StreamSnapshot(contentsOf: file))
            print("snapshot before row \(row): \(engine.liveStreamCount) streams restored")
        }
        for index in 0..<digits.count {
            let pixels = Array(digits.image(at: index).dropFirst(row * width).prefix(width))
            // The sequence number tells a restored sequence from a later one on the same id.
            try engine.submitRow(stream: try StreamID("digit-\(index)"), index: row, sequence: 1, pixels: pixels)
        }
        engine.step(collect)
    }
    engine.drain(collect)
    return finals
}

let uninterrupted: [String: [Float]], restored: [String: [Float]]
do {
    uninterrupted = try classifyAll(snapshotAtRow: nil)
    restored = try classifyAll(snapshotAtRow: 14)
} catch { fail(error) }
let correct = (0..<digits.count).filter { index in
    let probabilities = restored["digit-\(index)"] ?? []
    let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }
    return best == Int(digits.labels[index])
}.count
let accuracy = Double(correct) / Double(digits.count)
let identical = restored == uninterrupted && restored.count == digits.count
print("accuracy \(correct)/\(digits.count) (\(String(format: "%.1f", 100 * accuracy)) %); "
      + "restored FINALs \(identical ? "bit-identical to" : "DIFFER from") an uninterrupted run")
if accuracy < 0.95 || !identical { exit(1) }
