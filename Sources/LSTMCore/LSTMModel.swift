import Checksums
import Foundation

/// An immutable, validated model: parameters, metadata and the SHA-256 that identifies it. Shared
/// by the engine and any number of streams; each thread that steps makes its own `LSTMStepper`.
public final class LSTMModel: Sendable {
    public let parameters: LSTMParameters
    public let metadata: ModelMetadata
    /// Lowercase hex SHA-256 of the file bytes the model was loaded from, or, for a model built in
    /// memory, of `safetensorsBytes()`.
    public let sha256: String

    public var shape: LSTMShape { parameters.shape }

    /// A model from parameters made in memory (by the trainer, or a test). Empty `labels` become
    /// "0" … "C-1".
    ///
    /// - Precondition: `parameters.validate()` does not throw, `metadata.labels` is empty or has C
    ///   entries, `inputScale` is finite and > 0, `sequenceLength` is nil or ≥ 1. (A file is checked
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
        precondition(metadata.inputScale.isFinite && metadata.inputScale > 0, "input scale \(metadata.inputScale)")
        precondition((metadata.sequenceLength ?? 1) >= 1, "sequence length \(metadata.sequenceLength ?? 0)")
        let bytes = Self.serialize(parameters: parameters, metadata: metadata)
        self.init(parameters: parameters, metadata: metadata, sha256: Self.hexSHA256(bytes))
    }

    private init(parameters: LSTMParameters, metadata: ModelMetadata, sha256: String) {
        self.parameters = parameters
        self.metadata = metadata
        self.sha256 = sha256
    }

    /// Loads and validates a safetensors model file.
    public static func load(contentsOf url: URL) throws(ModelError) -> LSTMModel {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: (error as NSError).localizedDescription)
        }
        return try load(bytes: [UInt8](data))
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
