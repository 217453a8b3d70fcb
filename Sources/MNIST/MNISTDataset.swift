import Foundation

/// One split of MNIST in memory: `count` grey-scale 28 × 28 digits (0 = background, 255 = ink)
/// and their labels.
public struct MNISTDataset: Sendable, Equatable {
    /// Rows per image, which is also the number of LSTM steps per digit.
    public static let rows = 28
    /// Pixels per row.
    public static let columns = 28
    /// Pixels per image (784).
    public static let pixelsPerImage = rows * columns

    /// Which split the digits come from.
    public let split: MNISTSplit
    /// All images, contiguous and row-major: [count × 28 × 28].
    public let images: [UInt8]
    /// The digit 0...9 of each image: [count].
    public let labels: [UInt8]

    /// Number of digits.
    public var count: Int { labels.count }

    /// A dataset from buffers already in memory. `images` must hold exactly 784 bytes per label.
    public init(split: MNISTSplit, images: [UInt8], labels: [UInt8]) {
        precondition(
            images.count == labels.count * Self.pixelsPerImage,
            "\(images.count) image bytes for \(labels.count) labels: need 784 per label")
        self.split = split
        self.images = images
        self.labels = labels
    }

    /// Reads an image file and a label file (raw or gzip IDX, any names), checking their
    /// structure and that they hold as many items as each other. With `checksums`, the SHA-256 of
    /// each decompressed file must match too.
    public init(
        split: MNISTSplit, imagesFile: URL, labelsFile: URL,
        checksums: (images: String, labels: String)? = nil
    ) throws(MNISTError) {
        let imageBytes = try IDX.contents(of: imagesFile)
        let labelBytes = try IDX.contents(of: labelsFile)
        if let checksums {
            try Self.verify(imageBytes, file: imagesFile.path, expected: checksums.images)
            try Self.verify(labelBytes, file: labelsFile.path, expected: checksums.labels)
        }
        let images = try IDX.images(from: consume imageBytes, file: imagesFile.path)
        let labels = try IDX.labels(from: labelBytes, file: labelsFile.path)
        guard images.count == labels.count else {
            throw .countMismatch(
                imagesFile: imagesFile.path, imageCount: images.count,
                labelsFile: labelsFile.path, labelCount: labels.count)
        }
        self.init(split: split, images: images.pixels, labels: labels)
    }

    /// The pixels of image `index`, row-major [28 × 28]. The slice keeps the indices of `images`
    /// (it starts at `index * 784`).
    public func image(at index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < count, "image \(index) out of 0..<\(count)")
        let start = index * Self.pixelsPerImage
        return images[start..<(start + Self.pixelsPerImage)]
    }

    /// Calls `body` with the 784 pixels of image `index`, zero-based, without copying.
    public func withImage<Result>(
        at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        precondition(index >= 0 && index < count, "image \(index) out of 0..<\(count)")
        let start = index * Self.pixelsPerImage
        return try images.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[start..<(start + Self.pixelsPerImage)]))
        }
    }

    /// The first `length` digits (all of them when there are fewer).
    public func prefix(_ length: Int) -> MNISTDataset {
        let kept = min(max(length, 0), count)
        return MNISTDataset(
            split: split, images: Array(images.prefix(kept * Self.pixelsPerImage)),
            labels: Array(labels.prefix(kept)))
    }

    private static func verify(_ bytes: [UInt8], file: String, expected: String) throws(MNISTError) {
        let actual = IDX.sha256Hex(bytes)
        guard actual == expected.lowercased() else {
            throw .checksumMismatch(file: file, expected: expected.lowercased(), actual: actual)
        }
    }
}
