import Foundation
import LSTMCore
/// Every file of these tests sees the shared helpers (`SplitMix64`, `randomModel`, `maxAbsDifference`).
@_exported import TestSupport

/// The two PyTorch fixtures made by Scripts/make_model_fixture.py.
enum FixtureModel: String, CaseIterable, Sendable, CustomStringConvertible {
    case oneLayer = "pytorch-lstm-h32"
    case twoLayers = "pytorch-lstm-2layer-h16"

    var description: String { rawValue }

    var modelBytes: [UInt8] { get throws { [UInt8](try Data(contentsOf: Fixtures.url(rawValue + ".safetensors"))) } }

    func load() throws -> LSTMModel { try LSTMModel.load(contentsOf: Fixtures.url(rawValue + ".safetensors")) }

    /// inputs [N, 28, I], probabilities [N, 28, C], h and c [N, 28, L, H] from PyTorch.
    func reference() throws -> Reference {
        let file = try SafetensorsFile(bytes: [UInt8](Data(contentsOf: Fixtures.url(rawValue + "-io.safetensors"))))
        return Reference(inputs: file.tensors["inputs"]!, probabilities: file.tensors["probabilities"]!,
                         h: file.tensors["h"]!, c: file.tensors["c"]!)
    }
}

struct Reference {
    var inputs: SafetensorsTensor
    var probabilities: SafetensorsTensor
    var h: SafetensorsTensor
    var c: SafetensorsTensor

    var samples: Int { inputs.shape[0] }
    var steps: Int { inputs.shape[1] }
    var inputSize: Int { inputs.shape[2] }

    func input(sample: Int, step: Int) -> ArraySlice<Float> {
        let start = (sample * steps + step) * inputSize
        return inputs.values[start..<start + inputSize]
    }

    func probabilities(sample: Int, step: Int) -> ArraySlice<Float> {
        let classes = probabilities.shape[2]
        let start = (sample * steps + step) * classes
        return probabilities.values[start..<start + classes]
    }

    /// The state layout of LSTMStepper (per layer h then c) after `step + 1` rows.
    func state(sample: Int, step: Int) -> [Float] {
        let layers = h.shape[2], hidden = h.shape[3]
        var state: [Float] = []
        for k in 0..<layers {
            let start = ((sample * steps + step) * layers + k) * hidden
            state += h.values[start..<start + hidden]
            state += c.values[start..<start + hidden]
        }
        return state
    }
}

/// A safetensors file assembled by hand: prefix, header text (unpadded), data.
func rawFile(header: String, data: [UInt8] = []) -> [UInt8] {
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
    return bytes + json + data
}

/// Loads `bytes` and returns the error, or nil when they load.
func loadError(_ bytes: [UInt8]) -> ModelError? {
    do {
        _ = try LSTMModel.load(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// The fixture's tensors, changed by `edit`, re-serialized.
func editedFixture(_ model: FixtureModel = .oneLayer, metadata: [String: String] = [:],
                   _ edit: (inout [String: SafetensorsTensor]) -> Void = { _ in }) throws -> [UInt8] {
    var file = try SafetensorsFile(bytes: model.modelBytes)
    edit(&file.tensors)
    file.metadata = metadata
    return file.serialized()
}
