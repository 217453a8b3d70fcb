/// Sizes of a model, inferred from tensor shapes.
public struct LSTMShape: Sendable, Equatable, Codable {
    /// I: values per input row (28 for MNIST rows).
    public var inputSize: Int
    /// H: hidden units per layer.
    public var hiddenSize: Int
    /// L ≥ 1 stacked layers.
    public var layers: Int
    /// C: output classes.
    public var classes: Int

    public init(inputSize: Int, hiddenSize: Int, layers: Int, classes: Int) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.classes = classes
    }

    /// The largest sizes a model may have. Checked before any size is multiplied, so that every
    /// product of them (4H, 4H·(I+H), 2·L·H + C) stays far inside `Int`.
    public enum Limits {
        /// I and H: 2²⁰ (a layer of that width already needs terabytes of weights).
        public static let maxWidth = 1 << 20
        /// L.
        public static let maxLayers = 1024
        /// C: a prediction carries its argmax class in one byte and 255 marks an ERROR (LSP/1).
        public static let maxClasses = 255
    }

    /// Floats of one stream's state: for each layer k, h_k [H] then c_k [H].
    public var stateCount: Int { 2 * layers * hiddenSize }

    /// Inputs of layer k: I for the first layer, H above it.
    public func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : hiddenSize }

    /// Multiply-add FLOPs of one row step: 2·4H·(I_k+H) per layer, plus 2·C·H for the classifier.
    public var flopsPerRow: Int {
        (0..<layers).reduce(2 * classes * hiddenSize) { $0 + 2 * 4 * hiddenSize * (layerInputSize($1) + hiddenSize) }
    }
}

/// Layer k of a PyTorch `nn.LSTM`, row-major as in `state_dict()`: gate blocks i, f, g, o.
public struct LSTMLayerParameters: Sendable, Equatable {
    /// [4H, I_k]  `lstm.weight_ih_l{k}`
    public var weightIH: [Float]
    /// [4H, H]    `lstm.weight_hh_l{k}`
    public var weightHH: [Float]
    /// [4H]       `lstm.bias_ih_l{k}`
    public var biasIH: [Float]
    /// [4H]       `lstm.bias_hh_l{k}`
    public var biasHH: [Float]

    public init(weightIH: [Float], weightHH: [Float], biasIH: [Float], biasHH: [Float]) {
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
    }
}

/// All weights of an LSTM classifier: `nn.LSTM(I, H, L, batch_first=True)` followed by
/// `fc = nn.Linear(H, C)` applied to the top layer's h. Validated on creation; the properties stay
/// mutable for a trainer that updates weights in place and must keep the sizes.
public struct LSTMParameters: Sendable, Equatable {
    public var shape: LSTMShape
    public var layers: [LSTMLayerParameters]
    /// [C, H]  `fc.weight`
    public var fcWeight: [Float]
    /// [C]     `fc.bias`
    public var fcBias: [Float]

    /// Checks that every array has the size `shape` implies and that every value is finite.
    public init(shape: LSTMShape, layers: [LSTMLayerParameters], fcWeight: [Float], fcBias: [Float]) throws(ModelError) {
        guard shape.inputSize >= 1, shape.hiddenSize >= 1, shape.layers >= 1, shape.classes >= 1 else {
            throw .inconsistentShapes("model sizes must be positive: input \(shape.inputSize), hidden \(shape.hiddenSize), layers \(shape.layers), classes \(shape.classes)")
        }
        let given = "the model's shape"
        try Self.checkLimits(shape, sources: (given, given, given, given))
        guard layers.count == shape.layers else {
            throw .inconsistentShapes("\(layers.count) layer parameter sets for a model with \(shape.layers) layers")
        }
        let h = shape.hiddenSize
        for (k, layer) in layers.enumerated() {
            let names = TensorName.layer(k)
            try Self.check(layer.weightIH, names.weightIH, [4 * h, shape.layerInputSize(k)])
            try Self.check(layer.weightHH, names.weightHH, [4 * h, h])
            try Self.check(layer.biasIH, names.biasIH, [4 * h])
            try Self.check(layer.biasHH, names.biasHH, [4 * h])
        }
        try Self.check(fcWeight, TensorName.fcWeight, [shape.classes, h])
        try Self.check(fcBias, TensorName.fcBias, [shape.classes])
        self.shape = shape
        self.layers = layers
        self.fcWeight = fcWeight
        self.fcBias = fcBias
    }

    /// Throws the first size or finiteness problem, naming the tensor.
    public func validate() throws(ModelError) {
        _ = try LSTMParameters(shape: shape, layers: layers, fcWeight: fcWeight, fcBias: fcBias)
    }

    /// Throws when I, H, L or C is beyond `LSTMShape.Limits`, naming where the size was read.
    static func checkLimits(_ shape: LSTMShape,
                            sources: (input: String, hidden: String, layers: String, classes: String)) throws(ModelError) {
        let widthReason = "wider layers are refused before their sizes are multiplied"
        let checks = [("input size I", shape.inputSize, LSTMShape.Limits.maxWidth, sources.input, widthReason),
                      ("hidden size H", shape.hiddenSize, LSTMShape.Limits.maxWidth, sources.hidden, widthReason),
                      ("layer count L", shape.layers, LSTMShape.Limits.maxLayers, sources.layers, "deeper models are refused"),
                      ("class count C", shape.classes, LSTMShape.Limits.maxClasses, sources.classes,
                       "a prediction carries its class in one byte and 255 marks an error")]
        for (size, value, limit, source, reason) in checks where value > limit {
            throw .sizeLimitExceeded(size: size, value: value, limit: limit, source: source, reason: reason)
        }
    }

    private static func check(_ values: [Float], _ name: String, _ dimensions: [Int]) throws(ModelError) {
        let expected = dimensions.reduce(1, *)
        guard values.count == expected else {
            throw .inconsistentShapes("\(name) has \(values.count) values; its shape \(dimensions) needs \(expected)")
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteWeight(tensor: name, index: index, value: values[index])
        }
    }
}

/// Tensor names of a PyTorch state_dict of `lstm = nn.LSTM(...)` and `fc = nn.Linear(...)`.
enum TensorName {
    static let fcWeight = "fc.weight"
    static let fcBias = "fc.bias"

    static func layer(_ k: Int) -> (weightIH: String, weightHH: String, biasIH: String, biasHH: String) {
        ("lstm.weight_ih_l\(k)", "lstm.weight_hh_l\(k)", "lstm.bias_ih_l\(k)", "lstm.bias_hh_l\(k)")
    }
}

// MARK: - Tensors ↔ parameters

extension LSTMParameters {
    /// Reads parameters from state_dict tensors, inferring the sizes from the shapes: H from the
    /// columns of `lstm.weight_hh_l0`, I from the columns of `lstm.weight_ih_l0`, L from how many
    /// `lstm.weight_ih_l{k}` exist, C from the rows of `fc.weight`.
    init(tensors: [String: SafetensorsTensor]) throws(ModelError) {
        var layerCount = 0
        while tensors[TensorName.layer(layerCount).weightIH] != nil { layerCount += 1 }

        var expectedNames: Set<String> = [TensorName.fcWeight, TensorName.fcBias]
        for k in 0..<max(layerCount, 1) {
            let names = TensorName.layer(k)
            expectedNames.formUnion([names.weightIH, names.weightHH, names.biasIH, names.biasHH])
        }
        // Report missing tensors in a stable order: layers first, then the classifier.
        for k in 0..<max(layerCount, 1) {
            let names = TensorName.layer(k)
            for name in [names.weightIH, names.weightHH, names.biasIH, names.biasHH] where tensors[name] == nil {
                throw .missingTensor(name)
            }
        }
        for name in [TensorName.fcWeight, TensorName.fcBias] where tensors[name] == nil {
            throw .missingTensor(name)
        }
        if let extra = tensors.keys.filter({ !expectedNames.contains($0) }).min() {
            throw .unexpectedTensor(extra)
        }

        let hhName = TensorName.layer(0).weightHH
        let hh = tensors[hhName]!
        guard hh.shape.count == 2, hh.shape[1] >= 1 else {
            throw .inconsistentShapes("\(hhName) \(hh.shape) must be a matrix [4H, H] with H ≥ 1")
        }
        let h = hh.shape[1]
        let ihName = TensorName.layer(0).weightIH
        let inputSize = tensors[ihName]!.shape.last ?? 0
        let fc = tensors[TensorName.fcWeight]!
        // Before any size is multiplied; each named by the tensor it is read from.
        try Self.checkLimits(
            LSTMShape(inputSize: inputSize, hiddenSize: h, layers: layerCount, classes: fc.shape.first ?? 0),
            sources: (input: "\(ihName) \(tensors[ihName]!.shape)", hidden: "\(hhName) \(hh.shape)",
                      layers: "the lstm.weight_ih_l{k} tensors", classes: "\(TensorName.fcWeight) \(fc.shape)"))
        guard hh.shape[0] == 4 * h else {
            throw .inconsistentShapes("\(hhName) \(hh.shape) must be [4H, H]: \(hh.shape[0]) rows, expected 4 × \(h) = \(4 * h)")
        }
        // Every other shape is checked against H read from weight_hh_l0.
        func disagreement(_ name: String, _ tensor: SafetensorsTensor, _ expected: String) -> ModelError {
            .inconsistentShapes("hidden size \(h) read from \(hhName) \(hh.shape) disagrees with \(name) \(tensor.shape) (expected \(expected))")
        }
        func requireRows(_ name: String, columns: Int?) throws(ModelError) -> SafetensorsTensor {
            let tensor = tensors[name]!
            guard tensor.shape.count == 2 else {
                throw disagreement(name, tensor, "a matrix [4H, …] = [\(4 * h), …]")
            }
            guard tensor.shape[0] == 4 * h else {
                throw disagreement(name, tensor, "4 × \(h) = \(4 * h) rows")
            }
            if let columns, tensor.shape[1] != columns {
                throw disagreement(name, tensor, "\(columns) columns")
            }
            return tensor
        }
        func requireVector(_ name: String, length: Int, _ expected: String) throws(ModelError) -> SafetensorsTensor {
            let tensor = tensors[name]!
            guard tensor.shape == [length] else { throw disagreement(name, tensor, expected) }
            return tensor
        }

        var layers: [LSTMLayerParameters] = []
        for k in 0..<layerCount {
            let names = TensorName.layer(k)
            let ih = try requireRows(names.weightIH, columns: k == 0 ? nil : h)
            let hhk = try requireRows(names.weightHH, columns: h)
            let biasIH = try requireVector(names.biasIH, length: 4 * h, "a vector of 4 × \(h) = \(4 * h) values")
            let biasHH = try requireVector(names.biasHH, length: 4 * h, "a vector of 4 × \(h) = \(4 * h) values")
            layers.append(LSTMLayerParameters(weightIH: ih.values, weightHH: hhk.values,
                                              biasIH: biasIH.values, biasHH: biasHH.values))
        }
        guard inputSize >= 1 else {
            throw .inconsistentShapes("\(TensorName.layer(0).weightIH) \(tensors[TensorName.layer(0).weightIH]!.shape) has no input columns")
        }

        guard fc.shape.count == 2, fc.shape[1] == h, fc.shape[0] >= 1 else {
            throw disagreement(TensorName.fcWeight, fc, "[C, \(h)] with C ≥ 1")
        }
        let classes = fc.shape[0]
        let fcBias = tensors[TensorName.fcBias]!
        guard fcBias.shape == [classes] else {
            throw .inconsistentShapes("\(classes) classes read from \(TensorName.fcWeight) \(fc.shape) disagree with \(TensorName.fcBias) \(fcBias.shape) (expected [\(classes)])")
        }

        try self.init(shape: LSTMShape(inputSize: inputSize, hiddenSize: h, layers: layerCount, classes: classes),
                      layers: layers, fcWeight: fc.values, fcBias: fcBias.values)
    }

    /// The state_dict tensors, stored as F32.
    var tensors: [String: SafetensorsTensor] {
        let h = shape.hiddenSize
        var tensors: [String: SafetensorsTensor] = [
            TensorName.fcWeight: SafetensorsTensor(shape: [shape.classes, h], values: fcWeight),
            TensorName.fcBias: SafetensorsTensor(shape: [shape.classes], values: fcBias),
        ]
        for (k, layer) in layers.enumerated() {
            let names = TensorName.layer(k)
            tensors[names.weightIH] = SafetensorsTensor(shape: [4 * h, shape.layerInputSize(k)], values: layer.weightIH)
            tensors[names.weightHH] = SafetensorsTensor(shape: [4 * h, h], values: layer.weightHH)
            tensors[names.biasIH] = SafetensorsTensor(shape: [4 * h], values: layer.biasIH)
            tensors[names.biasHH] = SafetensorsTensor(shape: [4 * h], values: layer.biasHH)
        }
        return tensors
    }
}
