import DaemonTestSupport
import Foundation
import LSTMClientKit
import LSTMCore
import MNIST
import TestSupport
import WireProtocol

/// A random MNIST-shaped model written to `directory` and read back: the daemon and the offline
/// stepper then use the very same weights.
func servedModel(in directory: URL, seed: UInt64) throws -> (model: LSTMModel, path: String) {
    let model = try makeRandomModel(inputSize: 28, hidden: 16, layers: 1, classes: 10, sequenceLength: 28,
                                    inputScale: 1 / 255, seed: seed)
    let file = directory.appendingPathComponent("model-\(seed).safetensors")
    try model.write(to: file)
    return (try LSTMModel.load(contentsOf: file), file.path)
}

/// The first 100 MNIST test digits (Tests/Fixtures).
func fixtureDigits() throws -> MNISTDataset {
    try MNISTDataset(split: .test, imagesFile: Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz"),
                     labelsFile: Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz"))
}

/// The 28 rows of digit `index`.
func rows(of digits: MNISTDataset, _ index: Int) -> [ArraySlice<UInt8>] {
    let image = Array(digits.image(at: index))
    return (0..<28).map { image[($0 * 28)..<($0 * 28 + 28)] }
}

/// Offline probabilities after every row of every digit (one stream, the engine's stepper): what
/// each PARTIAL and FINAL must be, bit for bit (the kernels are batch-invariant).
func offlineProbabilities(_ model: LSTMModel, digits: MNISTDataset) -> [[[Float]]] {
    let stepper = model.makeStepper(maxBatch: 1)
    var state = [Float](repeating: 0, count: model.shape.stateCount)
    var probabilities = [Float](repeating: 0, count: model.shape.classes)
    return (0..<digits.count).map { index in
        state.withUnsafeMutableBufferPointer { stepper.resetState($0.baseAddress!) }
        return rows(of: digits, index).map { row in
            let input = row.map { Float($0) * model.metadata.inputScale }
            state.withUnsafeMutableBufferPointer { s in
                stepper.step(input: input, state: s.baseAddress!, probabilities: &probabilities)
            }
            return probabilities
        }
    }
}

/// Equal bit patterns (not merely equal values).
func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

extension DaemonProcess {
    var endpoints: DaemonEndpoints {
        DaemonEndpoints(ingest: ingest, predictions: predictions, control: control, results: results)
    }
}
