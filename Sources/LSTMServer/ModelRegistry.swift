import Foundation
import Logging
import LSTMCore
import LSTMStreaming
import WireProtocol

/// The models the daemon serves. Its list *is* the engine's list of generations (each with its
/// model, hash, input scale and origin); the registry adds only what a reload needs: the file
/// named at start, read again by a reload without a path, and the only directory a reload by path
/// may load from (`ModelPathPolicy`).
final class ModelRegistry {
    private let engine: StreamEngine
    private let configuredPath: String
    private let configuredIsDefault: Bool
    /// nil: no reload by path (the embedded model serves and no `--model-dir` was given).
    private let modelDirectory: String?
    private let channels: StatusChannels
    private let logger: Logger

    init(engine: StreamEngine, configured: LoadedModel, modelDirectory: String?, channels: StatusChannels, logger: Logger) {
        self.engine = engine
        configuredPath = configured.requestedPath
        configuredIsDefault = configured.isDefault
        self.modelDirectory = modelDirectory
        self.channels = channels
        self.logger = logger
    }

    /// The generation new streams start on.
    var current: GenerationInfo { engine.generations[0] }
    /// Older generations still serving the streams that started on them.
    var previous: [GenerationInfo] { Array(engine.generations.dropFirst()) }

    /// Loads a model for new streams; older ones serve their streams until they end. Without a path
    /// it reads the configured model file again (e.g. after an operator replaced it). A file with
    /// the current model's SHA-256 changes nothing. A path must name a file in the model directory;
    /// the error says what kind of problem a file has, never what it holds (the log has the details).
    func reload(_ path: String?) throws(WireError) {
        let target: String
        do throws(ModelPathError) {
            target = try path.map { path throws(ModelPathError) in try ModelPathPolicy.resolve(path, in: modelDirectory) }
                ?? configuredPath
        } catch {
            logger.error("reload refused; the current model keeps serving", metadata: ["error": "\(error)"])
            throw WireError(.reloadFailed, error.description)
        }
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
            let name = path ?? "the configured model"
            if case let DaemonError.modelLoad(_, modelError) = error {
                throw WireError(.reloadFailed, "\(name) not loaded: \(modelError.kind); the current model keeps serving (details in the daemon's log)")
            }
            throw WireError(.reloadFailed, "\(name) not loaded: \(error); the current model keeps serving")
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
    /// The path as configured or asked for (a reload without a path reads it again, following a
    /// link that was moved on).
    let requestedPath: String
    let isDefault: Bool
    /// What the engine keeps: the load time and the file's real path, symbolic links resolved, so
    /// that a snapshot names the file itself, not a link that may be moved on to another model
    /// (no path for the embedded default model).
    let origin: ModelOrigin

    init(path requested: String, isDefault: Bool) throws {
        let path = ModelPathPolicy.realPath(requested) ?? requested
        do {
            model = try LSTMModel.load(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DaemonError.modelLoad(path: requested, error: error)
        }
        requestedPath = requested
        self.isDefault = isDefault
        origin = ModelOrigin(path: isDefault ? nil : path)
    }
}
