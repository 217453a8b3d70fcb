import ArgumentParser
import Foundation
import LSTMCore
import LSTMTraining
import TerminalOutput

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one model per num_units value and report accuracy, size, time and step latency.",
        discussion: """
        Writes sweep.md (a Markdown table: num_units, parameters, test accuracy, training time, and the median latency of one single-row step at B = 1 with LSTMStepper) and sweep.svg (accuracy against num_units on a log₂ axis) into --out-dir, with each model as units-H.safetensors. On a terminal, standard error shows which model is training and how far it is.

        Example:
          lstm-train sweep --data mnist --units 16,64,256 --epochs 2 --out-dir sweep
        """)

    @Option(help: "Comma-separated num_units values.")
    var units = "8,16,32,64,128,256"
    @Option(help: "Epochs per model.")
    var epochs = 1
    @Option(help: "MNIST directory (default: $LSTMD_MNIST_DIR).")
    var data: String?
    @Option(name: .customLong("out-dir"), help: "Directory for the report and the models (created if needed).")
    var outDir: String
    @Option(name: .customLong("batch-size"), help: "Minibatch size.")
    var batchSize = 128
    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3
    @Option(help: "Seed of the PRNG.")
    var seed: UInt64 = 1
    @Option(help: "Worker threads for training.")
    var threads = 2
    @Option(help: "Train on the first N training images only.")
    var limit: Int?

    var unitValues: [Int] { units.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        let parts = units.split(separator: ",")
        guard !parts.isEmpty, unitValues.count == parts.count, unitValues.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
            throw ValidationError("--units must be comma-separated integers 1…4096, got \"\(units)\"")
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr.isFinite && lr > 0 else { throw ValidationError("--lr must be a positive number") }
        guard threads >= 1 && threads <= 64 else { throw ValidationError("--threads must be 1…64") }
        if let limit { guard limit >= 1 else { throw ValidationError("--limit must be at least 1") } }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: outDir)
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CommandError("cannot create --out-dir \(outDir): \((error as NSError).localizedDescription)")
        }
        try checkWritable(directory.appendingPathComponent("sweep.md").path, what: "report")
        var trainingSet = LabeledImages(try loadMNIST(data, split: .train))
        if let limit { trainingSet = trainingSet.prefix(limit) }
        let testSet = LabeledImages(try loadMNIST(data, split: .test))

        // Where the sweep stands, on standard error of a terminal that moves the cursor: the lines
        // on standard output stay the results.
        let progress = Terminal.isCapable(STDERR_FILENO) ? ProgressLine() : nil
        var results: [SweepResult] = []
        for (index, h) in unitValues.enumerated() {
            let title = "H = \(h) (model \(index + 1) of \(unitValues.count))"
            var options = TrainingOptions()
            options.hiddenUnits = h
            options.batchSize = batchSize
            options.learningRate = lr
            options.seed = seed
            options.threads = threads
            let trainer = LSTMTrainer(options: options, trainingSet: trainingSet)
            var seconds = 0.0
            for _ in 0..<epochs {
                seconds += trainer.trainEpoch(progress: { batch in
                    progress?.update(now: DispatchTime.now().uptimeNanoseconds) {
                        String(format: "%@: epoch %d/%d, batch %d/%d, loss %.4f, accuracy %@", title, batch.epoch, epochs,
                               batch.batch, batch.batchCount, batch.meanLoss, percent(batch.accuracy))
                    }
                }).seconds
            }
            progress?.update(now: DispatchTime.now().uptimeNanoseconds) { "\(title): testing" }
            let accuracy = trainer.evaluate(testSet).accuracy
            progress?.finish()
            let trained = LSTMModel(parameters: trainer.layout.modelParameters(trainer.parameters),
                                    metadata: ModelMetadata(sequenceLength: 28, inputScale: Float(options.inputScale),
                                                            provenance: ["epochs": String(epochs), "trainer": "lstm-train sweep",
                                                                         "test_accuracy": String(format: "%.4f", accuracy)]))
            try trained.write(to: directory.appendingPathComponent("units-\(h).safetensors"))
            let latency = stepLatencyMicroseconds(trained)
            let result = SweepResult(hiddenUnits: h, parameterCount: trainer.layout.count, testAccuracy: accuracy,
                                     trainingSeconds: seconds, stepMicroseconds: latency)
            results.append(result)
            print(String(format: "H = %4d: %7d parameters, test accuracy %@, %.1f s training, row step %.1f µs",
                         h, result.parameterCount, percent(accuracy), seconds, latency))
        }
        try SweepReport.markdown(results, epochs: epochs).write(to: directory.appendingPathComponent("sweep.md"), atomically: true, encoding: .utf8)
        try SweepReport.svg(results, epochs: epochs).write(to: directory.appendingPathComponent("sweep.svg"), atomically: true, encoding: .utf8)
        print("wrote \(directory.appendingPathComponent("sweep.md").path) and sweep.svg")
    }

    /// Median wall time of one `step` (one stream, one row) over 50 digits' worth of rows.
    private func stepLatencyMicroseconds(_ model: LSTMModel) -> Double {
        BLASThreads.set(1)
        let stepper = model.makeStepper(maxBatch: 1)
        let s = model.shape
        var state = [Float](repeating: 0, count: s.stateCount)
        var row = [Float](repeating: 0.5, count: s.inputSize)
        var probabilities = [Float](repeating: 0, count: s.classes)
        var samples: [Double] = []
        samples.reserveCapacity(50 * 28)
        state.withUnsafeMutableBufferPointer { state in
            probabilities.withUnsafeMutableBufferPointer { probabilities in
                row.withUnsafeMutableBufferPointer { row in
                    for digit in 0..<50 {
                        stepper.resetState(state.baseAddress!)
                        for step in 0..<28 {
                            row[step % row.count] = Float(digit % 7) / 7
                            let start = DispatchTime.now().uptimeNanoseconds
                            stepper.step(input: row.baseAddress!, state: state.baseAddress!, probabilities: probabilities.baseAddress!)
                            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
                        }
                    }
                }
            }
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
