import Foundation
import LSTMCore
import MNIST
import Testing
import TestSupport
@testable import LSTMTraining

/// The committed 1,000 MNIST test digits, used here as a small training set.
private func fixtureTrainingSet(_ count: Int = 1000) throws -> LabeledImages {
    let dataset = try MNISTDataset(split: .test,
                                   imagesFile: Fixtures.url("mnist-t10k-\(count)-images-idx3-ubyte.gz"),
                                   labelsFile: Fixtures.url("mnist-t10k-\(count)-labels-idx1-ubyte.gz"))
    return LabeledImages(dataset)
}

private func tinyOptions(threads: Int = 2) -> TrainingOptions {
    var options = TrainingOptions()
    options.hiddenUnits = 12
    options.batchSize = 50
    options.learningRate = 5e-3
    options.threads = threads
    options.seed = 42
    return options
}

@Test func trainingLossDecreases() throws {
    let digits = try fixtureTrainingSet()
    var options = tinyOptions()
    options.learningRate = 1e-2
    let trainer = LSTMTrainer(options: options, trainingSet: digits)
    let first = trainer.trainEpoch()
    var last = first
    for _ in 0..<4 { last = trainer.trainEpoch() }
    #expect(first.completed && last.completed)
    #expect(first.examples == 1000)
    #expect(last.meanLoss < first.meanLoss * 0.7, "loss \(first.meanLoss) → \(last.meanLoss)")
    #expect(last.accuracy > 0.5, "training accuracy \(last.accuracy)")
    #expect(trainer.completedEpochs == 5)
    #expect(trainer.optimizer.step == 5 * 20)
}

@Test func trainingIsDeterministicForSeedAndThreadCount() throws {
    let digits = try fixtureTrainingSet().prefix(200)
    func run(seed: UInt64, threads: Int) -> [Float] {
        var options = tinyOptions(threads: threads)
        options.seed = seed
        let trainer = LSTMTrainer(options: options, trainingSet: digits)
        _ = trainer.trainEpoch()
        return trainer.parameters
    }
    let a = run(seed: 42, threads: 2)
    #expect(a == run(seed: 42, threads: 2))
    #expect(a != run(seed: 43, threads: 2))
    // One thread sums the gradient in another order: close, not necessarily identical.
    let single = run(seed: 42, threads: 1)
    #expect(zip(a, single).allSatisfy { abs($0 - $1) < 1e-3 })
}

@Test func resumingFromCheckpointsGivesTheSameParametersBitForBit() throws {
    let digits = try fixtureTrainingSet().prefix(300)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-train-resume-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("run.checkpoint")

    let uninterrupted = LSTMTrainer(options: tinyOptions(), trainingSet: digits)
    _ = uninterrupted.trainEpoch()
    _ = uninterrupted.trainEpoch()

    // 1 epoch, checkpoint to disk, a fresh trainer from the file, 1 more epoch.
    let first = LSTMTrainer(options: tinyOptions(), trainingSet: digits)
    _ = first.trainEpoch()
    try TrainingCheckpoint(trainer: first).write(to: url)
    let resumed = try TrainingCheckpoint.load(contentsOf: url).makeTrainer(trainingSet: digits, path: url.path)
    #expect(resumed.completedEpochs == 1)
    _ = resumed.trainEpoch()
    #expect(resumed.parameters == uninterrupted.parameters)
    #expect(resumed.optimizer.firstMoment == uninterrupted.optimizer.firstMoment)
    #expect(resumed.optimizer.secondMoment == uninterrupted.optimizer.secondMoment)

    // Stopped in the middle of epoch 2 (as Ctrl-C does), then resumed.
    let interrupted = LSTMTrainer(options: tinyOptions(), trainingSet: digits)
    _ = interrupted.trainEpoch()
    var batches = 0
    let partial = interrupted.trainEpoch(shouldStop: { batches == 2 }, progress: { _ in batches += 1 })
    #expect(!partial.completed && interrupted.nextBatch == 2)
    try TrainingCheckpoint(trainer: interrupted).write(to: url)
    let continued = try TrainingCheckpoint.load(contentsOf: url).makeTrainer(trainingSet: digits, path: url.path)
    #expect(continued.trainEpoch().completed)
    #expect(continued.parameters == uninterrupted.parameters)
}

@Test func checkpointErrorsNameTheProblem() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-train-badckpt-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("bad.checkpoint")
    try Data("not a checkpoint".utf8).write(to: url)
    #expect(throws: CheckpointError.self) { try TrainingCheckpoint.load(contentsOf: url) }
    // A model file is safetensors too, but not a checkpoint.
    let model = try LSTMModel.load(contentsOf: Fixtures.url("torch-lstm16.safetensors"))
    try model.write(to: url)
    do {
        _ = try TrainingCheckpoint.load(contentsOf: url)
        Issue.record("a model file was accepted as a checkpoint")
    } catch {
        #expect(error.description.contains("not a usable lstm-train checkpoint"))
    }
    #expect(throws: CheckpointError.self) {
        try TrainingCheckpoint.load(contentsOf: directory.appendingPathComponent("missing"))
    }
}

/// The trainer's model written as safetensors, loaded back through LSTMModel, predicts what the
/// trainer's forward pass predicts; the daemon's stepper (a separate implementation, one row at a
/// time) gives the same probabilities.
@Test func writtenModelLoadsBackAndPredictsTheSame() throws {
    let digits = try fixtureTrainingSet(100)
    let trainer = LSTMTrainer(options: tinyOptions(), trainingSet: try fixtureTrainingSet().prefix(400))
    _ = trainer.trainEpoch()
    let model = LSTMModel(parameters: trainer.layout.modelParameters(trainer.parameters),
                          metadata: ModelMetadata(sequenceLength: 28, inputScale: Float(1.0 / 255.0)))
    let loaded = try LSTMModel.load(bytes: model.safetensorsBytes())
    #expect(ParameterLayout(shape: loaded.shape).flatten(loaded.parameters) == trainer.parameters)

    let ours = trainer.evaluate(digits)
    let fromFile = Evaluation.run(model: loaded, images: digits, inputScale: 1.0 / 255.0, threads: 1)
    #expect(ours == fromFile)

    let stepper = loaded.makeStepper(maxBatch: 1)
    let workspace = LSTMWorkspace<Float>(layout: trainer.layout, sequenceLength: 28, maxBatch: 1)
    let table: [Float] = pixelTable(scale: 1.0 / 255.0)
    var state = [Float](repeating: 0, count: loaded.shape.stateCount)
    var probabilities = [Float](repeating: 0, count: 10)
    for index in 0..<20 {
        workspace.loadInput(digits, indices: [index][...], table: table)
        trainer.parameters.withUnsafeBufferPointer { workspace.forward(parameters: $0.baseAddress!, batch: 1) }
        stepper.resetState(&state)
        for row in 0..<28 {
            let pixels = (0..<28).map { table[Int(digits.pixels[index * 784 + row * 28 + $0])] }
            stepper.step(input: pixels, state: &state, probabilities: &probabilities)
        }
        for c in 0..<10 { #expect(abs(probabilities[c] - workspace.probabilities[c]) < 1e-5) }
        #expect(ours.predictions[index] == workspace.prediction(0))
    }
}

private struct TorchExpectation: Decodable {
    let count: Int
    let correct: Int
    let predictions: [Int]
}

/// PyTorch's own accuracy of a PyTorch-trained model (a plain state_dict, no metadata), computed by
/// Tests/Fixtures/torch-lstm-make-fixture.py on the 1,000-digit fixture: ours must be the same,
/// image by image.
@Test func evaluationMatchesPyTorchOnItsOwnModel() throws {
    let expected = try JSONDecoder().decode(TorchExpectation.self, from: Data(contentsOf: Fixtures.url("torch-lstm16-expected.json")))
    let model = try LSTMModel.load(contentsOf: Fixtures.url("torch-lstm16.safetensors"))
    #expect(model.metadata.sequenceLength == nil)  // a file with no metadata
    let evaluation = Evaluation.run(model: model, images: try fixtureTrainingSet(), inputScale: 1.0 / 255.0, threads: 2)
    #expect(evaluation.count == expected.count)
    #expect(evaluation.correct == expected.correct)
    #expect(evaluation.predictions == expected.predictions)
}

@Test func evaluationCountsConfusionPerClass() throws {
    let digits = try fixtureTrainingSet(100)
    let model = try LSTMModel.load(contentsOf: Fixtures.url("torch-lstm16.safetensors"))
    let evaluation = Evaluation.run(model: model, images: digits, inputScale: 1.0 / 255.0, threads: 2)
    #expect(evaluation.confusion.reduce(0, +) == 100)
    for c in 0..<10 {
        let rowTotal = (0..<10).reduce(0) { $0 + evaluation.confusion[c * 10 + $1] }
        #expect(rowTotal == digits.labels.filter { Int($0) == c }.count)
        let hits = zip(evaluation.predictions, digits.labels).filter { Int($1) == c && $0 == c }.count
        #expect(evaluation.confusion[c * 10 + c] == hits)
    }
}

@Test func adamFirstStepMovesEveryParameterByTheLearningRate() {
    var adam = AdamOptimizer(parameterCount: 3, learningRate: 0.01)
    var parameters: [Float] = [1, 2, 3]
    adam.update(parameters: &parameters, gradients: [0.5, -2, 1e-3])
    // m̂ = g, v̂ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g).
    #expect(abs(parameters[0] - 0.99) < 1e-6)
    #expect(abs(parameters[1] - 2.01) < 1e-6)
    #expect(abs(parameters[2] - 2.99) < 1e-5)
    #expect(adam.step == 1)
}

@Test func gradientClippingBoundsTheGlobalNorm() {
    var gradients: [Float] = [3, 4]  // norm 5
    let before = clipGradients(&gradients, maxNorm: 1)
    #expect(abs(before - 5) < 1e-9)
    #expect(abs(gradients[0] - 0.6) < 1e-5 && abs(gradients[1] - 0.8) < 1e-5)
    var small: [Float] = [0.3, 0.4]
    clipGradients(&small, maxNorm: 1)
    #expect(small == [0.3, 0.4])
}

@Test func initialisationFollowsPyTorchBoundsAndForgetBias() {
    let layout = ParameterLayout(shape: LSTMShape(inputSize: 28, hiddenSize: 64, layers: 2, classes: 10))
    var generator = Xoshiro256(seed: 1)
    let plain = LSTMTrainer.initialParameters(layout: layout, forgetBias: nil, generator: &generator)
    let bound: Float = 1 / 8
    #expect(plain.allSatisfy { abs($0) <= bound })
    #expect(plain.max()! > 0.9 * bound && plain.min()! < -0.9 * bound)
    let biased = LSTMTrainer.initialParameters(layout: layout, forgetBias: 1, generator: &generator)
    for k in 0..<2 {
        let ih = layout.tensor(named: "lstm.bias_ih_l\(k)")!, hh = layout.tensor(named: "lstm.bias_hh_l\(k)")!
        #expect(biased[(ih.offset + 64)..<(ih.offset + 128)].allSatisfy { $0 == 1 })
        #expect(biased[(hh.offset + 64)..<(hh.offset + 128)].allSatisfy { $0 == 0 })
        #expect(biased[ih.offset..<(ih.offset + 64)].allSatisfy { abs($0) <= bound && $0 != 1 })
    }
    #expect(layout.count == 4 * 64 * (28 + 64 + 2) + 4 * 64 * (64 + 64 + 2) + 10 * 64 + 10)
}

@Test func shufflingIsAPermutationAndReproducible() {
    var a = Xoshiro256(seed: 5), b = Xoshiro256(seed: 5)
    var x = Array(0..<1000), y = Array(0..<1000)
    a.shuffle(&x)
    b.shuffle(&y)
    #expect(x == y && x != Array(0..<1000) && x.sorted() == Array(0..<1000))
    let parts = partition(Array(0..<10)[...], into: 3)
    #expect(parts.map(\.count) == [4, 3, 3] && parts.flatMap { $0 } == Array(0..<10))
    #expect(partition(Array(0..<1)[...], into: 2).count == 1)
}

@Test func sweepReportHasATableRowAndAPointPerModel() {
    let results: [SweepResult] = [8, 64, 256].map { (h: Int) -> SweepResult in
        let parameters: Int = 4 * h * (30 + h) + 11 * h
        let accuracy: Double = 0.9 + Double(h) / 10_000
        return SweepResult(hiddenUnits: h, parameterCount: parameters, testAccuracy: accuracy, trainingSeconds: 1, stepMicroseconds: 2)
    }
    let markdown = SweepReport.markdown(results, epochs: 2)
    #expect(markdown.contains("| 64 | \(results[1].parameterCount) | 90.64 % |"))
    #expect(markdown.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| num_units") }.count == 3)
    let svg = SweepReport.svg(results, epochs: 2)
    #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
    #expect(svg.components(separatedBy: "<circle").count - 1 == 3)
    // log₂ axis: 8 → 64 is three ticks, 64 → 256 two, so the points' x are spaced 3 : 2.
    let xs: [Double] = svg.components(separatedBy: "<circle cx=\"").dropFirst().map { (part: String) -> Double in
        Double(String(part.prefix { $0 != "\"" }))!
    }
    let ratio: Double = (xs[1] - xs[0]) / (xs[2] - xs[1])
    #expect(abs(ratio - 1.5) < 1e-6)
}

/// Needs the full MNIST test set (skips otherwise): the default model lstmd ships reaches 98.8 %.
@Test(.enabled(if: Fixtures.mnistDirectory != nil, "full MNIST not found: set LSTMD_MNIST_DIR"))
func defaultModelReachesTargetAccuracyOnFullTestSet() throws {
    let url = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/LSTMDefaultModel/Resources/default-model.safetensors")
    let model = try LSTMModel.load(contentsOf: url)
    #expect(model.shape.hiddenSize == 128 && model.shape.layers == 1)
    let test = LabeledImages(try MNISTDirectory.load(Fixtures.mnistDirectory!, split: .test))
    let evaluation = Evaluation.run(model: model, images: test, inputScale: 1.0 / 255.0, threads: 2)
    #expect(evaluation.count == 10_000)
    #expect(evaluation.accuracy >= 0.988, "accuracy \(evaluation.accuracy)")
}

/// Labels beyond the model's classes widen the confusion matrix and count as wrong.
@Test func evaluationOfAModelWithFewerClassesThanLabels() throws {
    let digits = try fixtureTrainingSet(100)
    let model = try makeRandomModel(inputSize: 28, hidden: 4, layers: 1, classes: 3, sequenceLength: 28)
    let evaluation = Evaluation.run(model: model, images: digits, inputScale: 1.0 / 255.0, threads: 2)
    #expect(evaluation.classes == 10)
    #expect(evaluation.confusion.reduce(0, +) == 100)
    #expect(evaluation.predictions.allSatisfy { (0..<3).contains($0) })
    let predictable = zip(evaluation.predictions, digits.labels).filter { Int($1) == $0 }.count
    #expect(evaluation.correct == predictable)
    for c in 3..<10 { #expect(evaluation.classAccuracy(c) == 0 || evaluation.classAccuracy(c) == nil) }
}
