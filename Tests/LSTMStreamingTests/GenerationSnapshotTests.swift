import Foundation
import LSTMCore
@testable import LSTMStreaming
import TestSupport
import Testing
import WireProtocol

/// Snapshots of every model generation (issue 13): streams still on an older model after a reload
/// are saved in a section of their own and restored onto that model, or left out, and reported,
/// when it is not available.
@Suite struct GenerationSnapshotTests {
    let old: LSTMModel, new: LSTMModel
    /// Each stream's own rows (7 of them: the models' sequence length).
    let rows: [String: [[Float]]]
    static let oldStreams = ["old-1", "old-2", "old-3"], newStreams = ["new-1", "new-2"]

    init() throws {
        old = try makeRandomModel(seed: 41)
        new = try makeRandomModel(seed: 42)
        var rows: [String: [[Float]]] = [:]
        for (k, id) in (Self.oldStreams + Self.newStreams).enumerated() { rows[id] = randomRows(7, width: 6, seed: 100 + UInt64(k)) }
        self.rows = rows
    }

    /// An engine with `old-*` streams at row 4 on the old model and `new-*` streams at row 3 on the
    /// new one, which is current.
    func engineOnTwoGenerations() throws -> StreamEngine {
        let engine = StreamEngine(model: old, origin: ModelOrigin(path: "/models/old.safetensors"))
        for id in Self.oldStreams { for i in 0..<3 { try engine.submit(id, i, rows[id]![i]) } }
        _ = engine.stepAll()
        #expect(try engine.replaceModel(with: new, origin: ModelOrigin(path: "/models/new.safetensors")))
        for id in Self.newStreams { for i in 0..<3 { try engine.submit(id, i, rows[id]![i]) } }
        for id in Self.oldStreams { try engine.submit(id, 3, rows[id]![3]) }
        _ = engine.stepAll()
        #expect(engine.generations.map(\.liveStreams) == [2, 3])
        return engine
    }

    /// Sends every stream's rows from where it stands to its last and returns the FINALs by stream.
    func finish(_ engine: StreamEngine, _ ids: [String]) throws -> [String: [Float]] {
        let next = Dictionary(uniqueKeysWithValues: engine.liveStreams(now: 0).map { ($0.id.string, $0.nextRow) })
        for id in ids { for i in next[id]!..<7 { try engine.submit(id, i, rows[id]![i]) } }
        var finals: [String: [Float]] = [:]
        for emitted in engine.stepAll().emitted where emitted.isFinal { finals[emitted.stream] = emitted.probabilities }
        return finals
    }

    @Test func streamsOfTwoGenerationsFinishOnTheirOwnModelsAfterARestore() throws {
        let all = Self.oldStreams + Self.newStreams
        let uninterrupted = try finish(try engineOnTwoGenerations(), all)

        let snapshot = try StreamSnapshot(bytes: try engineOnTwoGenerations().snapshot().serialized())
        #expect(snapshot.sections.map(\.modelSHA256) == [new.sha256, old.sha256], "the current model's section first")
        #expect(snapshot.sections.map(\.modelPath) == ["/models/new.safetensors", "/models/old.safetensors"])
        #expect(snapshot.sections.map { $0.streams.map(\.id) } == [Self.newStreams, Self.oldStreams])
        #expect(snapshot.sections.map { $0.streams.map(\.nextRow) } == [[3, 3], [4, 4, 4]])

        let restored = StreamEngine(model: new)
        let report = try restored.restore(snapshot, models: [old], now: 0)
        #expect(report.restoredStreams == 5 && report.leftOutStreams == 0)
        #expect(restored.currentModel.sha256 == new.sha256)
        #expect(restored.generations.map(\.model.sha256) == [new.sha256, old.sha256])
        #expect(restored.generations[1].origin.path == "/models/old.safetensors")
        // A new stream starts on the current model.
        try restored.submit("fresh", 0, rows["new-1"]![0])
        #expect(restored.liveStreams(now: 0).first { $0.id == "fresh" }?.modelSHA256 == new.sha256)
        _ = restored.stepAll()
        restored.dropStream("fresh")

        let finals = try finish(restored, all)
        #expect(finals.count == 5)
        #expect(finals == uninterrupted, "bit-identical to the uninterrupted run")
        for id in Self.oldStreams { #expect(finals[id] == referenceRun(old, rows[id]!).last!, "\(id) ran on the old model") }
        for id in Self.newStreams { #expect(finals[id] == referenceRun(new, rows[id]!).last!, "\(id) ran on the new model") }
        #expect(restored.generations.map(\.model.sha256) == [new.sha256], "the old model is released with its last stream")
        #expect(restored.counters[.streamsRestored] == 5)
    }

    @Test func aSectionWhoseModelIsNotAvailableIsLeftOutAndTheOthersAreRestored() throws {
        let snapshot = try StreamSnapshot(bytes: try engineOnTwoGenerations().snapshot().serialized())
        let restored = StreamEngine(model: new)
        let report = try restored.restore(snapshot, now: 0)
        #expect(report.sections == [
            .init(modelSHA256: new.sha256, modelPath: "/models/new.safetensors", streams: 2, leftOut: nil),
            .init(modelSHA256: old.sha256, modelPath: "/models/old.safetensors", streams: 3, leftOut: .modelNotAvailable),
        ])
        #expect(restored.liveStreams(now: 0).map(\.id.string) == Self.newStreams)
        #expect(restored.generations.count == 1)
        #expect(restored.counters[.streamsRestored] == 2)
        #expect(throws: StreamError.notStarted(row: 4)) { try restored.submit("old-1", 4, rows["old-1"]![4]) }
        let finals = try finish(restored, Self.newStreams)
        for id in Self.newStreams { #expect(finals[id] == referenceRun(new, rows[id]!).last!) }

        // A model of another input size cannot take the engine's rows: left out too.
        let wide = try makeRandomModel(inputSize: 8, seed: 43)
        var other = snapshot
        other.sections[1].modelSHA256 = wide.sha256
        let onOld = StreamEngine(model: new)
        #expect(try onOld.restore(other, models: [wide], now: 0).sections[1].leftOut == .inputSizeMismatch(model: 8, engine: 6))
    }

    @Test func anEngineOnTheOlderModelTakesBothSectionsTheNewerAsAnOlderGeneration() throws {
        let snapshot = try engineOnTwoGenerations().snapshot()
        let restored = StreamEngine(model: old)
        #expect(try restored.restore(snapshot, models: [new], now: 0).restoredStreams == 5)
        #expect(restored.generations.map(\.model.sha256) == [old.sha256, new.sha256])
        let finals = try finish(restored, Self.oldStreams + Self.newStreams)
        for id in Self.newStreams { #expect(finals[id] == referenceRun(new, rows[id]!).last!) }
        for id in Self.oldStreams { #expect(finals[id] == referenceRun(old, rows[id]!).last!) }
    }

    /// Issue 13: a reload back to a model an older generation still serves makes that generation
    /// current again; it never adds a second generation of one model.
    @Test func aModelReloadedBackIsItsOwnGenerationAgain() throws {
        let engine = StreamEngine(model: old, origin: ModelOrigin(path: "/models/old.safetensors"))
        try engine.submit("old-1", 0, rows["old-1"]![0])
        #expect(try engine.replaceModel(with: new))
        try engine.submit("new-1", 0, rows["new-1"]![0])
        let oldAgain = try LSTMModel.load(bytes: old.safetensorsBytes())
        #expect(try engine.replaceModel(with: oldAgain, origin: ModelOrigin(path: "/models/copy.safetensors")))
        try engine.submit("old-2", 0, rows["old-2"]![0])
        _ = engine.stepAll()
        #expect(engine.generations.map(\.model.sha256) == [old.sha256, new.sha256])
        #expect(engine.generations.map(\.liveStreams) == [2, 1], "old-1 and old-2 share the first generation")
        #expect(engine.currentModel === old && engine.generations[0].origin.path == "/models/old.safetensors")
        let snapshot = try engine.snapshot()
        #expect(snapshot.sections.map(\.modelSHA256) == [old.sha256, new.sha256])
        #expect(snapshot.sections[0].streams.map(\.id) == ["old-1", "old-2"])
        let finals = try finish(engine, ["old-1", "old-2", "new-1"])
        for id in ["old-1", "old-2"] { #expect(finals[id] == referenceRun(old, rows[id]!).last!) }
        #expect(finals["new-1"] == referenceRun(new, rows["new-1"]!).last!)
        #expect(engine.generations.count == 1, "the other model went with its last stream")
        // Reloads back and forth, each with a live stream: never more than one generation a model.
        for round in 0..<50 {
            #expect(try engine.replaceModel(with: round.isMultiple(of: 2) ? new : old))
            try engine.submit("round-\(round)", 0, rows["old-3"]![0])
        }
        _ = engine.stepAll()
        #expect(engine.generations.count == 2 && engine.generations.map(\.liveStreams) == [25, 25])
    }

    @Test func aVersion2FileIsReadAsOneSectionWithoutAModelPath() throws {
        let engine = StreamEngine(model: old)
        for i in 0..<4 { try engine.submit("v2", i, rows["old-1"]![i]) }
        _ = engine.stepAll()
        let stream = try engine.snapshot().streams[0]
        let ids = #"["v2"]"#, sequences = "[7]", nextRows = "[4]"
        let file = SafetensorsFile(
            tensors: ["state": SafetensorsTensor(shape: [1, stream.state.count], values: stream.state),
                      "last_probabilities": SafetensorsTensor(shape: [1, stream.lastProbabilities.count], values: stream.lastProbabilities)],
            metadata: ["format": "lstmd-snapshot", "format_version": "2", "model_sha256": old.sha256,
                       "stream_ids": ids, "sequences": sequences, "next_rows": nextRows,
                       "contents_sha256": StreamSnapshot.contentsSHA256(
                           modelSHA256: old.sha256, ids: ids, sequences: sequences, nextRows: nextRows,
                           state: stream.state, lastProbabilities: stream.lastProbabilities),
                       "created": "2026-11-30T00:00:00Z"])
        let snapshot = try StreamSnapshot(bytes: file.serialized())
        #expect(snapshot.sections == [StreamSnapshot.Section(modelSHA256: old.sha256, modelPath: nil, stateCount: old.shape.stateCount,
                                                             classes: old.shape.classes, streams: [stream])])
        let restored = StreamEngine(model: old)
        try restored.restore(snapshot, now: 0)
        let finals = try finishOne(restored, "v2", rows["old-1"]!, from: 4)
        #expect(finals == referenceRun(old, rows["old-1"]!).last!)
    }

    /// The fuzz seeds are written by Fuzz/make-seeds.py, a second implementation of the documented
    /// format (checksum included), in Python: the reader must take them as they are.
    @Test func theFormatAsDocumentedIsWhatTheReaderReads() throws {
        let seeds = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/snapshot")
        let two = try StreamSnapshot(contentsOf: seeds.appendingPathComponent("two-sections"))
        #expect(two.sections.map(\.modelPath) == ["/models/current.safetensors", "/models/older.safetensors"])
        #expect(two.sections.map { $0.streams.map(\.id) } == [["a", "b"], ["c"]])
        #expect(two.streams.map(\.sequence) == [7, 8, 9] && two.streams.map(\.nextRow) == [1, 4, 2])
        #expect(two.sections[1].streams[0].state == [0.2, 0.1, -0.3, 0.4])
        #expect(try StreamSnapshot(contentsOf: seeds.appendingPathComponent("empty")).sections.isEmpty)
        let v2 = try StreamSnapshot(contentsOf: seeds.appendingPathComponent("version-2"))
        #expect(v2.sections.count == 1 && v2.sections[0].modelPath == nil && v2.streams.map(\.id) == ["a", "b"])
    }

    func finishOne(_ engine: StreamEngine, _ id: String, _ rows: [[Float]], from: Int) throws -> [Float]? {
        for i in from..<7 { try engine.submit(id, i, rows[i]) }
        return engine.stepAll().emitted.last { $0.isFinal }?.probabilities
    }

    // MARK: Hostile version 3 files

    /// The two-generation snapshot's file with its `sections` JSON and tensors edited, and its
    /// checksum made to match, so that what was edited is what the reader judges.
    func edited(sections edit: (inout [[String: Any]]) -> Void = { _ in },
                tensors editTensors: (inout [String: SafetensorsTensor]) -> Void = { _ in }) throws -> [UInt8] {
        var file = try SafetensorsFile(bytes: try engineOnTwoGenerations().snapshot().serialized())
        var sections = try #require(try JSONSerialization.jsonObject(with: Data(file.metadata["sections"]!.utf8)) as? [[String: Any]])
        edit(&sections)
        editTensors(&file.tensors)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: sections), as: UTF8.self)
        file.metadata["sections"] = json
        var values: [[Float]] = []
        for i in 0..<max(sections.count, file.tensors.count / 2) {
            for name in ["state.\(i)", "last_probabilities.\(i)"] { if let tensor = file.tensors[name] { values.append(tensor.values) } }
        }
        file.metadata["contents_sha256"] = StreamSnapshot.contentsSHA256(sections: json, tensors: values)
        return file.serialized()
    }

    @Test func sectionsThatDoNotMatchTheTensorsAreRefused() throws {
        #expect(malformedReason(try edited()) == nil, "the unedited file reads")
        #expect(malformedReason(try edited(sections: { $0.removeLast() }))
                == "1 sections need 2 tensors, the file has 4 ('last_probabilities.1' belongs to no section)")
        #expect(malformedReason(try edited(sections: { $0.append($0[0]) }))
                == "3 sections need 6 tensors, the file has 4")
        #expect(malformedReason(try edited(sections: { $0 = [] }, tensors: { $0 = [:] })) == nil, "an empty snapshot")
        #expect(malformedReason(try edited(tensors: { $0["state.2"] = $0["state.1"] })) != nil)
        #expect(malformedReason(try edited(tensors: { tensors in
            let state = tensors.removeValue(forKey: "state.1")
            tensors["state.1x"] = state
        })) == "tensor 'state.1' is missing")
        for (key, value): (String, Any) in [("model_sha256", 3), ("model_sha256", ["a"]), ("stream_ids", "[]"),
                                           ("sequences", [-1, 7, 7]), ("next_rows", [4, 4.5, 4]), ("model_path", 1)] {
            #expect(malformedReason(try edited(sections: { $0[1][key] = value }))?.hasPrefix("sections is missing or not") == true,
                    "\(key) = \(value)")
        }
    }

    @Test func widthsThatDoNotFitTheRowsOrTheModelAreRefused() throws {
        // One stream id too many for section 1's tensors.
        #expect(malformedReason(try edited(sections: {
            $0[1]["stream_ids"] = ["old-1", "old-2", "old-3", "old-4"]
            $0[1]["sequences"] = [7, 7, 7, 7]
            $0[1]["next_rows"] = [4, 4, 4, 4]
        })) == "tensor 'state.1' is F32 [3, \(old.shape.stateCount)], expected F32 [4, width]: one row per stream id")
        #expect(malformedReason(try edited(sections: { $0[1]["next_rows"] = [4, 4] }))
                == "section 1 has 3 stream ids, 3 sequences and 2 next rows; each needs one per stream")
        #expect(malformedReason(try edited(tensors: { $0["last_probabilities.0"]!.dtype = .f16 })) != nil, "F16 state")
        // Widths consistent within the file but not with the model: refused at restore, and
        // nothing of the other section is restored either.
        let wider = try StreamSnapshot(bytes: try edited(tensors: { tensors in
            let state = tensors["state.1"]!, width = state.shape[1]
            var values: [Float] = []
            for row in 0..<3 { values += state.values[(row * width)..<((row + 1) * width)] + [0] }
            tensors["state.1"] = SafetensorsTensor(shape: [3, width + 1], values: values)
        }))
        let engine = StreamEngine(model: new)
        #expect(throws: SnapshotError.stateSizeMismatch(model: old.sha256, snapshot: old.shape.stateCount + 1 + old.shape.classes,
                                                        expected: old.shape.stateCount + old.shape.classes)) {
            try engine.restore(wider, models: [old], now: 0)
        }
        #expect(engine.liveStreamCount == 0)
    }

    @Test func idsModelsAndPathsAreCheckedOverAllSections() throws {
        #expect(malformedReason(try edited(sections: { $0[1]["stream_ids"] = ["old-1", "new-2", "old-3"] }))
                == "stream 'new-2' appears twice")
        #expect(malformedReason(try edited(sections: { $0[1]["model_sha256"] = $0[0]["model_sha256"] }))?
                    .hasPrefix("sections 0 and 1 are both of model") == true)
        #expect(malformedReason(try edited(sections: { $0[1]["model_sha256"] = String(repeating: "G", count: 64) }))
                == "section 1: model_sha256 is not 64 lowercase hex digits")
        #expect(malformedReason(try edited(sections: { $0[1]["model_path"] = "/models/\u{0}old" }))?
                    .hasPrefix("section 1: model_path") == true)
        #expect(malformedReason(try edited(sections: { $0[1]["model_path"] = nil })) == nil, "a path is optional")
        #expect(malformedReason(try edited(
            sections: { $0[1]["stream_ids"] = []; $0[1]["sequences"] = []; $0[1]["next_rows"] = [] },
            tensors: { $0["state.1"] = SafetensorsTensor(shape: [0, 3], values: []); $0["last_probabilities.1"] = SafetensorsTensor(shape: [0, 4], values: []) }))
                == "section 1 holds no stream")
    }

    @Test func aFlippedBitInAnySectionOrItsMetadataIsCaught() throws {
        let bytes = try engineOnTwoGenerations().snapshot().serialized()
        var file = try SafetensorsFile(bytes: bytes)
        file.tensors["state.1"]!.values[4] = Float(bitPattern: file.tensors["state.1"]!.values[4].bitPattern ^ 1)
        #expect(malformedReason(file.serialized())?.hasPrefix("contents_sha256 is") == true)
        var renamed = try SafetensorsFile(bytes: bytes)
        renamed.metadata["sections"] = renamed.metadata["sections"]!.replacingOccurrences(of: "old-2", with: "old-9")
        #expect(malformedReason(renamed.serialized())?.hasPrefix("contents_sha256 is") == true)
    }

    @Test func theStreamLimitCountsEverySection() throws {
        let snapshot = try engineOnTwoGenerations().snapshot()
        let small = StreamEngine(model: new, configuration: EngineConfiguration(maxStreams: 4))
        #expect(throws: SnapshotError.tooManyStreams(snapshot: 5, maxStreams: 4)) { try small.restore(snapshot, models: [old], now: 0) }
        #expect(small.liveStreamCount == 0 && small.generations.count == 1)
        // Without the old model only two streams are restored: they fit.
        #expect(try small.restore(snapshot, now: 0).restoredStreams == 2)
    }
}
