import Foundation
import LSTMCore

/// Errors of checkpoint files, naming the file and what was wrong with it.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case incompatible(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read checkpoint \(path): \(reason)"
        case let .malformed(path, reason): "\(path) is not a usable lstm-train checkpoint: \(reason)"
        case let .unwritable(path, reason): "cannot write checkpoint \(path): \(reason)"
        case let .incompatible(path, reason): "checkpoint \(path) does not match this run: \(reason)"
        }
    }
}

/// Everything needed to continue a run exactly where it stopped: parameters, Adam's moments and
/// step, the epoch position and the PRNG state, with the hyper-parameters. Stored as safetensors
/// (tensors `parameters`, `adam.m`, `adam.v`; the rest in the metadata).
public struct TrainingCheckpoint: Sendable {
    public var options: TrainingOptions
    public var shape: LSTMShape
    public var parameters: [Float]
    public var optimizer: AdamOptimizer
    public var completedEpochs: Int
    public var nextBatch: Int
    public var generator: Xoshiro256
    /// The training-set size the run was on (a resume must use the same set).
    public var trainingCount: Int

    static let format = "lstm-train-checkpoint"

    public init(trainer: LSTMTrainer) {
        options = trainer.options
        shape = trainer.layout.shape
        parameters = trainer.parameters
        optimizer = trainer.optimizer
        completedEpochs = trainer.completedEpochs
        nextBatch = trainer.nextBatch
        generator = trainer.epochStartGenerator
        trainingCount = trainer.trainingSet.count
    }

    /// A trainer that continues this run on `trainingSet` (which must be the same set).
    public func makeTrainer(trainingSet: LabeledImages, path: String) throws(CheckpointError) -> LSTMTrainer {
        guard trainingSet.count == trainingCount else {
            throw .incompatible(path: path, reason: "it was made on \(trainingCount) training images, this run has \(trainingSet.count)")
        }
        return LSTMTrainer(options: options, trainingSet: trainingSet, layout: ParameterLayout(shape: shape),
                           parameters: parameters, optimizer: optimizer, completedEpochs: completedEpochs,
                           nextBatch: nextBatch, generator: generator)
    }

    public func serialized() -> [UInt8] {
        let n = parameters.count
        let g = generator.state
        let metadata: [String: String] = [
            "format": Self.format,
            "input_size": String(shape.inputSize), "hidden_units": String(shape.hiddenSize),
            "layers": String(shape.layers), "classes": String(shape.classes),
            "batch_size": String(options.batchSize), "learning_rate": String(options.learningRate),
            "learning_rate_decay": String(options.learningRateDecay), "clip_norm": String(options.clipNorm),
            "forget_bias": options.forgetBias.map { String($0) } ?? "none",
            "seed": String(options.seed), "threads": String(options.threads),
            "input_scale": String(options.inputScale),
            "adam_learning_rate": String(optimizer.learningRate), "adam_beta1": String(optimizer.beta1),
            "adam_beta2": String(optimizer.beta2), "adam_epsilon": String(optimizer.epsilon),
            "adam_step": String(optimizer.step),
            "completed_epochs": String(completedEpochs), "next_batch": String(nextBatch),
            "rng_state": [g.0, g.1, g.2, g.3].map { String($0, radix: 16) }.joined(separator: ","),
            "training_count": String(trainingCount),
        ]
        return SafetensorsFile(tensors: [
            "parameters": SafetensorsTensor(shape: [n], values: parameters),
            "adam.m": SafetensorsTensor(shape: [n], values: optimizer.firstMoment),
            "adam.v": SafetensorsTensor(shape: [n], values: optimizer.secondMoment),
        ], metadata: metadata).serialized()
    }

    /// Writes the checkpoint to a temporary file beside `url`, then renames it over `url`, so an
    /// interrupted write never leaves a damaged checkpoint.
    public func write(to url: URL) throws(CheckpointError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(serialized()).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .unwritable(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    public static func load(contentsOf url: URL) throws(CheckpointError) -> TrainingCheckpoint {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        let path = url.path
        let file: SafetensorsFile
        do { file = try SafetensorsFile(bytes: bytes) } catch {
            throw .malformed(path: path, reason: error.description)
        }
        let m = file.metadata
        guard m["format"] == format else { throw .malformed(path: path, reason: "metadata format is not \(format)") }
        func value<T: LosslessStringConvertible>(_ key: String) throws(CheckpointError) -> T {
            guard let text = m[key], let value = T(text) else {
                throw .malformed(path: path, reason: "metadata \(key) missing or invalid")
            }
            return value
        }
        func tensor(_ name: String) throws(CheckpointError) -> [Float] {
            guard let t = file.tensors[name] else { throw .malformed(path: path, reason: "tensor \(name) missing") }
            return t.values
        }
        let shape = LSTMShape(inputSize: try value("input_size"), hiddenSize: try value("hidden_units"),
                              layers: try value("layers"), classes: try value("classes"))
        var options = TrainingOptions()
        options.hiddenUnits = shape.hiddenSize
        options.layers = shape.layers
        options.batchSize = try value("batch_size")
        options.learningRate = try value("learning_rate")
        options.learningRateDecay = try value("learning_rate_decay")
        options.clipNorm = try value("clip_norm")
        options.forgetBias = m["forget_bias"] == "none" ? nil : try value("forget_bias") as Float
        options.seed = try value("seed")
        options.threads = try value("threads")
        options.inputScale = try value("input_scale")
        let words = (m["rng_state"] ?? "").split(separator: ",").compactMap { UInt64($0, radix: 16) }
        guard words.count == 4 else { throw .malformed(path: path, reason: "metadata rng_state missing or invalid") }
        let parameters = try tensor("parameters")
        guard parameters.count == ParameterLayout(shape: shape).count else {
            throw .malformed(path: path, reason: "\(parameters.count) parameters for a model of \(ParameterLayout(shape: shape).count)")
        }
        let firstMoment = try tensor("adam.m"), secondMoment = try tensor("adam.v")
        guard firstMoment.count == parameters.count, secondMoment.count == parameters.count else {
            throw .malformed(path: path, reason: "Adam moments do not match the parameters")
        }
        let optimizer = AdamOptimizer(learningRate: try value("adam_learning_rate"), beta1: try value("adam_beta1"),
                                      beta2: try value("adam_beta2"), epsilon: try value("adam_epsilon"),
                                      step: try value("adam_step"), firstMoment: firstMoment, secondMoment: secondMoment)
        return TrainingCheckpoint(options: options, shape: shape, parameters: parameters, optimizer: optimizer,
                                  completedEpochs: try value("completed_epochs"), nextBatch: try value("next_batch"),
                                  generator: Xoshiro256(state: (words[0], words[1], words[2], words[3])),
                                  trainingCount: try value("training_count"))
    }

    init(options: TrainingOptions, shape: LSTMShape, parameters: [Float], optimizer: AdamOptimizer,
         completedEpochs: Int, nextBatch: Int, generator: Xoshiro256, trainingCount: Int) {
        self.options = options
        self.shape = shape
        self.parameters = parameters
        self.optimizer = optimizer
        self.completedEpochs = completedEpochs
        self.nextBatch = nextBatch
        self.generator = generator
        self.trainingCount = trainingCount
    }
}
