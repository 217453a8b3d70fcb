import ArgumentParser
import Foundation
import LSTMCore
import LSTMTraining
import MNIST

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class accuracy and confusion matrix of a model on the MNIST test set.",
        discussion: """
        Any model lstmd can load works, including a PyTorch state_dict saved as safetensors without metadata (then give --input-scale 1/255 if it was trained on pixels / 255).

        Examples:
          lstm-train eval mnist-128.safetensors --data mnist
          lstm-train eval torch.safetensors --data mnist --input-scale 1/255
        """)

    @Argument(help: "The safetensors model.")
    var model: String
    @Option(help: "MNIST directory (default: $LSTMD_MNIST_DIR); its test split is used.")
    var data: String?
    @Option(help: "An IDX image file (raw or gzip) to evaluate on instead of --data; needs --labels.")
    var images: String?
    @Option(help: "The IDX label file that goes with --images.")
    var labels: String?
    @Option(name: .customLong("input-scale"), help: "Pixel scale, e.g. 1/255 or 0.00392156862745098 (overrides the model's metadata).")
    var inputScale: String?
    @Option(help: "Evaluate on the first N images only.")
    var limit: Int?
    @Option(help: "Worker threads.")
    var threads = 2

    func validate() throws {
        if let inputScale, parseScale(inputScale) == nil {
            throw ValidationError("--input-scale must be a positive number or a fraction like 1/255, got \"\(inputScale)\"")
        }
        guard (images == nil) == (labels == nil) else { throw ValidationError("--images and --labels go together") }
        if let limit { guard limit >= 1 else { throw ValidationError("--limit must be at least 1") } }
        guard threads >= 1 && threads <= 64 else { throw ValidationError("--threads must be 1…64, got \(threads)") }
    }

    func run() throws {
        let loaded = try LSTMModel.load(contentsOf: URL(fileURLWithPath: model))
        let dataset: MNISTDataset
        if let images, let labels {
            dataset = try MNISTDataset(split: .test, imagesFile: URL(fileURLWithPath: images), labelsFile: URL(fileURLWithPath: labels))
        } else {
            dataset = try loadMNIST(data, split: .test)
        }
        var set = LabeledImages(dataset)
        if let limit { set = set.prefix(limit) }
        guard loaded.shape.inputSize == set.columns else {
            throw CommandError("model \(model) takes \(loaded.shape.inputSize) inputs per step, the images have \(set.columns) pixels per row")
        }
        let scale = inputScale.flatMap(parseScale) ?? pixelScale(loaded.metadata.inputScale)
        let evaluation = Evaluation.run(model: loaded, images: set, inputScale: scale, threads: threads)
        print("model \(model): H = \(loaded.shape.hiddenSize), \(loaded.shape.layers) layer(s), input scale \(scale)")
        print("accuracy \(percent(evaluation.accuracy)) (\(evaluation.correct)/\(evaluation.count))")
        print("")
        // Labels beyond the model's classes (a model of fewer than 10) are named by their number.
        let labels = loaded.metadata.labels + (loaded.metadata.labels.count..<max(evaluation.classes, loaded.metadata.labels.count)).map(String.init)
        print(report(evaluation, labels: labels))
    }

    private func report(_ e: Evaluation, labels: [String]) -> String {
        let c = e.classes
        let width = max(6, labels.map(\.count).max() ?? 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var text = "per class:\n"
        for k in 0..<c {
            let total = (0..<c).reduce(0) { $0 + e.confusion[k * c + $1] }
            text += "  \(pad(labels[k]))  " + (e.classAccuracy(k).map(percent) ?? "n/a").leftPadded(8) + "  (\(e.confusion[k * c + k])/\(total))\n"
        }
        text += "\nconfusion matrix (rows: true class, columns: predicted):\n"
        text += "  " + pad("") + labels.map(pad).joined(separator: " ") + "\n"
        for k in 0..<c {
            text += "  " + pad(labels[k]) + (0..<c).map { pad(String(e.confusion[k * c + $0])) }.joined(separator: " ") + "\n"
        }
        return text
    }
}
