import DaemonTestSupport
import Foundation
import LSTMCore
import MNIST
import TestSupport
import WireProtocol

/// What a finished `lstm-client` process left behind.
typealias ClientRun = ProcessResult

/// Starts `lstm-client arguments` without `LSTMD_MNIST_DIR`, so that the built-in digits are used.
func clientProcess(_ arguments: [String]) throws -> ChildProcess {
    try ChildProcess(Fixtures.productsDirectory.appendingPathComponent("lstm-client"), arguments, unsetting: ["LSTMD_MNIST_DIR"])
}

/// Runs `lstm-client arguments` to completion.
func runClient(_ arguments: [String], seconds: Double = 120) throws -> ClientRun {
    try clientProcess(arguments).finish(seconds: seconds)
}

extension DaemonProcess {
    /// The endpoint options that point `lstm-client` at this daemon.
    var clientEndpoints: [String] {
        ["--ingest", ingest, "--predictions", predictions, "--control", control, "--results", results]
    }
}

/// A deterministic random MNIST-shaped model (28 inputs, 10 classes, 28 rows, pixels scaled by
/// 1/255): the protocol checks do not need trained weights, only the same weights on both sides.
func makeModel(seed: UInt64 = 7, hidden: Int = 16) throws -> LSTMModel {
    var rng = SplitMix64(state: seed)
    func next() -> Float { rng.nextUnit() * 2 - 1 }
    func values(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
    let layer = LSTMLayerParameters(weightIH: values(4 * hidden * 28), weightHH: values(4 * hidden * hidden),
                                    biasIH: values(4 * hidden), biasHH: values(4 * hidden))
    let parameters = try LSTMParameters(
        shape: LSTMShape(inputSize: 28, hiddenSize: hidden, layers: 1, classes: 10),
        layers: [layer], fcWeight: values(10 * hidden).map { $0 * 3 }, fcBias: values(10))
    return LSTMModel(parameters: parameters, metadata: ModelMetadata(sequenceLength: 28, inputScale: 1 / 255))
}

/// A real daemon serving `model`, in a temporary directory that holds the model file and the
/// ipc endpoints; the directory is removed when the test is done with it.
final class ModelDaemon {
    let daemon: DaemonProcess
    private let directory: URL

    init(_ model: LSTMModel) throws {
        directory = try DaemonProcess.makeTemporaryDirectory()
        let file = directory.appendingPathComponent("model.safetensors")
        try model.write(to: file)
        daemon = try DaemonProcess(arguments: ["--model", file.path], directory: directory)
    }

    deinit {
        daemon.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The endpoint options that point `lstm-client` at this daemon.
    var endpoints: [String] { daemon.clientEndpoints }
}

/// The engine's answer for one digit, computed offline: per row, the argmax and the gap between
/// the two largest probabilities (tiny gaps may flip between the daemon's batched and this
/// single-stream arithmetic, so comparisons skip them).
struct OfflineAnswer {
    var argmax: [Int]
    var margin: [Float]

    var finalClass: Int { argmax[argmax.count - 1] }
    var finalMargin: Float { margin[margin.count - 1] }
}

func offlineAnswers(_ model: LSTMModel, digits: MNISTDataset) -> [OfflineAnswer] {
    let stepper = model.makeStepper(maxBatch: 1)
    let scale = model.metadata.inputScale
    let state = UnsafeMutablePointer<Float>.allocate(capacity: model.shape.stateCount)
    defer { state.deallocate() }
    var input = [Float](repeating: 0, count: 28)
    var probabilities = [Float](repeating: 0, count: model.shape.classes)
    return (0..<digits.count).map { index in
        stepper.resetState(state)
        let pixels = Array(digits.image(at: index))
        var answer = OfflineAnswer(argmax: [], margin: [])
        for row in 0..<28 {
            for column in 0..<28 { input[column] = Float(pixels[row * 28 + column]) * scale }
            stepper.step(input: input, state: state, probabilities: &probabilities)
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 > $1) }!
            let second = probabilities.indices.filter { $0 != best }.map { probabilities[$0] }.max()!
            answer.argmax.append(best)
            answer.margin.append(probabilities[best] - second)
        }
        return answer
    }
}

/// The first 100 MNIST test digits (Tests/Fixtures); the client's 50 built-in digits are their first half.
func fixtureDigits() throws -> MNISTDataset {
    try MNISTDataset(split: .test, imagesFile: Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz"),
                     labelsFile: Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz"))
}

/// Parses one line of JSON output into a dictionary.
func jsonObject(_ line: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(line)")
    }
    return object
}
