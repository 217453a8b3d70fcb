import Foundation
import LSTMCore
import TestSupport
import Testing

/// Models converted from Keras and TensorFlow 1 by `python -m lstmd.convert`
/// (Tests/Fixtures/convert-fixtures.sh), beside the per-row probabilities Keras itself computed
/// (keras-make-fixtures.py) and TensorFlow 1's cell formula gives (tf1-make-fixtures.py).
enum ConvertedFixture: String, CaseIterable, Sendable, CustomStringConvertible {
    case keras1Layer = "keras-lstm1-h20"
    case keras2Layers = "keras-lstm2-h18"
    case tf1BasicCell = "tf1-basic-h11"
    case tf1BasicCellForgetBias0 = "tf1-basic-fb0-h13"
    case tf1MultiCell = "tf1-multi-h9"

    var description: String { rawValue }

    var sourceFormat: String {
        switch self {
        case .keras1Layer, .keras2Layers: "keras3"
        case .tf1BasicCell, .tf1BasicCellForgetBias0: "tf1-basic-lstm-cell"
        case .tf1MultiCell: "tf1-lstm-cell"
        }
    }

    struct Expectation: Decodable {
        struct Digit: Decodable {
            var label: Int
            var pixels: [UInt8]
            var probabilities: [[Float]]   // [28][C], after each row
        }
        var digits: [Digit]
    }

    func load() throws -> LSTMModel { try LSTMModel.load(contentsOf: Fixtures.url(rawValue + ".safetensors")) }

    func expectation() throws -> Expectation {
        try JSONDecoder().decode(Expectation.self, from: Data(contentsOf: Fixtures.url(rawValue + "-expected.json")))
    }
}

@Suite("models converted from Keras and TensorFlow 1")
struct ConvertedModelTests {
    /// What the source framework computed, in float32 (Keras) or float64 (the TF 1 formula).
    static let tolerance: Float = 1e-5

    @Test("every model the conversion script writes is a case here")
    func casesAreTheConvertedFixtures() throws {
        let script = try String(contentsOf: Fixtures.url("convert-fixtures.sh"), encoding: .utf8)
        let outputs = script.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: " -o ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first
                .map { String($0.dropLast(".safetensors".count)) }
        }
        #expect(outputs.sorted() == ConvertedFixture.allCases.map(\.rawValue).sorted())
    }

    @Test("metadata: MNIST rows of 28 uint8 pixels scaled by 1/255, and the converter's provenance",
          arguments: ConvertedFixture.allCases)
    func metadata(fixture: ConvertedFixture) throws {
        let model = try fixture.load()
        #expect(model.shape.inputSize == 28)
        #expect(model.shape.classes == 10)
        #expect(model.metadata.sequenceLength == 28)
        #expect(abs(model.metadata.inputScale - 1 / 255) < 1e-9)
        #expect(model.metadata.provenance["source_format"] == fixture.sourceFormat)
        #expect(model.metadata.provenance["gate_mapping"]?.isEmpty == false)
        #expect(model.metadata.provenance["source_sha256"]?.count == 64)
    }

    @Test("single-stream steps give the source framework's probabilities after every row",
          arguments: ConvertedFixture.allCases)
    func singleStepsMatchSource(fixture: ConvertedFixture) throws {
        let model = try fixture.load()
        let expected = try fixture.expectation()
        let stepper = model.makeStepper(maxBatch: 1)
        var state = [Float](repeating: .nan, count: model.shape.stateCount)
        var probabilities = [Float](repeating: 0, count: model.shape.classes)
        var worst: Float = 0
        for digit in expected.digits {
            stepper.resetState(&state)
            for row in 0..<28 {
                let input = digit.pixels[row * 28..<(row + 1) * 28].map { Float($0) * model.metadata.inputScale }
                stepper.step(input: input, state: &state, probabilities: &probabilities)
                worst = max(worst, zip(probabilities, digit.probabilities[row]).map { abs($0 - $1) }.max()!)
            }
        }
        #expect(worst <= Self.tolerance, "largest difference \(worst)")
    }

    @Test("batched steps of all digits at once give the same probabilities",
          arguments: ConvertedFixture.allCases)
    func batchedStepsMatchSource(fixture: ConvertedFixture) throws {
        let model = try fixture.load()
        let expected = try fixture.expectation()
        let count = expected.digits.count, classes = model.shape.classes
        let stepper = model.makeStepper(maxBatch: count)
        let states = (0..<count).map { _ in
            let state = UnsafeMutablePointer<Float>.allocate(capacity: model.shape.stateCount)
            stepper.resetState(state)
            return state
        }
        defer { states.forEach { $0.deallocate() } }
        var probabilities = [Float](repeating: 0, count: count * classes)
        var worst: Float = 0
        for row in 0..<28 {
            let inputs = expected.digits.flatMap { digit in
                digit.pixels[row * 28..<(row + 1) * 28].map { Float($0) * model.metadata.inputScale }
            }
            stepper.stepBatch(count: count, inputs: inputs, states: states, probabilities: &probabilities)
            for (b, digit) in expected.digits.enumerated() {
                let got = probabilities[b * classes..<(b + 1) * classes]
                worst = max(worst, zip(got, digit.probabilities[row]).map { abs($0 - $1) }.max()!)
            }
        }
        #expect(worst <= Self.tolerance, "largest difference \(worst)")
    }
}
