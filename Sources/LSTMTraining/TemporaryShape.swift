// Stand-in for LSTMModel.LSTMShape until branch wip-model lands (deleted on merge).
public struct LSTMShape: Sendable, Equatable {
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var classes: Int
    public init(inputSize: Int, hiddenSize: Int, layers: Int, classes: Int) {
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.layers = layers; self.classes = classes
    }
}
