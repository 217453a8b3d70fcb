import Foundation
import Logging
import LSTMCore
import LSTMStreaming

/// Where the daemon keeps its stream snapshot (`<state-dir>/streams.safetensors`), and what it does
/// with one it cannot use: set it aside under a new name, never delete it.
struct SnapshotStore {
    let directory: URL
    let logger: Logger

    init(directory: String, logger: Logger) {
        self.directory = URL(fileURLWithPath: directory)
        self.logger = logger
    }

    var file: URL { directory.appendingPathComponent("streams.safetensors") }

    /// Makes sure snapshots can be written at all, before the daemon serves: the directory exists
    /// (created 0700 when missing) and a file can be created in it. Otherwise every stream would be
    /// lost at the first stop. Returns why not, or nil.
    static func unusableDirectory(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                return "it does not exist and cannot be created (\(String(cString: strerror(errno))))"
            }
            isDirectory = true
        }
        guard isDirectory.boolValue else { return "it is not a directory" }
        let probe = path + "/.lstmd-write-check-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "no file can be created in it (\(String(cString: strerror(errno))))" }
        close(fd)
        unlink(probe)
        return nil
    }

    /// Restores the snapshot's streams, each section onto its own model: the serving model, or an
    /// older one loaded again from the file the section names, when that file still holds a model
    /// with the section's SHA-256. Sections that cannot be restored are logged (streams, model,
    /// why); a snapshot of which nothing can be restored, or that cannot be read, is moved aside.
    /// Never throws: a bad snapshot must not keep the daemon from serving.
    func restore(into engine: StreamEngine, now: UInt64) {
        guard FileManager.default.fileExists(atPath: file.path) else {
            logger.info("no stream snapshot to restore", metadata: ["path": "\(file.path)"])
            return
        }
        do {
            let snapshot = try StreamSnapshot(contentsOf: file)
            var models: [LSTMModel] = []
            var unavailable: [String: String] = [:]
            for section in snapshot.sections where !engine.generations.contains(where: { $0.model.sha256 == section.modelSHA256 }) {
                switch Self.loadModel(of: section) {
                case let .success(model): models.append(model)
                case let .failure(why): unavailable[section.modelSHA256] = why.reason
                }
            }
            let report = try engine.restore(snapshot, models: models, now: now)
            for section in report.sections {
                var metadata: Logger.Metadata = [
                    "streams": "\(section.streams)", "model_sha256": "\(section.modelSHA256)",
                    "model_path": "\(section.modelPath ?? "none")", "path": "\(file.path)",
                ]
                if let leftOut = section.leftOut {
                    metadata["reason"] = "\(unavailable[section.modelSHA256] ?? leftOut.description)"
                    logger.warning("streams not restored: their model is not available (their next rows get not_started)", metadata: metadata)
                } else {
                    metadata["model"] = "\(section.modelSHA256 == engine.currentModel.sha256 ? "current" : "older")"
                    logger.notice("streams restored", metadata: metadata)
                }
            }
            // The file stays: if the daemon crashed before its next snapshot, restoring it again puts
            // streams at an older row, which their clients see as a `gap`, never a wrong prediction.
            if report.restoredStreams == 0 && report.leftOutStreams > 0 { setAside(reason: "other-model") }
        } catch {
            logger.warning("stream snapshot not restored", metadata: ["path": "\(file.path)", "error": "\(error)"])
            setAside(reason: "unusable")
        }
    }

    /// Why the model of a section cannot be loaded again.
    struct ModelUnavailable: Error, Equatable {
        let reason: String
    }

    /// The model a section ran on, read again from the file it names and checked against its
    /// SHA-256 (the state directory is lstmd's own, 0700: the path is one lstmd loaded before).
    static func loadModel(of section: StreamSnapshot.Section) -> Result<LSTMModel, ModelUnavailable> {
        let sha = section.modelSHA256
        guard let path = section.modelPath else {
            return .failure(ModelUnavailable(reason: "the snapshot names no file for model \(sha.prefix(16))… "
                + "(the embedded default model, or a version 2 snapshot)"))
        }
        guard path.hasPrefix("/") else {
            return .failure(ModelUnavailable(reason: "the snapshot names model file '\(path)', not an absolute path"))
        }
        let loaded: LoadedModel
        do { loaded = try LoadedModel(path: path, isDefault: false) } catch {
            return .failure(ModelUnavailable(reason: "\(error)"))
        }
        guard loaded.model.sha256 == sha else {
            return .failure(ModelUnavailable(reason: "\(path) now holds model \(loaded.model.sha256.prefix(16))…, "
                + "not \(sha.prefix(16))…"))
        }
        return .success(loaded.model)
    }

    /// Writes the snapshot atomically; false (and an error in the log) when it could not.
    @discardableResult
    func save(_ snapshot: StreamSnapshot) -> Bool {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try snapshot.write(to: file)
            logger.info("streams saved", metadata: [
                "streams": "\(snapshot.streams.count)", "models": "\(snapshot.sections.count)", "path": "\(file.path)",
            ])
            return true
        } catch {
            logger.error("cannot save stream snapshot", metadata: ["path": "\(file.path)", "error": "\(error)"])
            discardOlder()
            return false
        }
    }

    /// Removes the snapshot a failed (or impossible) save could not replace: restored later, it
    /// would bring back streams that have moved on or whose clients were told `shutting_down`.
    func discardOlder() {
        if unlink(file.path) == 0 {
            logger.warning("older stream snapshot removed after the failed save", metadata: ["path": "\(file.path)"])
        } else if errno != ENOENT {
            logger.critical("cannot remove the older stream snapshot after a failed save; remove it before the next start",
                            metadata: ["path": "\(file.path)", "error": "\(String(cString: strerror(errno)))"])
        }
    }

    /// Renames the snapshot to `streams.<reason>-<UTC time>.safetensors` so that it is not used again.
    private func setAside(reason: String) {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let target = directory.appendingPathComponent("streams.\(reason)-\(stamp).safetensors")
        do {
            try FileManager.default.moveItem(at: file, to: target)
            logger.info("snapshot set aside", metadata: ["path": "\(target.path)"])
        } catch {
            logger.error("cannot set the snapshot aside", metadata: ["path": "\(file.path)", "error": "\(error)"])
        }
    }
}
