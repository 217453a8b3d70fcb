import Foundation
import Logging
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

    /// Restores the snapshot when there is one for the serving model; otherwise says why and moves it
    /// aside. Never throws: a bad snapshot must not keep the daemon from serving.
    func restore(into engine: StreamEngine, now: UInt64) {
        guard FileManager.default.fileExists(atPath: file.path) else {
            logger.info("no stream snapshot to restore", metadata: ["path": "\(file.path)"])
            return
        }
        do {
            let snapshot = try StreamSnapshot(contentsOf: file)
            try engine.restore(snapshot, now: now)
            // The file stays: if the daemon crashed before its next snapshot, restoring it again puts
            // streams at an older row, which their clients see as a `gap`, never a wrong prediction.
            logger.notice("streams restored", metadata: ["streams": "\(snapshot.streams.count)", "path": "\(file.path)"])
        } catch {
            let reason: String
            if case .modelMismatch = error { reason = "other-model" } else { reason = "unusable" }
            logger.warning("stream snapshot not restored", metadata: ["path": "\(file.path)", "error": "\(error)"])
            setAside(reason: reason)
        }
    }

    /// Writes the snapshot atomically; false (and an error in the log) when it could not.
    @discardableResult
    func save(_ snapshot: StreamSnapshot) -> Bool {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try snapshot.write(to: file)
            logger.info("streams saved", metadata: ["streams": "\(snapshot.streams.count)", "path": "\(file.path)"])
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
