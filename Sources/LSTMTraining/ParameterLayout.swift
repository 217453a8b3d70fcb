import LSTMCore
/// Where each parameter tensor lives inside one flat buffer, in PyTorch's `state_dict()` order and
/// with PyTorch's names, so that parameters, gradients and both Adam moments share one layout and
/// the optimiser, the clipping and the checkpoints treat all tensors as one vector.
public struct ParameterLayout: Sendable, Equatable {
    /// One named tensor: `dimensions` row-major, `count` elements from `offset`.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let dimensions: [Int]
        public let offset: Int
        public var count: Int { dimensions.reduce(1, *) }
    }

    public let shape: LSTMShape
    public let tensors: [Tensor]
    /// Total number of parameters.
    public let count: Int

    public init(shape: LSTMShape) {
        self.shape = shape
        let h = shape.hiddenSize
        var tensors: [Tensor] = []
        var offset = 0
        func add(_ name: String, _ dimensions: [Int]) {
            tensors.append(Tensor(name: name, dimensions: dimensions, offset: offset))
            offset += dimensions.reduce(1, *)
        }
        for k in 0..<shape.layers {
            let inputWidth = k == 0 ? shape.inputSize : h
            add("lstm.weight_ih_l\(k)", [4 * h, inputWidth])
            add("lstm.weight_hh_l\(k)", [4 * h, h])
            add("lstm.bias_ih_l\(k)", [4 * h])
            add("lstm.bias_hh_l\(k)", [4 * h])
        }
        add("fc.weight", [shape.classes, h])
        add("fc.bias", [shape.classes])
        self.tensors = tensors
        self.count = offset
    }

    /// The tensor called `name`, if the layout has one.
    public func tensor(named name: String) -> Tensor? { tensors.first { $0.name == name } }

    // Offsets used by the math (layer k's four tensors are consecutive: ih, hh, bias ih, bias hh).
    func weightIH(_ k: Int) -> Int { tensors[4 * k].offset }
    func weightHH(_ k: Int) -> Int { tensors[4 * k + 1].offset }
    func biasIH(_ k: Int) -> Int { tensors[4 * k + 2].offset }
    func biasHH(_ k: Int) -> Int { tensors[4 * k + 3].offset }
    var fcWeight: Int { tensors[4 * shape.layers].offset }
    var fcBias: Int { tensors[4 * shape.layers + 1].offset }
}
