import MNIST

/// A set of labelled grey-scale images, one byte per pixel, row-major: what the trainer reads.
/// Each image is a sequence of `rows` steps of `columns` inputs.
public struct LabeledImages: Sendable {
    public let rows: Int
    public let columns: Int
    /// count × rows × columns bytes.
    public let pixels: [UInt8]
    /// count labels.
    public let labels: [UInt8]
    public var count: Int { labels.count }

    public init(rows: Int, columns: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == labels.count * rows * columns, "pixels do not match labels × rows × columns")
        self.rows = rows
        self.columns = columns
        self.pixels = pixels
        self.labels = labels
    }

    /// The first `n` images (all if there are fewer): a slice for quick runs.
    public func prefix(_ n: Int) -> LabeledImages {
        let n = min(n, count)
        return LabeledImages(rows: rows, columns: columns,
                             pixels: Array(pixels[0..<(n * rows * columns)]), labels: Array(labels[0..<n]))
    }
}

extension LSTMWorkspace {
    /// Fills `input` time-major [T, B, I] with images `indices` of `images` scaled by `scale`.
    /// - Parameter table: the 256 scaled byte values (pixel p becomes table[p]).
    func loadInput(_ images: LabeledImages, indices: ArraySlice<Int>, table: [Scalar]) {
        let t = images.rows, width = images.columns, batch = indices.count
        precondition(t == sequenceLength && width == layout.shape.inputSize && batch <= maxBatch)
        let x = input.baseAddress!
        images.pixels.withUnsafeBufferPointer { pixels in
            table.withUnsafeBufferPointer { table in
                for (b, index) in indices.enumerated() {
                    let image = pixels.baseAddress! + index * t * width
                    for step in 0..<t {
                        let row = x + (step * batch + b) * width, source = image + step * width
                        for i in 0..<width { row[i] = table[Int(source[i])] }
                    }
                }
            }
        }
    }
}

/// The 256 values a pixel byte becomes: p × scale, rounded once to the scalar type.
func pixelTable<Scalar: TrainingScalar>(scale: Double) -> [Scalar] {
    (0..<256).map { Scalar(Double($0) * scale) }
}

extension LabeledImages {
    /// The digits of an MNIST split: 28 steps of 28 pixels each.
    public init(_ dataset: MNISTDataset) {
        self.init(rows: MNISTDataset.rows, columns: MNISTDataset.columns, pixels: dataset.images, labels: dataset.labels)
    }
}
