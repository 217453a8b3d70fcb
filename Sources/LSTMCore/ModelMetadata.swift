import Foundation

/// What a model file says about itself beyond its tensors: the safetensors `__metadata__` map,
/// typed. Every key is optional in a file, so a bare PyTorch `save_file(model.state_dict())` loads
/// with the defaults. See Protocols/model-format.md.
public struct ModelMetadata: Sendable, Equatable, Codable {
    /// The `format` value this module writes and accepts.
    public static let format = "lstmd-lstm"
    /// The newest `format_version` this module reads (and the one it writes).
    public static let currentFormatVersion = 1

    /// `input_scale` lies in this range: beyond it, a pixel of 255 or one of 1/255 would scale to an
    /// infinity or to nothing useful.
    public static let inputScaleRange: ClosedRange<Float> = 1e-9...1e9
    /// The longest `sequence_length`: rows are numbered by an unsigned 32-bit integer (LSP/1).
    public static let maxSequenceLength = Int(UInt32.max) + 1

    /// Keys of the `__metadata__` map.
    public enum Key {
        public static let format = "format"
        public static let formatVersion = "format_version"
        public static let sequenceLength = "sequence_length"
        public static let inputScale = "input_scale"
        public static let labels = "labels"
        // Provenance: informational, stored in `provenance`, not validated.
        public static let dataset = "dataset"
        public static let datasetSHA256 = "dataset_sha256"
        public static let epochs = "epochs"
        public static let hyperparameters = "hyperparameters"
        public static let testAccuracy = "test_accuracy"
        public static let created = "created"
        public static let trainer = "trainer"
    }

    /// Version of the file layout, 1.
    public var formatVersion: Int
    /// Rows per sequence (28 for MNIST). Nil when the file does not say: then the stream engine
    /// cannot count rows and relies on the client's LAST flag to end a sequence.
    public var sequenceLength: Int?
    /// Factor applied to raw input values before the model sees them: 1 when inputs are already
    /// scaled, 1/255 when the client sends uint8 pixels. Within `inputScaleRange`.
    public var inputScale: Float
    /// One name per class; empty means "0" … "C-1" (filled in by `LSTMModel.init`).
    public var labels: [String]
    /// Every other metadata key: dataset, dataset_sha256, epochs, hyperparameters, test_accuracy,
    /// created, trainer, and unknown keys (kept so that they survive a round trip).
    public var provenance: [String: String]

    public init(formatVersion: Int = ModelMetadata.currentFormatVersion, sequenceLength: Int? = nil,
                inputScale: Float = 1, labels: [String] = [], provenance: [String: String] = [:]) {
        self.formatVersion = formatVersion
        self.sequenceLength = sequenceLength
        self.inputScale = inputScale
        self.labels = labels
        self.provenance = provenance
    }

    /// "0", "1", … "C-1".
    public static func defaultLabels(classes: Int) -> [String] {
        (0..<classes).map(String.init)
    }

    /// Reads a `__metadata__` map for a model with `classes` outputs, validating the typed keys.
    public init(safetensorsMetadata map: [String: String], classes: Int) throws(ModelError) {
        if let format = map[Key.format], format != Self.format {
            throw .invalidMetadataValue(key: Key.format, value: format, reason: "expected \(Self.format)")
        }
        var formatVersion = Self.currentFormatVersion
        if let text = map[Key.formatVersion] {
            guard let version = Int(text), version >= 1 else {
                throw .invalidMetadataValue(key: Key.formatVersion, value: text, reason: "not a positive integer")
            }
            guard version <= Self.currentFormatVersion else {
                throw .invalidMetadataValue(key: Key.formatVersion, value: text,
                                            reason: "this build reads format_version \(Self.currentFormatVersion) and older")
            }
            formatVersion = version
        }

        var sequenceLength: Int?
        if let text = map[Key.sequenceLength] {
            guard let length = Int(text), length >= 1 else {
                throw .invalidMetadataValue(key: Key.sequenceLength, value: text, reason: "not a positive integer")
            }
            guard length <= Self.maxSequenceLength else {
                throw .invalidMetadataValue(key: Key.sequenceLength, value: text,
                                            reason: "rows are numbered by 32 bits: at most \(Self.maxSequenceLength)")
            }
            sequenceLength = length
        }

        var inputScale: Float = 1
        if let text = map[Key.inputScale] {
            // Float("nan"), Float("inf") parse: reject them with non-positive values.
            guard let scale = Float(text), scale.isFinite, scale > 0 else {
                throw .invalidMetadataValue(key: Key.inputScale, value: text, reason: "not a finite positive number")
            }
            guard Self.inputScaleRange.contains(scale) else {
                throw .invalidMetadataValue(key: Key.inputScale, value: text,
                                            reason: "outside \(Self.inputScaleRange.lowerBound)…\(Self.inputScaleRange.upperBound)")
            }
            inputScale = scale
        }

        var labels = Self.defaultLabels(classes: classes)
        if let text = map[Key.labels] {
            guard let decoded = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw .invalidMetadataValue(key: Key.labels, value: text, reason: "not a JSON array of strings")
            }
            guard decoded.count == classes else {
                throw .invalidMetadataValue(key: Key.labels, value: text,
                                            reason: "\(decoded.count) labels for a model with \(classes) classes")
            }
            labels = decoded
        }

        let typedKeys: Set = [Key.format, Key.formatVersion, Key.sequenceLength, Key.inputScale, Key.labels]
        self.init(formatVersion: formatVersion, sequenceLength: sequenceLength, inputScale: inputScale,
                  labels: labels, provenance: map.filter { !typedKeys.contains($0.key) })
    }

    /// The `__metadata__` map written to a model file: format, format_version, input_scale, labels,
    /// sequence_length when known, and the provenance entries.
    public var safetensorsMetadata: [String: String] {
        var map = provenance
        map[Key.format] = Self.format
        map[Key.formatVersion] = String(formatVersion)
        map[Key.inputScale] = inputScale.description
        if let sequenceLength { map[Key.sequenceLength] = String(sequenceLength) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        // Encoding an array of strings cannot fail.
        map[Key.labels] = String(decoding: try! encoder.encode(labels), as: UTF8.self)
        return map
    }
}
