import DaemonTestSupport
import Foundation
import LSTMModel
import MNIST
import TestSupport
import WireProtocol

/// What a finished `lstm-client` process left behind.
struct ClientRun {
    var status: Int32
    /// False when a signal ended the process (then `status` is the signal number).
    var exitedNormally: Bool
    var stdout: String
    var stderr: String

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// A running `lstm-client` process whose output is collected while it runs.
final class ClientProcess: @unchecked Sendable {
    // @unchecked: the buffers are guarded by `lock`; the Process is touched by the owning test only.
    let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    /// Starts `lstm-client arguments` without `LSTMD_MNIST_DIR`, so that the built-in digits are used.
    init(_ arguments: [String]) throws {
        process.executableURL = Fixtures.productsDirectory.appendingPathComponent("lstm-client")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LSTMD_MNIST_DIR"] = nil
        process.environment = environment
        process.standardOutput = outPipe
        process.standardError = errPipe
        outPipe.fileHandleForReading.readabilityHandler = { [lock] handle in
            let chunk = handle.availableData
            lock.lock()
            self.out.append(chunk)
            lock.unlock()
        }
        errPipe.fileHandleForReading.readabilityHandler = { [lock] handle in
            let chunk = handle.availableData
            lock.lock()
            self.err.append(chunk)
            lock.unlock()
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
    }

    var stderrSoFar: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

    /// Waits until standard error contains `text` (at most `seconds`).
    func waitForStderr(containing text: String, seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stderrSoFar.contains(text) { return }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        throw HarnessError("lstm-client did not write \"\(text)\" to stderr; it wrote: \(stderrSoFar)")
    }

    /// Waits for the process to exit (killing it after `seconds`) and returns what it wrote.
    func finish(seconds: Double = 120) throws -> ClientRun {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("lstm-client \(process.arguments ?? []) still running after \(seconds) s; stderr: \(stderrSoFar)")
        }
        process.waitUntilExit()
        // Collect what is still in the pipes once the writer has gone.
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
        let restOut = outPipe.fileHandleForReading.readDataToEndOfFile()
        let restErr = errPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        defer { lock.unlock() }
        out.append(restOut)
        err.append(restErr)
        return ClientRun(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit, stdout: String(decoding: out, as: UTF8.self),
                         stderr: String(decoding: err, as: UTF8.self))
    }
}

/// Runs `lstm-client arguments` to completion.
func runClient(_ arguments: [String], seconds: Double = 120) throws -> ClientRun {
    try ClientProcess(arguments).finish(seconds: seconds)
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
    var state = seed
    func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24) * 2 - 1
    }
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
