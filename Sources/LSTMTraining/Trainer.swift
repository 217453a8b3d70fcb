import LSTMCore
import Dispatch
import Foundation

/// Hyper-parameters and run settings of one training run.
public struct TrainingOptions: Sendable, Equatable {
    /// num_units: the width of h and c, and of each of the four gate blocks.
    public var hiddenUnits = 128
    public var layers = 1
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// The learning rate is multiplied by this after every epoch (1 = constant).
    public var learningRateDecay: Float = 1
    /// Largest global gradient norm; 0 disables clipping.
    public var clipNorm: Float = 0
    /// When set, the forget-gate biases start at this value (bias_ih) and 0 (bias_hh) instead of
    /// PyTorch's uniform initialisation, as TensorFlow's BasicLSTMCell adds forget_bias 1.0.
    public var forgetBias: Float? = nil
    public var seed: UInt64 = 1
    /// Worker threads: the minibatch is split into this many shards computed in parallel.
    public var threads = 2
    /// Pixel bytes are multiplied by this (1/255 maps them to [0, 1]).
    public var inputScale: Double = 1.0 / 255.0

    public init() {}
}

/// Progress within an epoch, reported after every minibatch.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batchCount: Int
    public let examples: Int
    /// Mean training loss and accuracy over this epoch's batches so far.
    public let meanLoss: Double
    public let accuracy: Double
    public let elapsedSeconds: Double
}

/// What one call of `trainEpoch` did.
public struct EpochSummary: Sendable {
    public let epoch: Int
    /// False when a stop was requested before the epoch's last batch.
    public let completed: Bool
    public let examples: Int
    public let meanLoss: Double
    public let accuracy: Double
    public let seconds: Double
}

/// Trains the LSTM classifier with minibatch Adam and backpropagation through time.
/// Deterministic for a given seed and thread count: the only randomness is `Xoshiro256`.
public final class LSTMTrainer {
    public let options: TrainingOptions
    public let layout: ParameterLayout
    public let trainingSet: LabeledImages
    /// The flat parameter vector (PyTorch names and order, see `layout`).
    public private(set) var parameters: [Float]
    public private(set) var optimizer: AdamOptimizer
    /// Epochs finished so far.
    public private(set) var completedEpochs: Int
    /// The first minibatch of the epoch in progress still to run (non-zero after a stop mid-epoch).
    public private(set) var nextBatch: Int
    /// The generator as it was before shuffling the epoch in progress: resuming reshuffles from
    /// it and gets the same order.
    public private(set) var epochStartGenerator: Xoshiro256

    private let shards: [Shard]
    private var gradients: [Float]
    private let table: [Float]

    /// A fresh run: PyTorch's default initialisation, every tensor U(−1/√H, 1/√H).
    public convenience init(options: TrainingOptions, trainingSet: LabeledImages, classes: Int = 10) {
        let shape = LSTMShape(inputSize: trainingSet.columns, hiddenSize: options.hiddenUnits, layers: options.layers, classes: classes)
        let layout = ParameterLayout(shape: shape)
        var generator = Xoshiro256(seed: options.seed)
        let parameters = Self.initialParameters(layout: layout, forgetBias: options.forgetBias, generator: &generator)
        self.init(options: options, trainingSet: trainingSet, layout: layout, parameters: parameters,
                  optimizer: AdamOptimizer(parameterCount: layout.count, learningRate: options.learningRate),
                  completedEpochs: 0, nextBatch: 0, generator: generator)
    }

    /// Continues a run from its saved state (see `TrainingCheckpoint`).
    public init(options: TrainingOptions, trainingSet: LabeledImages, layout: ParameterLayout, parameters: [Float],
                optimizer: AdamOptimizer, completedEpochs: Int, nextBatch: Int, generator: Xoshiro256) {
        precondition(parameters.count == layout.count)
        self.options = options
        self.layout = layout
        self.trainingSet = trainingSet
        self.parameters = parameters
        self.optimizer = optimizer
        self.completedEpochs = completedEpochs
        self.nextBatch = nextBatch
        self.epochStartGenerator = generator
        let threads = max(1, options.threads)
        let perShard = (options.batchSize + threads - 1) / threads
        shards = (0..<threads).map { _ in
            Shard(layout: layout, sequenceLength: trainingSet.rows, maxBatch: perShard)
        }
        gradients = [Float](repeating: 0, count: layout.count)
        table = pixelTable(scale: options.inputScale)
    }

    /// PyTorch's nn.LSTM and nn.Linear initialisation: U(−1/√H, 1/√H) for every weight and bias
    /// (Linear's kaiming-uniform with a = √5 gives the same bound, 1/√fan_in with fan_in = H).
    static func initialParameters(layout: ParameterLayout, forgetBias: Float?, generator: inout Xoshiro256) -> [Float] {
        let bound = 1 / Float(layout.shape.hiddenSize).squareRoot()
        var parameters = (0..<layout.count).map { _ in generator.uniform(-bound, bound) }
        if let forgetBias {
            let h = layout.shape.hiddenSize
            for k in 0..<layout.shape.layers {
                for j in h..<(2 * h) {
                    parameters[layout.biasIH(k) + j] = forgetBias
                    parameters[layout.biasHH(k) + j] = 0
                }
            }
        }
        return parameters
    }

    /// Minibatches per epoch (the last one may be smaller).
    public var batchesPerEpoch: Int { (trainingSet.count + options.batchSize - 1) / options.batchSize }

    /// Runs the rest of the current epoch (all of it unless resumed mid-epoch), checking
    /// `shouldStop` between minibatches. On a stop the position is kept so that a checkpoint taken
    /// now resumes at the next minibatch.
    public func trainEpoch(shouldStop: () -> Bool = { false }, progress: (BatchProgress) -> Void = { _ in }) -> EpochSummary {
        BLASThreads.set(shards.count > 1 ? 1 : options.threads)
        var generator = epochStartGenerator
        var order = Array(0..<trainingSet.count)
        generator.shuffle(&order)
        let start = Date()
        var lossSum = 0.0, correct = 0, examples = 0, batchesRun = 0
        let epoch = completedEpochs + 1
        while nextBatch < batchesPerEpoch {
            if shouldStop() {
                return EpochSummary(epoch: epoch, completed: false, examples: examples,
                                    meanLoss: lossSum / Double(max(batchesRun, 1)),
                                    accuracy: Double(correct) / Double(max(examples, 1)),
                                    seconds: Date().timeIntervalSince(start))
            }
            let low = nextBatch * options.batchSize
            let indices = order[low..<min(low + options.batchSize, order.count)]
            let (batchLoss, batchCorrect) = step(indices)
            lossSum += batchLoss / Double(indices.count)
            correct += batchCorrect
            examples += indices.count
            batchesRun += 1
            nextBatch += 1
            progress(BatchProgress(epoch: epoch, batch: nextBatch, batchCount: batchesPerEpoch, examples: examples,
                                   meanLoss: lossSum / Double(batchesRun), accuracy: Double(correct) / Double(examples),
                                   elapsedSeconds: Date().timeIntervalSince(start)))
        }
        completedEpochs += 1
        nextBatch = 0
        epochStartGenerator = generator
        optimizer.learningRate *= options.learningRateDecay
        return EpochSummary(epoch: epoch, completed: true, examples: examples,
                            meanLoss: lossSum / Double(max(batchesRun, 1)),
                            accuracy: Double(correct) / Double(max(examples, 1)),
                            seconds: Date().timeIntervalSince(start))
    }

    /// One minibatch: forward and backward on every shard in parallel, gradients summed in shard
    /// order (so the result depends on the thread count, never on scheduling), clipping, Adam.
    /// Returns the summed loss and the number of correct predictions.
    private func step(_ indices: ArraySlice<Int>) -> (Double, Int) {
        let parts = partition(indices, into: shards.count)
        let scale = 1 / Float(indices.count)
        let shards = self.shards, images = trainingSet, table = self.table
        parameters.withUnsafeBufferPointer { p in
            let parameters = p.baseAddress!
            runParallel(parts.count) { s in
                shards[s].run(images: images, indices: parts[s], table: table, parameters: parameters, lossScale: scale)
            }
        }
        var loss = 0.0, correct = 0
        gradients.withUnsafeMutableBufferPointer { g in
            _ = g.update(fromContentsOf: shards[0].gradients)
            for s in 1..<parts.count {
                let other = shards[s].gradients
                for j in 0..<g.count { g[j] += other[j] }
            }
        }
        for s in 0..<parts.count { loss += shards[s].loss; correct += shards[s].correct }
        if options.clipNorm > 0 { clipGradients(&gradients, maxNorm: options.clipNorm) }
        optimizer.update(parameters: &parameters, gradients: gradients)
        return (loss, correct)
    }

    /// Test-set evaluation with the current parameters.
    public func evaluate(_ images: LabeledImages) -> Evaluation {
        Evaluation.run(layout: layout, parameters: parameters, images: images,
                       inputScale: options.inputScale, threads: options.threads)
    }
}

/// Scales `gradients` so that their global L2 norm is at most `maxNorm`, as PyTorch's
/// clip_grad_norm_ (factor maxNorm / (norm + 1e-6) when it is below 1). Returns the norm before.
@discardableResult
func clipGradients(_ gradients: inout [Float], maxNorm: Float) -> Double {
    var sum = 0.0
    for g in gradients { sum += Double(g) * Double(g) }
    let norm = sum.squareRoot()
    let factor = Double(maxNorm) / (norm + 1e-6)
    if factor < 1 {
        let f = Float(factor)
        for j in gradients.indices { gradients[j] *= f }
    }
    return norm
}

/// Contiguous, near-equal, non-empty parts of `indices` (fewer than `count` when it is short).
func partition(_ indices: ArraySlice<Int>, into count: Int) -> [ArraySlice<Int>] {
    let n = indices.count, parts = min(count, n)
    var result: [ArraySlice<Int>] = []
    var low = indices.startIndex
    for s in 0..<parts {
        let size = n / parts + (s < n % parts ? 1 : 0)
        result.append(indices[low..<(low + size)])
        low += size
    }
    return result
}

/// Runs `body(0..<count)` on `count` threads (inline when 1) and waits for all.
func runParallel(_ count: Int, _ body: (Int) -> Void) {
    if count == 1 { body(0); return }
    withoutActuallyEscaping(body) { body in
        let unchecked = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { unchecked.value($0) }
    }
}

/// Hands a value to concurrently running closures that touch disjoint data (each shard its own).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// One thread's share of a minibatch: its workspace, gradient buffer and results.
final class Shard: @unchecked Sendable {
    let workspace: LSTMWorkspace<Float>
    var gradients: [Float]
    var labels: [Int32]
    var loss = 0.0
    var correct = 0

    init(layout: ParameterLayout, sequenceLength: Int, maxBatch: Int) {
        workspace = LSTMWorkspace(layout: layout, sequenceLength: sequenceLength, maxBatch: maxBatch)
        gradients = [Float](repeating: 0, count: layout.count)
        labels = [Int32](repeating: 0, count: maxBatch)
    }

    /// Forward and backward on `indices`; gradients scaled by `lossScale`.
    func run(images: LabeledImages, indices: ArraySlice<Int>, table: [Float], parameters: UnsafePointer<Float>, lossScale: Float) {
        let batch = indices.count
        workspace.loadInput(images, indices: indices, table: table)
        for (b, index) in indices.enumerated() { labels[b] = Int32(images.labels[index]) }
        workspace.forward(parameters: parameters, batch: batch)
        correct = 0
        for b in 0..<batch where workspace.prediction(b) == Int(labels[b]) { correct += 1 }
        labels.withUnsafeBufferPointer { labels in
            loss = workspace.lossSum(labels: labels.baseAddress!, batch: batch)
            gradients.withUnsafeMutableBufferPointer { g in
                workspace.backward(parameters: parameters, labels: labels.baseAddress!, batch: batch,
                                   lossScale: lossScale, gradients: g.baseAddress!)
            }
        }
    }
}
