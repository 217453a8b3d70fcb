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
    try makeRandomModel(inputSize: 28, hidden: hidden, layers: 1, classes: 10, sequenceLength: 28,
                        inputScale: 1 / 255, seed: seed)
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
    offlineProbabilities(model, digits: digits).map { rows in
        var answer = OfflineAnswer(argmax: [], margin: [])
        for probabilities in rows {
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 > $1) }!
            let second = probabilities.indices.filter { $0 != best }.map { probabilities[$0] }.max()!
            answer.argmax.append(best)
            answer.margin.append(probabilities[best] - second)
        }
        return answer
    }
}

/// Parses one line of JSON output into a dictionary.
func jsonObject(_ line: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(line)")
    }
    return object
}
