import Checksums
import Foundation

/// An immutable, validated model: parameters, metadata and the SHA-256 that identifies it. Shared
/// by the engine and any number of streams; each thread that steps makes its own `LSTMStepper`.
public final class LSTMModel: Sendable {
    /// The weights, as PyTorch names and lays them out.
    public let parameters: LSTMParameters
    /// What the file says about the model: sequence length, input scale, labels, provenance.
    public let metadata: ModelMetadata
    /// Lowercase hex SHA-256 of the file bytes the model was loaded from, or, for a model built in
    /// memory, of `safetensorsBytes()`.
    public let sha256: String

    /// The model's sizes: input, hidden units, layers, classes.
    public var shape: LSTMShape { parameters.shape }

    /// A model from parameters made in memory (by the trainer, or a test). Empty `labels` become
    /// "0" … "C-1".
    ///
    /// - Precondition: `parameters.validate()` does not throw, `metadata.labels` is empty or has C
    ///   entries, `inputScale` is within `ModelMetadata.inputScaleRange`, `sequenceLength` is nil or
    ///   within 1…`ModelMetadata.maxSequenceLength`. (A file is checked
    ///   with errors instead, by `load`.)
    public convenience init(parameters: LSTMParameters, metadata: ModelMetadata) {
        do {
            try parameters.validate()
        } catch {
            preconditionFailure("invalid LSTM parameters: \(error)")
        }
        var metadata = metadata
        if metadata.labels.isEmpty { metadata.labels = ModelMetadata.defaultLabels(classes: parameters.shape.classes) }
        precondition(metadata.labels.count == parameters.shape.classes,
                     "\(metadata.labels.count) labels for \(parameters.shape.classes) classes")
        precondition(ModelMetadata.inputScaleRange.contains(metadata.inputScale), "input scale \(metadata.inputScale)")
        precondition((1...ModelMetadata.maxSequenceLength).contains(metadata.sequenceLength ?? 1),
                     "sequence length \(metadata.sequenceLength ?? 0)")
        let bytes = Self.serialize(parameters: parameters, metadata: metadata)
        self.init(parameters: parameters, metadata: metadata, sha256: Self.hexSHA256(bytes))
    }

    private init(parameters: LSTMParameters, metadata: ModelMetadata, sha256: String) {
        self.parameters = parameters
        self.metadata = metadata
        self.sha256 = sha256
    }

    /// The largest model file `load(contentsOf:)` reads: 2 GiB (H = 2048, L = 4 takes 0.5 GiB).
    public static let maxFileByteCount = 1 << 31

    /// Loads and validates a safetensors model file: a regular file of at most `maxFileByteCount`.
    public static func load(contentsOf url: URL) throws(ModelError) -> LSTMModel {
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.read(path: url.path, maxByteCount: maxFileByteCount)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.description)
        }
        return try load(bytes: bytes)
    }

    /// Loads and validates a model from the bytes of a safetensors file. Never traps, whatever the
    /// bytes: every problem is a `ModelError`.
    public static func load(bytes: [UInt8]) throws(ModelError) -> LSTMModel {
        let file = try SafetensorsFile(bytes: bytes)
        let parameters = try LSTMParameters(tensors: file.tensors)
        let metadata = try ModelMetadata(safetensorsMetadata: file.metadata, classes: parameters.shape.classes)
        return LSTMModel(parameters: parameters, metadata: metadata, sha256: hexSHA256(bytes))
    }

    /// The model as a safetensors file: F32 state_dict tensors and the metadata. Deterministic, so
    /// a model built in memory has a stable `sha256`.
    public func safetensorsBytes() -> [UInt8] {
        Self.serialize(parameters: parameters, metadata: metadata)
    }

    /// Writes `safetensorsBytes()` to `url`, atomically (a reader never sees half a model).
    public func write(to url: URL) throws(ModelError) {
        do {
            try Data(safetensorsBytes()).write(to: url, options: .atomic)
        } catch {
            throw .unwritableFile(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Packed weights and scratch buffers for stepping up to `maxBatch` streams at once.
    public func makeStepper(maxBatch: Int) -> LSTMStepper {
        LSTMStepper(model: self, maxBatch: maxBatch)
    }

    private static func serialize(parameters: LSTMParameters, metadata: ModelMetadata) -> [UInt8] {
        SafetensorsFile(tensors: parameters.tensors, metadata: metadata.safetensorsMetadata).serialized()
    }

    private static func hexSHA256(_ bytes: [UInt8]) -> String {
        SHA256.hex(bytes)
    }
}
