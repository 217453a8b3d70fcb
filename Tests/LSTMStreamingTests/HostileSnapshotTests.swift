import Foundation
import LSTMCore
@testable import LSTMStreaming
import TestSupport
import Testing

/// Snapshot files made to break a restore: each is refused with a specific error before any of its
/// values reaches the engine (a next row ≥ 2³² used to be restored and trap later, in `streams`,
/// idle eviction and `drop`, and the daemon crash-looped on the kept file).
@Suite struct HostileSnapshotTests {
    /// A valid snapshot of two streams at row 4, as a file.
    private func validSnapshotBytes(_ model: LSTMModel) throws -> [UInt8] {
        let engine = StreamEngine(model: model)
        let rows = randomRows(4, width: 6, seed: 3)
        for id in ["a", "b"] { for i in 0..<4 { try engine.submit(id, i, rows[i]) } }
        _ = engine.stepAll()
        return try engine.snapshot().serialized()
    }

    /// The valid snapshot with one member of its section replaced (JSON text), and its checksum
    /// made to match, so that the value itself is what the reader judges.
    private func edited(_ bytes: [UInt8], _ key: String, _ value: String) throws -> [UInt8] {
        var file = try SafetensorsFile(bytes: bytes)
        var sections = try #require(try JSONSerialization.jsonObject(with: Data(file.metadata["sections"]!.utf8)) as? [[String: Any]])
        sections[0][key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: sections), as: UTF8.self)
        file.metadata["sections"] = json
        file.metadata["contents_sha256"] = StreamSnapshot.contentsSHA256(
            sections: json, tensors: [file.tensors["state.0"]!.values, file.tensors["last_probabilities.0"]!.values])
        return file.serialized()
    }

    @Test func nextRowsBeyondWhatTheWireCarriesAreRefused() throws {
        let model = try makeRandomModel()
        let bytes = try validSnapshotBytes(model)
        #expect(malformedReason(bytes) == nil)
        let reason = malformedReason(try edited(bytes, "next_rows", "[4, 4294967296]"))
        #expect(reason == "stream 'b' has next row 4294967296, outside 1…4294967295")
        for rows in ["[4, 0]", "[4, -1]", "[4, 1e30]", "[4, 9223372036854775808]", "[4]", "[4, 4, 4]", "{}", "\"[4, 4]\""] {
            #expect(malformedReason(try edited(bytes, "next_rows", rows)) != nil, "next_rows \(rows) accepted")
        }
        for ids in [#"["a", "a"]"#, #"["a", ""]"#, #"["a"]"#, "[1, 2]"] {
            #expect(malformedReason(try edited(bytes, "stream_ids", ids)) != nil, "stream_ids \(ids) accepted")
        }
    }

    @Test func aSnapshotMadeInMemoryIsCheckedAgainAtRestore() throws {
        let model = try makeRandomModel()
        let good = try StreamSnapshot(bytes: try validSnapshotBytes(model))
        var farRow = good
        farRow.sections[0].streams[0].nextRow = 1 << 32
        var shortState = good
        shortState.sections[0].streams[1].state.removeLast()
        var nonFinite = good
        nonFinite.sections[0].streams[0].lastProbabilities[0] = .nan
        for (snapshot, what) in [(farRow, "a next row of 2^32"), (shortState, "a short state"), (nonFinite, "a NaN")] {
            let engine = StreamEngine(model: model)
            #expect(throws: SnapshotError.self, "\(what) restored") { try engine.restore(snapshot, now: 0) }
            #expect(engine.liveStreamCount == 0)
        }
        let engine = StreamEngine(model: model)
        try engine.restore(good, now: 0)
        #expect(engine.liveStreams(now: 0).map(\.nextRow) == [4, 4])
    }

    @Test func aSnapshotPathThatIsNotARegularFileIsRefusedByWhatItIs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-snapshot-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("streams.safetensors")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        for (url, kind) in [(directory, "a directory"), (fifo, "a FIFO")] {
            #expect(throws: SnapshotError.unreadable(path: url.path, reason: "it is \(kind), not a regular file")) {
                try StreamSnapshot(contentsOf: url)
            }
        }
    }
}

/// Why `StreamSnapshot(bytes:)` refuses `bytes` as malformed; nil when it reads them, and a note
/// when it refuses them with another error.
func malformedReason(_ bytes: [UInt8]) -> String? {
    do {
        _ = try StreamSnapshot(bytes: bytes)
        return nil
    } catch {
        guard case .malformed(let reason) = error else { return "another error: \(error)" }
        return reason
    }
}
