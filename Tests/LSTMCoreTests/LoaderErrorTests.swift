import Foundation
import LSTMCore
import Testing

@Suite("loader errors")
struct LoaderErrorTests {
    /// Two F32 tensors "a" [2] and "b" [2] over 16 data bytes, with the given header fields.
    private func twoTensors(a: String = "[0,8]", b: String = "[8,16]", dataCount: Int = 16) -> [UInt8] {
        rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":\#(a)},"b":{"dtype":"F32","shape":[2],"data_offsets":\#(b)}}"#,
                data: [UInt8](repeating: 0, count: dataCount))
    }

    @Test("container errors") func containerErrors() {
        #expect(loadError([1, 2, 3, 4, 5]) == .fileTooShort(byteCount: 5))
        var truncated: [UInt8] = [100, 0, 0, 0, 0, 0, 0, 0]
        truncated += Array("{}".utf8)
        #expect(loadError(truncated) == .truncatedHeader(declaredLength: 100, availableBytes: 2))
        #expect(loadError([UInt8](repeating: 0xFF, count: 16)) == .headerTooLarge(limit: 100_000_000))

        if case .invalidHeaderJSON? = loadError(rawFile(header: "{not json")) {} else { Issue.record("bad JSON accepted") }
        if case .invalidHeaderJSON? = loadError([2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28]) {} else { Issue.record("bad UTF-8 accepted") }
        #expect(loadError(rawFile(header: "[1, 2]")) == .headerNotObject)
        if case .metadataNotStringMap? = loadError(rawFile(header: #"{"__metadata__":{"epochs":3}}"#)) {} else {
            Issue.record("numeric metadata value accepted")
        }
        if case .metadataNotStringMap? = loadError(rawFile(header: #"{"__metadata__":["a"]}"#)) {} else {
            Issue.record("array metadata accepted")
        }
    }

    @Test("tensor entry errors") func tensorEntryErrors() {
        for (entry, what) in [(#"{"dtype":"F32","data_offsets":[0,0]}"#, "no shape"),
                              (#"{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}"#, "negative dimension"),
                              (#"{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}"#, "fractional dimension"),
                              (#"{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}"#, "three offsets"),
                              (#"{"dtype":"F32","shape":[0],"data_offsets":[0,1e30]}"#, "huge offset"),
                              (#"{"dtype":32,"shape":[0],"data_offsets":[0,0]}"#, "numeric dtype"),
                              (#""F32""#, "not an object"),
                              (#"{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}"#, "overflowing shape")] {
            guard case .invalidTensorEntry(let tensor, _)? = loadError(rawFile(header: #"{"t":\#(entry)}"#)) else {
                Issue.record("\(what) accepted")
                continue
            }
            #expect(tensor == "t")
        }
        #expect(loadError(rawFile(header: #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)))
            == .unknownDType(tensor: "t", dtype: "F64"))
    }

    @Test("data buffer errors") func dataBufferErrors() {
        #expect(loadError(twoTensors(b: "[8,24]")) == .tensorOffsetsOutOfRange(tensor: "b", begin: 8, end: 24, dataByteCount: 16))
        #expect(loadError(twoTensors(b: "[16,8]")) == .tensorOffsetsOutOfRange(tensor: "b", begin: 16, end: 8, dataByteCount: 16))
        #expect(loadError(twoTensors(b: "[4,12]")) == .tensorsOverlap(first: "a", second: "b"))
        #expect(loadError(twoTensors(b: "[12,20]", dataCount: 20)) == .uncoveredData(offset: 8, byteCount: 4, dataByteCount: 20))
        #expect(loadError(twoTensors(dataCount: 19)) == .uncoveredData(offset: 16, byteCount: 3, dataByteCount: 19))
        #expect(loadError(twoTensors(b: "[8,12]", dataCount: 12))
            == .tensorSizeMismatch(tensor: "b", shape: [2], dtype: "F32", expectedBytes: 8, actualBytes: 4))
    }

    @Test("missing and unexpected tensors are named") func tensorSetErrors() throws {
        #expect(loadError(try editedFixture { $0["lstm.bias_hh_l0"] = nil }) == .missingTensor("lstm.bias_hh_l0"))
        #expect(loadError(try editedFixture { $0["fc.weight"] = nil }) == .missingTensor("fc.weight"))
        #expect(loadError(try editedFixture(.twoLayers) { $0["lstm.weight_hh_l1"] = nil }) == .missingTensor("lstm.weight_hh_l1"))
        #expect(loadError(try editedFixture { $0.removeAll() }) == .missingTensor("lstm.weight_ih_l0"))
        #expect(loadError(try editedFixture { $0["num_batches_tracked"] = SafetensorsTensor(shape: [], values: [0]) })
            == .unexpectedTensor("num_batches_tracked"))
        // A layer 2 without a layer 1 is not a third layer.
        #expect(loadError(try editedFixture { $0["lstm.weight_ih_l2"] = SafetensorsTensor(shape: [128, 32], values: .init(repeating: 0, count: 4096)) })
            == .unexpectedTensor("lstm.weight_ih_l2"))
    }

    @Test("inconsistent shapes name the tensors and their shapes") func shapeErrors() throws {
        func zeros(_ shape: [Int]) -> SafetensorsTensor { SafetensorsTensor(shape: shape, values: .init(repeating: 0, count: shape.reduce(1, *))) }
        let h128: [String: SafetensorsTensor] = [
            "lstm.weight_ih_l0": zeros([400, 28]), "lstm.weight_hh_l0": zeros([512, 128]),
            "lstm.bias_ih_l0": zeros([512]), "lstm.bias_hh_l0": zeros([512]),
            "fc.weight": zeros([10, 128]), "fc.bias": zeros([10]),
        ]
        let error = loadError(SafetensorsFile(tensors: h128).serialized())
        #expect(error == .inconsistentShapes("hidden size 128 read from lstm.weight_hh_l0 [512, 128] disagrees with lstm.weight_ih_l0 [400, 28] (expected 4 × 128 = 512 rows)"))
        #expect(error?.description.contains("lstm.weight_ih_l0 [400, 28]") == true)

        let cases: [(String, SafetensorsTensor, [String])] = [
            ("lstm.weight_hh_l0", zeros([128, 31]), ["lstm.weight_hh_l0 [128, 31]", "4 × 31 = 124"]),
            ("lstm.bias_ih_l0", zeros([127]), ["lstm.bias_ih_l0 [127]", "4 × 32 = 128"]),
            ("lstm.bias_hh_l0", zeros([128, 1]), ["lstm.bias_hh_l0 [128, 1]"]),
            ("fc.weight", zeros([10, 16]), ["fc.weight [10, 16]", "[C, 32]"]),
            ("fc.bias", zeros([9]), ["fc.weight [10, 32]", "fc.bias [9]"]),
        ]
        for (name, tensor, fragments) in cases {
            guard case .inconsistentShapes(let message)? = loadError(try editedFixture { $0[name] = tensor }) else {
                Issue.record("\(name) \(tensor.shape) accepted")
                continue
            }
            for fragment in fragments { #expect(message.contains(fragment), "\(message)") }
        }
        guard case .inconsistentShapes(let message)? = loadError(try editedFixture(.twoLayers) { $0["lstm.weight_ih_l1"] = zeros([64, 28]) }) else {
            Issue.record("layer 1 with 28 inputs accepted")
            return
        }
        #expect(message.contains("lstm.weight_ih_l1 [64, 28]") && message.contains("16 columns"))
    }

    @Test("NaN and infinity in a weight name the tensor and the index") func nonFiniteWeights() throws {
        let nan = loadError(try editedFixture { $0["fc.bias"]!.values[3] = .nan })
        guard case .nonFiniteWeight(let tensor, let index, let value)? = nan else {
            Issue.record("NaN accepted: \(String(describing: nan))")
            return
        }
        #expect(tensor == "fc.bias" && index == 3 && value.isNaN)
        #expect(loadError(try editedFixture(.twoLayers) { $0["lstm.weight_hh_l1"]!.values[77] = -.infinity })
            == .nonFiniteWeight(tensor: "lstm.weight_hh_l1", index: 77, value: -.infinity))
    }

    @Test("bad metadata values are rejected, naming the key") func metadataErrors() throws {
        let bad: [(String, String)] = [
            ("input_scale", "0"), ("input_scale", "-1"), ("input_scale", "nan"), ("input_scale", "inf"),
            ("input_scale", "abc"), ("labels", #"["a","b"]"#), ("labels", "a,b,c"), ("labels", "[1,2,3,4,5,6,7,8,9,10]"),
            ("sequence_length", "0"), ("sequence_length", "28.5"), ("format", "keras"), ("format_version", "2"),
            ("format_version", "one"),
        ]
        for (key, value) in bad {
            guard case .invalidMetadataValue(let reportedKey, let reportedValue, _)? = loadError(try editedFixture(metadata: [key: value])) else {
                Issue.record("\(key)=\(value) accepted")
                continue
            }
            #expect(reportedKey == key && reportedValue == value)
        }
        let good = try LSTMModel.load(bytes: try editedFixture(metadata: ["input_scale": "0.00392156862745098", "sequence_length": "28",
                                                                          "labels": #"["0","1","2","3","4","5","6","7","8","nine"]"#,
                                                                          "trainer": "lstm-train 0.1"]))
        #expect(good.metadata.inputScale == Float(1.0 / 255.0))
        #expect(good.metadata.sequenceLength == 28)
        #expect(good.metadata.labels.last == "nine")
        #expect(good.metadata.provenance == ["trainer": "lstm-train 0.1"])
    }

    @Test("file errors name the path") func fileErrors() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/lstmd/model.safetensors")
        #expect(throws: ModelError.self) { try LSTMModel.load(contentsOf: missing) }
        do {
            _ = try LSTMModel.load(contentsOf: missing)
        } catch {
            #expect(error.description.contains("/nonexistent/lstmd/model.safetensors"))
        }
        let model = try FixtureModel.oneLayer.load()
        do {
            try model.write(to: missing)
            Issue.record("write to a missing directory succeeded")
        } catch {
            guard case .unwritableFile(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == missing.path)
        }
    }
}

@Suite("corruption")
struct CorruptionTests {
    /// A tiny model with metadata: a few hundred bytes.
    private func smallModelBytes() throws -> [UInt8] {
        try randomModel(LSTMShape(inputSize: 3, hiddenSize: 2, layers: 2, classes: 2), seed: 5,
                        metadata: ModelMetadata(sequenceLength: 4, inputScale: 0.5, labels: ["no", "yes"],
                                                provenance: ["dataset": "none"])).safetensorsBytes()
    }

    @Test("every truncation of a model file throws") func truncations() throws {
        let bytes = try smallModelBytes()
        #expect(loadError(bytes) == nil)
        var failures = 0
        for length in 0..<bytes.count where loadError(Array(bytes[0..<length])) == nil {
            failures += 1
        }
        #expect(failures == 0)
    }

    @Test("thousands of random byte flips and overwrites load or throw, never crash") func randomCorruption() throws {
        let bytes = try smallModelBytes()
        let headerEnd = 8 + bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let interesting = Array(#"{}[]",:-0123456789e.E "#.utf8) + [0x00, 0xFF, 0x7F, 0x80, 0xC3]
        var rng = SplitMix64(state: 2026)
        var loaded = 0, rejected = 0
        for trial in 0..<4000 {
            var corrupt = bytes
            for _ in 0..<(1 + trial % 3) {
                // Mostly the header, where a byte changes meaning; sometimes the prefix or the data.
                let region = Int.random(in: 0..<10, using: &rng)
                let position = region < 1 ? Int.random(in: 0..<8, using: &rng)
                    : region < 8 ? Int.random(in: 8..<headerEnd, using: &rng)
                    : Int.random(in: headerEnd..<corrupt.count, using: &rng)
                switch trial % 3 {
                case 0: corrupt[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 1: corrupt[position] = UInt8.random(in: 0...255, using: &rng)
                default: corrupt[position] = interesting.randomElement(using: &rng)!
                }
            }
            if loadError(corrupt) == nil { loaded += 1 } else { rejected += 1 }
        }
        #expect(loaded + rejected == 4000)
        #expect(loaded > 0 && rejected > 0)
    }

    @Test("deeply nested JSON is rejected without exhausting the stack") func deepNesting() {
        let depth = 100_000
        let header = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        guard case .invalidHeaderJSON? = loadError(rawFile(header: header)) else {
            Issue.record("deeply nested header not reported as invalid JSON")
            return
        }
    }
}
