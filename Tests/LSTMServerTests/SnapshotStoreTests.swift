import Foundation
import Logging
import LSTMCore
@testable import LSTMStreaming
import TestSupport
import Testing
@testable import LSTMServer

/// What the daemon does with the snapshot it finds at start: restores each section onto its own
/// model (loaded again from the file the section names, checked against its SHA-256), leaves out
/// and logs what it cannot restore, and sets aside a snapshot it cannot use at all, so that the
/// next start does not read it again (a snapshot that passed then trapped used to make the daemon
/// crash-loop).
@Suite struct SnapshotStoreTests {
    let directory: URL
    let store: SnapshotStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = SnapshotStore(directory: directory.path, logger: Logger(label: "snapshot-store-test"))
    }

    /// A model written to `name` in the test directory, as the daemon would load it.
    func model(seed: UInt64, named name: String) throws -> (LSTMModel, String) {
        let path = directory.appendingPathComponent(name).path
        try makeRandomModel(seed: seed).write(to: URL(fileURLWithPath: path))
        return (try LSTMModel.load(contentsOf: URL(fileURLWithPath: path)), path)
    }

    /// One stream at row 3 on `model`, loaded from `path`.
    func section(_ model: LSTMModel, path: String?, id: String) -> StreamSnapshot.Section {
        StreamSnapshot.Section(
            modelSHA256: model.sha256, modelPath: path, stateCount: model.shape.stateCount, classes: model.shape.classes,
            streams: [.init(id: id, sequence: 1, nextRow: 3, state: [Float](repeating: 0.25, count: model.shape.stateCount),
                            lastProbabilities: [Float](repeating: 1 / Float(model.shape.classes), count: model.shape.classes))])
    }

    var directoryNames: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted() }

    @Test func aSnapshotWithAnImpossibleNextRowIsSetAsideNotRestored() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, path) = try model(seed: 1, named: "model.safetensors")
        var file = try SafetensorsFile(bytes: StreamSnapshot(sections: [section(model, path: path, id: "far")]).serialized())
        file.metadata["sections"] = file.metadata["sections"]!.replacingOccurrences(of: "\"next_rows\":[3]", with: "\"next_rows\":[4294967296]")
        // With a checksum that matches, so that the next row itself is what the reader refuses.
        file.metadata["contents_sha256"] = StreamSnapshot.contentsSHA256(
            sections: file.metadata["sections"]!, tensors: [file.tensors["state.0"]!.values, file.tensors["last_probabilities.0"]!.values])
        try Data(file.serialized()).write(to: store.file)

        let engine = StreamEngine(model: model)
        store.restore(into: engine, now: 0)
        #expect(engine.liveStreamCount == 0)
        #expect(!FileManager.default.fileExists(atPath: store.file.path), "the bad snapshot is still in place")
        let aside = directoryNames.filter { $0.hasPrefix("streams.") }
        #expect(aside.count == 1 && aside[0].hasPrefix("streams.unusable-"), "\(directoryNames)")
    }

    @Test func aSectionOfAnOlderModelIsRestoredOntoItsFileAndTheSnapshotKept() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (current, currentPath) = try model(seed: 1, named: "current.safetensors")
        let (older, olderPath) = try model(seed: 2, named: "older.safetensors")
        try StreamSnapshot(sections: [section(current, path: currentPath, id: "a"), section(older, path: olderPath, id: "b")])
            .write(to: store.file)
        let engine = StreamEngine(model: current)
        store.restore(into: engine, now: 0)
        #expect(engine.liveStreams(now: 0).map { "\($0.id)@\($0.modelSHA256 == older.sha256 ? "older" : "current")" } == ["a@current", "b@older"])
        #expect(engine.generations.map(\.origin.path) == [nil, olderPath])
        #expect(FileManager.default.fileExists(atPath: store.file.path))
    }

    @Test func aSectionWhoseFileIsGoneOrHoldsAnotherModelIsLeftOut() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (current, currentPath) = try model(seed: 1, named: "current.safetensors")
        let (older, olderPath) = try model(seed: 2, named: "older.safetensors")
        #expect(SnapshotStore.loadModel(of: section(older, path: olderPath, id: "x")).map(\.sha256) == .success(older.sha256))
        try FileManager.default.removeItem(atPath: olderPath)
        let gone = SnapshotStore.loadModel(of: section(older, path: olderPath, id: "x"))
        guard case let .failure(why) = gone else { Issue.record("a missing file loaded"); return }
        #expect(why.reason.contains(olderPath) && why.reason.contains("No such file"), "\(why.reason)")
        try makeRandomModel(seed: 3).write(to: URL(fileURLWithPath: olderPath))
        guard case let .failure(replaced) = SnapshotStore.loadModel(of: section(older, path: olderPath, id: "x")) else {
            Issue.record("another model loaded in place of the older one"); return
        }
        #expect(replaced.reason.hasPrefix("\(olderPath) now holds model") && replaced.reason.hasSuffix("not \(older.sha256.prefix(16))…"))
        guard case let .failure(noPath) = SnapshotStore.loadModel(of: section(older, path: nil, id: "x")) else { return }
        #expect(noPath.reason.contains("names no file"))

        try StreamSnapshot(sections: [section(current, path: currentPath, id: "a"), section(older, path: olderPath, id: "b")])
            .write(to: store.file)
        let engine = StreamEngine(model: current)
        store.restore(into: engine, now: 0)
        #expect(engine.liveStreams(now: 0).map(\.id.string) == ["a"])
        #expect(FileManager.default.fileExists(atPath: store.file.path), "part of it was restored: it stays")

        // Nothing restorable: set aside as another model's.
        try StreamSnapshot(sections: [section(older, path: olderPath, id: "b")]).write(to: store.file)
        let other = StreamEngine(model: current)
        store.restore(into: other, now: 0)
        #expect(other.liveStreamCount == 0)
        #expect(directoryNames.filter { $0.hasPrefix("streams.") }.map { $0.hasPrefix("streams.other-model-") } == [true], "\(directoryNames)")
    }
}
