import ArgumentParser
import LSTMDRelease

@main
@available(macOS 10.15, *)
/// lstm-train: trains, evaluates and explains the MNIST row-by-row LSTM that lstmd serves.
struct LSTMTrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-train",
        abstract: "Train, evaluate and explain the LSTM that reads MNIST digits one 28-pixel row per step.",
        discussion: """
        The model is PyTorch's nn.LSTM(28, H) followed by nn.Linear(H, 10) on the last step's h, stored as safetensors with PyTorch's tensor names. H is num_units (--hidden-units).

        Example:
          lstm-train fetch-mnist --to mnist
          lstm-train train --data mnist --epochs 5 --out mnist-128.safetensors
        """,
        version: LSTMDVersion.current,
        subcommands: [Train.self, Eval.self, Info.self, Sweep.self, FetchMNIST.self])
}

