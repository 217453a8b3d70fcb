import Foundation
import Logging
import LSTMCore
import LSTMStreaming
import WireProtocol

/// The models the daemon serves. Its list *is* the engine's list of generations (each with its
/// model, hash, input scale and origin); the registry adds only what a reload needs: the file
/// named at start, read again by a reload without a path.
final class ModelRegistry {
    private let engine: StreamEngine
    private let configuredPath: String
    private let configuredIsDefault: Bool
    private let channels: StatusChannels
    private let logger: Logger

    init(engine: StreamEngine, configured: LoadedModel, channels: StatusChannels, logger: Logger) {
        self.engine = engine
        configuredPath = configured.path
        configuredIsDefault = configured.isDefault
        self.channels = channels
        self.logger = logger
    }

    /// The generation new streams start on.
    var current: GenerationInfo { engine.generations[0] }
    /// Older generations still serving the streams that started on them.
    var previous: [GenerationInfo] { Array(engine.generations.dropFirst()) }

    /// Loads a model for new streams; older ones serve their streams until they end. Without a path
    /// it reads the configured model file again (e.g. after an operator replaced it). A file with
    /// the current model's SHA-256 changes nothing.
    func reload(_ path: String?) throws(WireError) {
        let target = path ?? configuredPath
        channels.notify { try $0.reloading() }
        defer { channels.notify { try $0.ready() } }
        do {
            let loaded = try LoadedModel(path: target, isDefault: path == nil && configuredIsDefault)
            guard try engine.replaceModel(with: loaded.model, origin: loaded.origin) else {
                logger.notice("model unchanged (same SHA-256)", metadata: ["model": "\(target)"])
                return
            }
            channels.modelChanged(loaded.model)
            logger.notice("model reloaded", metadata: ["model": "\(target)", "sha256": "\(loaded.model.sha256.prefix(16))"])
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["model": "\(target)", "error": "\(error)"])
            throw WireError(.reloadFailed, String(describing: error))
        }
    }

    /// A generation as the control protocol describes it.
    static func info(_ generation: GenerationInfo) -> ModelInfo {
        let model = generation.model
        let shape = model.shape
        return ModelInfo(
            path: generation.origin.path, sha256: model.sha256,
            shape: ModelShapeInfo(inputSize: shape.inputSize, hiddenSize: shape.hiddenSize,
                                  layers: shape.layers, classes: shape.classes),
            sequenceLength: model.metadata.sequenceLength, inputScale: model.metadata.inputScale,
            labels: model.metadata.labels, loadedAt: ISO8601DateFormatter().string(from: generation.origin.loadedAt),
            liveStreams: generation.liveStreams)
    }
}

/// A model file loaded and validated, with where it came from.
struct LoadedModel: @unchecked Sendable {
    // @unchecked: LSTMModel is immutable once loaded.
    let model: LSTMModel
    /// The file it was read from (also for the embedded default model).
    let path: String
    let isDefault: Bool
    /// What the engine keeps: the path (none for the embedded default model) and the load time.
    let origin: ModelOrigin

    init(path: String, isDefault: Bool) throws {
        do {
            model = try LSTMModel.load(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DaemonError.modelLoad(path: path, reason: String(describing: error))
        }
        self.path = path
        self.isDefault = isDefault
        origin = ModelOrigin(path: isDefault ? nil : path)
    }
}
