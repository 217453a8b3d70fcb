import LSTMCore
/// Accuracy of a model on a labelled set, per class, with its confusion matrix.
public struct Evaluation: Sendable, Equatable {
    /// Rows and columns of `confusion`: the model's classes, or more when a label is beyond them
    /// (a 3-class model on digits 0…9 gets a 10 × 10 matrix; labels it cannot predict count as wrong).
    public let classes: Int
    /// confusion[truth * classes + predicted]: how often class `truth` was predicted as `predicted`.
    public let confusion: [Int]
    /// The predicted class of every image, in order.
    public let predictions: [Int]

    public var count: Int { predictions.count }
    public var correct: Int { (0..<classes).reduce(0) { $0 + confusion[$1 * classes + $1] } }
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

    /// Fraction of class `c`'s images predicted as `c` (nil when the set has none).
    public func classAccuracy(_ c: Int) -> Double? {
        let total = (0..<classes).reduce(0) { $0 + confusion[c * classes + $1] }
        return total == 0 ? nil : Double(confusion[c * classes + c]) / Double(total)
    }

    /// Runs the forward pass over `images` in batches split across `threads`.
    public static func run(layout: ParameterLayout, parameters: [Float], images: LabeledImages,
                           inputScale: Double, threads: Int, batchSize: Int = 250) -> Evaluation {
        let classes = layout.shape.classes
        let threads = max(1, threads)
        let workspaces = (0..<threads).map { _ in
            LSTMWorkspace<Float>(layout: layout, sequenceLength: images.rows, maxBatch: batchSize)
        }
        let table: [Float] = pixelTable(scale: inputScale)
        var predictions = [Int](repeating: 0, count: images.count)
        BLASThreads.set(1)
        parameters.withUnsafeBufferPointer { p in
            predictions.withUnsafeMutableBufferPointer { out in
                let parameters = p.baseAddress!, out = UncheckedSendable(out)
                // Thread s takes batches s, s + threads, …: disjoint slices of `predictions`.
                runParallel(threads) { s in
                    var low = s * batchSize
                    while low < images.count {
                        let high = min(low + batchSize, images.count)
                        let workspace = workspaces[s]
                        workspace.loadInput(images, indices: Array(low..<high)[...], table: table)
                        workspace.forward(parameters: parameters, batch: high - low)
                        for b in 0..<(high - low) { out.value[low + b] = workspace.prediction(b) }
                        low += threads * batchSize
                    }
                }
            }
        }
        let size = max(classes, 1 + Int(images.labels.max() ?? 0))
        var confusion = [Int](repeating: 0, count: size * size)
        for (index, predicted) in predictions.enumerated() {
            confusion[Int(images.labels[index]) * size + predicted] += 1
        }
        return Evaluation(classes: size, confusion: confusion, predictions: predictions)
    }
}
