import ArgumentParser
import Dispatch
import Foundation
import LSTMCore
import LSTMTraining
import MNIST
import Synchronization

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the LSTM on MNIST and write a safetensors model.",
        discussion: """
        Minibatch Adam with backpropagation through time over the 28 row steps, softmax cross-entropy on the last step. A checkpoint (parameters, Adam moments, epoch, PRNG state) is written at every epoch end; Ctrl-C saves one at the current minibatch and stops. --resume continues from it to the same result as an uninterrupted run (hyper-parameters come from the checkpoint).

        Examples:
          lstm-train train --data mnist --epochs 5 --out mnist-128.safetensors
          lstm-train train --data mnist --limit 6000 --out quick.safetensors
          lstm-train train --data mnist --epochs 20 --out mnist-128.safetensors --resume
        """)

    @Option(help: "MNIST directory (default: $LSTMD_MNIST_DIR).")
    var data: String?
    @Option(name: .customLong("hidden-units"), help: "num_units: the width of h and c, and of each gate block.")
    var hiddenUnits = 128
    @Option(help: "Stacked LSTM layers.")
    var layers = 1
    @Option(help: "Total epochs (a resumed run stops after this many in all).")
    var epochs = 10
    @Option(name: .customLong("batch-size"), help: "Minibatch size.")
    var batchSize = 128
    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3
    @Option(name: .customLong("lr-decay"), help: "Multiply the learning rate by this after every epoch (1 = constant).")
    var lrDecay: Float = 1
    @Option(help: "Clip gradients to this global L2 norm (0 disables).")
    var clip: Float = 0
    @Option(name: .customLong("forget-bias"), help: "Start the forget-gate bias at this value (as TensorFlow's BasicLSTMCell, e.g. 1.0) instead of PyTorch's random init.")
    var forgetBias: Float?
    @Option(help: "Seed of the PRNG (initialisation and shuffling).")
    var seed: UInt64 = 1
    @Option(help: "Worker threads; results are deterministic for a given seed and thread count.")
    var threads = 2
    @Option(help: "Train on the first N training images only (a slice for quick runs).")
    var limit: Int?
    @Option(help: "Where to write the trained model.")
    var out: String
    @Option(help: "Checkpoint file (default: <out>.checkpoint).")
    var checkpoint: String?
    @Flag(help: "Continue from the checkpoint.")
    var resume = false

    func validate() throws {
        guard hiddenUnits >= 1 && hiddenUnits <= 4096 else { throw ValidationError("--hidden-units must be 1…4096, got \(hiddenUnits)") }
        guard layers >= 1 && layers <= 16 else { throw ValidationError("--layers must be 1…16, got \(layers)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard lr.isFinite && lr > 0 else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        guard lrDecay.isFinite && lrDecay > 0 && lrDecay <= 1 else { throw ValidationError("--lr-decay must be in (0, 1], got \(lrDecay)") }
        guard clip.isFinite && clip >= 0 else { throw ValidationError("--clip must be ≥ 0 (0 disables), got \(clip)") }
        if let forgetBias { guard forgetBias.isFinite else { throw ValidationError("--forget-bias must be finite") } }
        guard threads >= 1 && threads <= 64 else { throw ValidationError("--threads must be 1…64, got \(threads)") }
        if let limit { guard limit >= 1 else { throw ValidationError("--limit must be at least 1, got \(limit)") } }
    }

    var checkpointPath: String { checkpoint ?? out + ".checkpoint" }

    func run() throws {
        try checkWritable(out, what: "model")
        try checkWritable(checkpointPath, what: "checkpoint")
        let trainDataset = try loadMNIST(data, split: .train)
        let testDataset = try loadMNIST(data, split: .test)
        var trainingSet = LabeledImages(trainDataset)
        if let limit { trainingSet = trainingSet.prefix(limit) }
        let testSet = LabeledImages(testDataset)

        var options = TrainingOptions()
        options.hiddenUnits = hiddenUnits
        options.layers = layers
        options.batchSize = batchSize
        options.learningRate = lr
        options.learningRateDecay = lrDecay
        options.clipNorm = clip
        options.forgetBias = forgetBias
        options.seed = seed
        options.threads = threads

        let trainer: LSTMTrainer
        if resume {
            let url = URL(fileURLWithPath: checkpointPath)
            let saved = try TrainingCheckpoint.load(contentsOf: url)
            trainer = try saved.makeTrainer(trainingSet: trainingSet, path: checkpointPath)
            print("resuming \(checkpointPath): \(saved.completedEpochs) epoch(s) done"
                  + (saved.nextBatch > 0 ? ", epoch \(saved.completedEpochs + 1) at minibatch \(saved.nextBatch + 1)" : "")
                  + "; hyper-parameters from the checkpoint")
        } else {
            trainer = LSTMTrainer(options: options, trainingSet: trainingSet)
        }
        let o = trainer.options
        print("training \(trainer.layout.count) parameters (H = \(o.hiddenUnits), \(o.layers) layer(s)) on \(trainingSet.count) images, "
              + "batch \(o.batchSize), lr \(o.learningRate), \(o.threads) thread(s), seed \(o.seed)")

        let stop = StopFlag()
        #if canImport(Darwin)
        signal(SIGINT, SIG_IGN)  // kqueue still reports it; on Linux libdispatch installs its own handler
        #endif
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { stop.request() }
        interrupt.resume()

        let progress = ProgressPrinter()
        var trainingSeconds = 0.0
        var lastAccuracy: Double?
        while trainer.completedEpochs < epochs {
            let summary = trainer.trainEpoch(shouldStop: { stop.isRequested }) { progress.report($0, totalEpochs: epochs) }
            trainingSeconds += summary.seconds
            if !summary.completed {
                progress.finishLine()
                try TrainingCheckpoint(trainer: trainer).write(to: URL(fileURLWithPath: checkpointPath))
                print("interrupted: checkpoint saved to \(checkpointPath) at epoch \(summary.epoch), minibatch \(trainer.nextBatch + 1); continue with --resume")
                throw ExitCode(130)
            }
            let evaluation = trainer.evaluate(testSet)
            lastAccuracy = evaluation.accuracy
            try TrainingCheckpoint(trainer: trainer).write(to: URL(fileURLWithPath: checkpointPath))
            print(String(format: "epoch %d: %.1f s, train loss %.4f, train accuracy %@, test accuracy %@ (%d/%d)",
                         summary.epoch, summary.seconds, summary.meanLoss, percent(summary.accuracy),
                         percent(evaluation.accuracy), evaluation.correct, evaluation.count))
        }
        let accuracy = lastAccuracy ?? trainer.evaluate(testSet).accuracy
        let model = LSTMModel(parameters: trainer.layout.modelParameters(trainer.parameters),
                              metadata: metadata(trainer: trainer, testAccuracy: accuracy, testCount: testSet.count))
        try model.write(to: URL(fileURLWithPath: out))
        print("wrote \(out): test accuracy \(percent(accuracy)), \(trainer.completedEpochs) epoch(s), "
              + String(format: "%.1f s training in this run", trainingSeconds))
    }

    private func metadata(trainer: LSTMTrainer, testAccuracy: Double, testCount: Int) -> ModelMetadata {
        let o = trainer.options
        let hyper: [String: String] = [
            "hidden_units": String(o.hiddenUnits), "layers": String(o.layers), "batch_size": String(o.batchSize),
            "optimizer": "adam", "learning_rate": String(o.learningRate), "learning_rate_decay": String(o.learningRateDecay),
            "beta1": "0.9", "beta2": "0.999", "epsilon": "1e-08", "clip_norm": String(o.clipNorm),
            "forget_bias": o.forgetBias.map { String($0) } ?? "none", "seed": String(o.seed), "threads": String(o.threads),
            "training_images": String(trainer.trainingSet.count), "loss": "softmax cross-entropy on the last step",
        ]
        let checksums = Dictionary(uniqueKeysWithValues: MNISTFile.allCases.map { ($0.name, $0.canonicalSHA256) })
        return ModelMetadata(sequenceLength: 28, inputScale: Float(o.inputScale),
                             labels: ModelMetadata.defaultLabels(classes: 10),
                             provenance: [
                                ModelMetadata.Key.dataset: "MNIST",
                                ModelMetadata.Key.datasetSHA256: json(checksums),
                                ModelMetadata.Key.epochs: String(trainer.completedEpochs),
                                ModelMetadata.Key.hyperparameters: json(hyper),
                                ModelMetadata.Key.testAccuracy: String(format: "%.4f", testAccuracy),
                                "test_images": String(testCount),
                                ModelMetadata.Key.created: ISO8601DateFormatter().string(from: Date()),
                                ModelMetadata.Key.trainer: "lstm-train",
                             ])
    }
}

func json(_ map: [String: String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(map)) ?? Data(), as: UTF8.self)
}

/// Set from the SIGINT handler, read between minibatches.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func request() { flag.store(true, ordering: .relaxed) }
    var isRequested: Bool { flag.load(ordering: .relaxed) }
}
