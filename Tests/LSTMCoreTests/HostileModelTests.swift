import Foundation
import LSTMCore
import Testing

/// Model files made to break the loader: each must give a specific error, never a trap.
@Suite("hostile model files")
struct HostileModelTests {
    /// All six tensors of a one-layer model, each empty (data_offsets [0, 0]) with the given shape.
    private func emptyTensors(weightHH: String = "[0,4]", weightIH: String = "[0,28]", fcWeight: String = "[0,4]") -> [UInt8] {
        func entry(_ name: String, _ shape: String) -> String {
            #""\#(name)":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,0]}"#
        }
        let entries = [entry("lstm.weight_ih_l0", weightIH), entry("lstm.weight_hh_l0", weightHH),
                       entry("lstm.bias_ih_l0", "[0]"), entry("lstm.bias_hh_l0", "[0]"),
                       entry("fc.weight", fcWeight), entry("fc.bias", "[0]")]
        return rawFile(header: "{" + entries.joined(separator: ",") + "}")
    }

    @Test("a zero-row weight_hh_l0 of 2^62 columns is refused before 4·H overflows") func overflowingHiddenSize() {
        let error = loadError(emptyTensors(weightHH: "[0,4611686018427387904]"))
        guard case let .sizeLimitExceeded(size, value, limit, source, _)? = error else {
            Issue.record("accepted or another error: \(String(describing: error))")
            return
        }
        #expect(size == "hidden size H" && value == 1 << 62 && limit == LSTMShape.Limits.maxWidth)
        #expect(source == "lstm.weight_hh_l0 [0, 4611686018427387904]")
        #expect(error!.description.contains("exceeds the limit of 1048576"))
    }

    @Test("huge input and class counts in empty tensors are refused by name") func overflowingOtherSizes() {
        guard case let .sizeLimitExceeded(size, _, _, source, _)? = loadError(emptyTensors(weightIH: "[0,9223372036854775807]")) else {
            Issue.record("a huge input size was accepted")
            return
        }
        #expect(size == "input size I" && source.hasPrefix("lstm.weight_ih_l0"))
        guard case let .sizeLimitExceeded(size, value, _, _, _)? = loadError(emptyTensors(fcWeight: "[1152921504606846976,0]")) else {
            Issue.record("a huge class count was accepted")
            return
        }
        #expect(size == "class count C" && value == 1 << 60)
    }

    @Test("a model of 256 classes is refused at load: a prediction carries its class in one byte") func tooManyClasses() throws {
        func zeros(_ shape: [Int]) -> SafetensorsTensor { SafetensorsTensor(shape: shape, values: .init(repeating: 0, count: shape.reduce(1, *))) }
        let error = loadError(try editedFixture { $0["fc.weight"] = zeros([256, 32]); $0["fc.bias"] = zeros([256]) })
        #expect(error == .sizeLimitExceeded(size: "class count C", value: 256, limit: 255, source: "fc.weight [256, 32]",
                                            reason: "a prediction carries its class in one byte and 255 marks an error"))
        #expect(loadError(try editedFixture { $0["fc.weight"] = zeros([255, 32]); $0["fc.bias"] = zeros([255]) }) == nil)
    }

    @Test("shapes given in memory are checked against the limits before they are multiplied") func inMemoryShapes() {
        #expect(throws: ModelError.self) {
            try LSTMParameters(shape: LSTMShape(inputSize: 1, hiddenSize: 1 << 62, layers: 1, classes: 1),
                               layers: [LSTMLayerParameters(weightIH: [], weightHH: [], biasIH: [], biasHH: [])],
                               fcWeight: [], fcBias: [])
        }
    }

    @Test("absurd input_scale and sequence_length values are refused with the limit") func absurdMetadata() throws {
        for (key, value) in [("input_scale", "3.4e38"), ("input_scale", "1e-30"), ("input_scale", "1e10"),
                             ("sequence_length", "4294967297"), ("sequence_length", "99999999999999999999")] {
            guard case let .invalidMetadataValue(reportedKey, reportedValue, _)? = loadError(try editedFixture(metadata: [key: value])) else {
                Issue.record("\(key)=\(value) accepted")
                continue
            }
            #expect(reportedKey == key && reportedValue == value)
        }
        #expect(loadError(try editedFixture(metadata: ["input_scale": "1e9", "sequence_length": "4294967296"])) == nil)
    }

    @Test("the header length of a file that is not safetensors is not echoed") func foreignFileIsNotEchoed() {
        let bytes = Array("root:x:0:0:root:/root:/bin/bash\n".utf8)
        let error = loadError(bytes)
        #expect(error == .headerTooLarge(limit: SafetensorsFile.maxHeaderLength))
        let prefix = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        #expect(error?.description.contains(String(prefix)) == false)
        #expect(error?.description.hasPrefix("not a safetensors file") == true)
    }

    @Test("a directory, a FIFO, a device and an oversized file are refused by what they are") func nonRegularFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-hostile-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        // Sparse: no disk space used.
        let large = directory.appendingPathComponent("large.safetensors")
        #expect(FileManager.default.createFile(atPath: large.path, contents: nil))
        #expect(truncate(large.path, off_t(LSTMModel.maxFileByteCount + 1)) == 0)

        for (path, fragment) in [(directory.path, "it is a directory, not a regular file"),
                                 (fifo.path, "it is a FIFO, not a regular file"),  // must not block
                                 ("/dev/zero", "it is a character device, not a regular file"),
                                 (large.path, "it has \(LSTMModel.maxFileByteCount + 1) bytes, more than the limit of \(LSTMModel.maxFileByteCount)"),
                                 (directory.appendingPathComponent("missing").path, "No such file or directory")] {
            do {
                _ = try LSTMModel.load(contentsOf: URL(fileURLWithPath: path))
                Issue.record("\(path) loaded")
            } catch {
                #expect(error == .unreadableFile(path: path, reason: String(fragment)) || error.description.contains(fragment),
                        "\(error)")
                #expect(error.description.contains(path))
            }
        }
    }
}
