import ArgumentParser
import Foundation
import LSTMCore

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sizes, parameters per tensor and metadata of a model, and what num_units means.",
        discussion: "Example: lstm-train info mnist-128.safetensors")

    @Argument(help: "The safetensors model.")
    var model: String

    func run() throws {
        let loaded = try LSTMModel.load(contentsOf: URL(fileURLWithPath: model))
        let s = loaded.shape, h = s.hiddenSize
        print("model     \(model)")
        print("sha256    \(loaded.sha256)")
        print("shape     input I = \(s.inputSize), num_units H = \(h), layers L = \(s.layers), classes C = \(s.classes)")
        print("")
        print("""
        What num_units is: H = \(h) is the width of the LSTM's state. Each step keeps
          h (hidden output) [\(h)] and c (cell) [\(h)] per layer,
        and computes four gate blocks of H = \(h) each from [x_t, h_{t−1}]:
          i (input gate), f (forget gate), g (candidate cell), o (output gate) — 4·H = \(4 * h) rows
        of weight_ih [4H × I] and weight_hh [4H × H]:
          c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   logits = fc.weight · h_T + fc.bias.
        One stream's state is 2·L·H = \(s.stateCount) floats.
        """)
        print("")
        print("parameters by tensor:")
        var rows: [(String, String, Int)] = []
        for (k, layer) in loaded.parameters.layers.enumerated() {
            let input = s.layerInputSize(k)
            rows.append(("lstm.weight_ih_l\(k)", "[\(4 * h) × \(input)]", layer.weightIH.count))
            rows.append(("lstm.weight_hh_l\(k)", "[\(4 * h) × \(h)]", layer.weightHH.count))
            rows.append(("lstm.bias_ih_l\(k)", "[\(4 * h)]", layer.biasIH.count))
            rows.append(("lstm.bias_hh_l\(k)", "[\(4 * h)]", layer.biasHH.count))
        }
        rows.append(("fc.weight", "[\(s.classes) × \(h)]", loaded.parameters.fcWeight.count))
        rows.append(("fc.bias", "[\(s.classes)]", loaded.parameters.fcBias.count))
        let total = rows.reduce(0) { $0 + $1.2 }
        for (name, shape, count) in rows {
            print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0) + shape.padding(toLength: 14, withPad: " ", startingAt: 0)
                  + String(count).leftPadded(9))
        }
        let lstm = total - loaded.parameters.fcWeight.count - loaded.parameters.fcBias.count
        print("  " + "total".padding(toLength: 34, withPad: " ", startingAt: 0) + String(total).leftPadded(9)
              + "  (LSTM \(lstm) = 4·H·(I + H + 2) per layer; classifier \(total - lstm))")
        print("")
        let m = loaded.metadata
        print("metadata:")
        let entries = [("format_version", String(m.formatVersion)),
                       ("sequence_length", m.sequenceLength.map(String.init) ?? "(not set: streams end on the LAST flag)"),
                       ("input_scale", m.inputScale.description),
                       ("labels", m.labels.joined(separator: " "))]
            + m.provenance.keys.sorted().map { ($0, m.provenance[$0]!) }
        // Values start in one column after the longest key (a converted model's classifier_activation is 21).
        let width = entries.map(\.0.count).max()! + 2
        for (key, value) in entries {
            print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + value)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
