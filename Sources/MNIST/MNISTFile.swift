/// Which half of MNIST: 60,000 training digits or 10,000 test digits.
public enum MNISTSplit: String, Sendable, CaseIterable {
    case train
    case test
}

/// The four files of the canonical MNIST distribution, named as there (without `.gz`).
public enum MNISTFile: String, Sendable, CaseIterable {
    case trainImages = "train-images-idx3-ubyte"
    case trainLabels = "train-labels-idx1-ubyte"
    case testImages = "t10k-images-idx3-ubyte"
    case testLabels = "t10k-labels-idx1-ubyte"

    /// The image file of `split`.
    public static func images(_ split: MNISTSplit) -> MNISTFile {
        split == .train ? .trainImages : .testImages
    }

    /// The label file of `split`.
    public static func labels(_ split: MNISTSplit) -> MNISTFile {
        split == .train ? .trainLabels : .testLabels
    }

    /// The canonical name, decompressed: `train-images-idx3-ubyte`.
    public var name: String { rawValue }

    /// The name of the gzip-compressed file, as published by the mirrors.
    public var gzipName: String { rawValue + ".gz" }

    /// SHA-256 of the decompressed canonical file (lowercase hex). Mirrors' gzip bytes differ;
    /// the decompressed content does not.
    public var canonicalSHA256: String {
        switch self {
        case .trainImages: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        case .trainLabels: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        case .testImages: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        case .testLabels: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        }
    }

    /// `canonicalSHA256` of every file, the default table for verification and fetching.
    public static var canonicalChecksums: [MNISTFile: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.canonicalSHA256) })
    }
}
