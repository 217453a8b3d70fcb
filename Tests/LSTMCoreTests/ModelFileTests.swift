import Foundation
import LSTMCore
import TestSupport
import Testing

@Suite("model files")
struct ModelFileTests {
    @Test("a PyTorch state_dict saved without metadata loads with sizes from its shapes and defaults",
          arguments: FixtureModel.allCases)
    func loadsPlainPyTorchFile(fixture: FixtureModel) throws {
        let model = try fixture.load()
        let expected = fixture == .oneLayer
            ? LSTMShape(inputSize: 28, hiddenSize: 32, layers: 1, classes: 10)
            : LSTMShape(inputSize: 28, hiddenSize: 16, layers: 2, classes: 10)
        #expect(model.shape == expected)
        #expect(model.metadata.sequenceLength == nil)
        #expect(model.metadata.inputScale == 1)
        #expect(model.metadata.labels == (0..<10).map(String.init))
        #expect(model.metadata.provenance.isEmpty)
        let sha256sum = try runProcess("/usr/bin/sha256sum", [Fixtures.url(fixture.rawValue + ".safetensors").path])
        #expect(model.sha256 == String(decoding: sha256sum.stdoutBytes.prefix(64), as: UTF8.self))
    }

    @Test("write then load keeps parameters, metadata, provenance and unknown keys")
    func roundTrip() throws {
        let original = try FixtureModel.twoLayers.load()
        let metadata = ModelMetadata(
            sequenceLength: 28, inputScale: 1 / 255.0,
            labels: ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
            provenance: [ModelMetadata.Key.dataset: "mnist", ModelMetadata.Key.epochs: "3",
                         ModelMetadata.Key.datasetSHA256: #"{"train-images": "abc"}"#,
                         ModelMetadata.Key.created: "2026-11-29T02:00:00Z", "x-unknown": "kept"])
        let model = LSTMModel(parameters: original.parameters, metadata: metadata)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-roundtrip-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.write(to: url)

        let loaded = try LSTMModel.load(contentsOf: url)
        #expect(loaded.parameters == original.parameters)
        #expect(loaded.metadata == metadata)
        #expect(loaded.metadata.provenance["x-unknown"] == "kept")
        #expect(loaded.sha256 == model.sha256)
        #expect(loaded.safetensorsBytes() == model.safetensorsBytes())

        let file = try SafetensorsFile(bytes: [UInt8](Data(contentsOf: url)))
        #expect(file.metadata["format"] == "lstmd-lstm")
        #expect(file.metadata["format_version"] == "1")
        #expect(file.metadata["sequence_length"] == "28")
        #expect(Float(file.metadata["input_scale"]!) == 1 / 255.0)
        #expect(Set(file.tensors.keys) == Set(["fc.bias", "fc.weight", "lstm.bias_hh_l0", "lstm.bias_ih_l0",
                                               "lstm.weight_hh_l0", "lstm.weight_ih_l0", "lstm.bias_hh_l1",
                                               "lstm.bias_ih_l1", "lstm.weight_hh_l1", "lstm.weight_ih_l1"]))
        #expect(file.tensors["lstm.weight_ih_l1"]?.shape == [64, 16])
    }

    @Test("written headers are padded to 8 bytes and the writer is deterministic")
    func headerLayout() throws {
        let model = try FixtureModel.oneLayer.load()
        let bytes = model.safetensorsBytes()
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0)
        #expect(String(decoding: bytes[8..<16], as: UTF8.self) == #"{"__meta"#)
        #expect(bytes == LSTMModel(parameters: model.parameters, metadata: model.metadata).safetensorsBytes())
    }

    @Test("F16 and BF16 tensors are upcast to Float", arguments: [SafetensorsDType.f16, .bf16])
    func halfPrecisionLoads(dtype: SafetensorsDType) throws {
        let bytes = try editedFixture(.twoLayers) { tensors in
            for name in tensors.keys { tensors[name]!.dtype = dtype }
        }
        let loaded = try LSTMModel.load(bytes: bytes)
        let original = try FixtureModel.twoLayers.load()
        func rounded(_ value: Float) -> Float {
            if dtype == .f16 { return Float(Float16(value)) }
            // bfloat16: round the low 16 bits away, ties to even.
            let bits: UInt32 = value.bitPattern
            let tieBreak: UInt32 = (bits >> 16) & 1
            return Float(bitPattern: (bits &+ 0x7FFF &+ tieBreak) & 0xFFFF_0000)
        }
        #expect(loaded.parameters.fcWeight == original.parameters.fcWeight.map(rounded))
        #expect(loaded.parameters.layers[1].weightHH == original.parameters.layers[1].weightHH.map(rounded))
        let worst = maxAbsDifference(loaded.parameters.layers[0].weightIH, original.parameters.layers[0].weightIH)
        #expect(worst > 0 && worst < (dtype == .f16 ? 1e-3 : 1e-2))
    }

    @Test("known half-precision bit patterns decode exactly")
    func halfPrecisionBitPatterns() throws {
        // F16: 1.0, -2.0, 65504 (largest), 2^-24 (smallest subnormal). BF16: 1.0, 3.140625, -0.0, +inf.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3F80, 0x4049, 0x8000, 0x7F80]
        let data = (f16 + bf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}}"#
        let file = try SafetensorsFile(bytes: rawFile(header: header, data: data))
        #expect(file.tensors["a"]?.values == [1, -2, 65504, 0x1p-24])
        #expect(file.tensors["b"]?.values == [1, 3.140625, 0, .infinity])
        #expect(file.tensors["b"]!.values[2].sign == .minus)
        #expect(file.tensors["a"]?.dtype == .f16)
    }
}
