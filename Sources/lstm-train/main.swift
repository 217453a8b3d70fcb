import Foundation
import LSTMTraining
import MNIST

let dir = URL(fileURLWithPath: "/work/shared/data/mnist")
let train = LabeledImages(try MNISTDirectory.load(dir, split: .train))
let test = LabeledImages(try MNISTDirectory.load(dir, split: .test))
var options = TrainingOptions()
options.threads = Int(CommandLine.arguments.dropFirst().first ?? "2")!
let trainer = LSTMTrainer(options: options, trainingSet: train)
for _ in 0..<2 {
    let s = trainer.trainEpoch()
    let e = trainer.evaluate(test)
    print(s.seconds, s.meanLoss, s.accuracy, e.accuracy)
}
