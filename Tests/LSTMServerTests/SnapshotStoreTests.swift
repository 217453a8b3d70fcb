import Foundation
import Logging
import LSTMCore
@testable import LSTMStreaming
import TestSupport
import Testing
@testable import LSTMServer

/// A snapshot the daemon cannot use is set aside at start, so that the next start does not read
/// it again (a snapshot that passed then trapped used to make the daemon crash-loop).
@Suite struct SnapshotStoreTests {
    @Test func aSnapshotWithAnImpossibleNextRowIsSetAsideNotRestored() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try makeRandomModel()
        let store = SnapshotStore(directory: directory.path, logger: Logger(label: "snapshot-store-test"))
        let state = [Float](repeating: 0.25, count: model.shape.stateCount)
        let probabilities = [Float](repeating: 1 / Float(model.shape.classes), count: model.shape.classes)
        var file = try SafetensorsFile(bytes: StreamSnapshot(
            modelSHA256: model.sha256, stateCount: model.shape.stateCount, classes: model.shape.classes,
            streams: [.init(id: "far", sequence: 1, nextRow: 3, state: state, lastProbabilities: probabilities)]).serialized())
        file.metadata["next_rows"] = "[4294967296]"
        // With a checksum that matches, so that the next row itself is what the reader refuses.
        file.metadata["contents_sha256"] = StreamSnapshot.contentsSHA256(
            modelSHA256: model.sha256, ids: file.metadata["stream_ids"]!, sequences: file.metadata["sequences"]!,
            nextRows: file.metadata["next_rows"]!, state: file.tensors["state"]!.values,
            lastProbabilities: file.tensors["last_probabilities"]!.values)
        try Data(file.serialized()).write(to: store.file)

        let engine = StreamEngine(model: model)
        store.restore(into: engine, now: 0)
        #expect(engine.liveStreamCount == 0)
        #expect(!FileManager.default.fileExists(atPath: store.file.path), "the bad snapshot is still in place")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names.count == 1 && names[0].hasPrefix("streams.unusable-"), "\(names)")
    }
}
