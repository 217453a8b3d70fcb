import Foundation
import LSTMCore
import Testing
import TestSupport

/// Runs the built `lstm-train` with `arguments`; nil when the executable has not been built.
private func lstmTrain(_ arguments: [String]) throws -> (status: Int32, output: String)? {
    let executable = Fixtures.productsDirectory.appendingPathComponent("lstm-train")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else { return nil }
    let result = try runProcess(executable.path, arguments, unsetting: ["LSTMD_MNIST_DIR"])
    return (result.status, result.output)
}

private let built = FileManager.default.isExecutableFile(
    atPath: Fixtures.productsDirectory.appendingPathComponent("lstm-train").path)

@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func badOptionValuesAreRejectedByName() throws {
    let result = try #require(try lstmTrain(["train", "--hidden-units", "0", "--out", "/tmp/x.safetensors"]))
    #expect(result.status != 0)
    #expect(result.output.contains("--hidden-units must be 1…4096, got 0"))
    let scale = try #require(try lstmTrain(["eval", "model.safetensors", "--input-scale", "1/0"]))
    #expect(scale.status != 0)
    #expect(scale.output.contains("--input-scale must be a positive number or a fraction like 1/255"))
}

@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func unwritableOutputIsReportedBeforeTraining() throws {
    let result = try #require(try lstmTrain(["train", "--data", Fixtures.directory.path,
                                             "--out", "/nonexistent-directory/model.safetensors"]))
    #expect(result.status != 0)
    #expect(result.output.contains("cannot write model /nonexistent-directory/model.safetensors: directory /nonexistent-directory does not exist"))
}

@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func missingDataFilesAreNamed() throws {
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-train-empty-\(getpid())")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let result = try #require(try lstmTrain(["train", "--data", empty.path, "--out", empty.appendingPathComponent("m.safetensors").path]))
    #expect(result.status != 0)
    #expect(result.output.contains("train-images-idx3-ubyte"))
    let unset = try #require(try lstmTrain(["train", "--out", empty.appendingPathComponent("m.safetensors").path]))
    #expect(unset.status != 0)
    #expect(unset.output.contains("LSTMD_MNIST_DIR"))
}

/// eval on a PyTorch-exported model (no metadata) over the 100-digit fixture, and info on it.
@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func evalAndInfoDescribeAPyTorchModel() throws {
    let model = Fixtures.url("torch-lstm16.safetensors").path
    let eval = try #require(try lstmTrain(["eval", model, "--input-scale", "1/255",
                                           "--images", Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz").path,
                                           "--labels", Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz").path]))
    #expect(eval.status == 0, "\(eval.output)")
    #expect(eval.output.contains("accuracy") && eval.output.contains("/100)"))
    #expect(eval.output.contains("confusion matrix"))
    let info = try #require(try lstmTrain(["info", model]))
    #expect(info.status == 0, "\(info.output)")
    #expect(info.output.contains("num_units H = 16"))
    #expect(info.output.contains("lstm.weight_hh_l0   [64 × 16]"))
    #expect(info.output.contains("total") && info.output.contains("3114"))
}

/// info used to cut keys to 16 characters (`classifier_activ`, written by the Keras converter).
@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func convertedModelInfoShowsEveryKeyInFullWithValuesInOneColumn() throws {
    let file = Fixtures.url("keras-lstm1-h20.safetensors")
    let model = try LSTMModel.load(contentsOf: file)
    let info = try #require(try lstmTrain(["info", file.path]))
    #expect(info.status == 0, "\(info.output)")
    let lines = info.output.split(separator: "\n")
    let metadata = try #require(lines.firstIndex(of: "metadata:"))
    var keys: [String] = []
    var valueColumns: Set<Int> = []
    for line in lines[(metadata + 1)...] where line.hasPrefix("  ") {
        let key = line.dropFirst(2).prefix { $0 != " " }
        keys.append(String(key))
        valueColumns.insert(line.count - line.dropFirst(2 + key.count).drop { $0 == " " }.count)
    }
    #expect(keys.sorted() == (["format_version", "input_scale", "labels", "sequence_length"] + model.metadata.provenance.keys).sorted())
    #expect(valueColumns.count == 1, "\(info.output)")
    #expect(info.output.contains("  classifier_activation  softmax (lstmd applies softmax to the classifier's output)\n"))
}

/// A model of fewer classes than the digits' labels used to crash `eval` (index out of range).
@Test(.enabled(if: built, "lstm-train not built (swift build)"))
func evalOfAThreeClassModelReportsLabelsItCannotPredict() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-3-classes-\(getpid()).safetensors")
    defer { try? FileManager.default.removeItem(at: file) }
    try makeRandomModel(inputSize: 28, hidden: 4, layers: 1, classes: 3, sequenceLength: 28).write(to: file)
    let result = try #require(try lstmTrain(["eval", file.path,
                                             "--images", Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz").path,
                                             "--labels", Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz").path]))
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("accuracy"))
    // Rows for the labels 3…9 that no prediction can match, named by their number.
    #expect(result.output.contains("\n       9 "), "\(result.output)")
}
