import LSTMCore
import MNIST

/// The first `count` MNIST test digits (at most 1,000): Tests/Fixtures holds the first 100 and the
/// first 1,000 of t10k (lstm-client's built-in 50 are the first half of the 100).
public func fixtureDigits(_ count: Int = 100) throws -> MNISTDataset {
    let size = count <= 100 ? 100 : 1000
    return try MNISTDataset(split: .test, imagesFile: Fixtures.url("mnist-t10k-\(size)-images-idx3-ubyte.gz"),
                            labelsFile: Fixtures.url("mnist-t10k-\(size)-labels-idx1-ubyte.gz")).prefix(count)
}

/// The probabilities after every row of one image, the stream stepped alone: what each PARTIAL and
/// the FINAL must be, bit for bit, however the daemon batched it (the kernels are batch-invariant).
/// Pixels are scaled by the model's input scale, as the daemon scales uint8 rows.
public func offlineProbabilities(_ model: LSTMModel, pixels: some Collection<UInt8>) -> [[Float]] {
    let stepper = model.makeStepper(maxBatch: 1)
    let inputs = model.shape.inputSize
    let pixels = Array(pixels)
    var state = [Float](repeating: 0, count: model.shape.stateCount)
    var probabilities = [Float](repeating: 0, count: model.shape.classes)
    return stride(from: 0, to: pixels.count, by: inputs).map { start in
        let input = pixels[start..<(start + inputs)].map { Float($0) * model.metadata.inputScale }
        state.withUnsafeMutableBufferPointer { s in
            stepper.step(input: input, state: s.baseAddress!, probabilities: &probabilities)
        }
        return probabilities
    }
}

/// ``offlineProbabilities(_:pixels:)`` for every digit of `digits`.
public func offlineProbabilities(_ model: LSTMModel, digits: MNISTDataset) -> [[[Float]]] {
    (0..<digits.count).map { offlineProbabilities(model, pixels: digits.image(at: $0)) }
}
