import LSTMCore

extension ParameterLayout {
    /// The flat vector's tensors as LSTMModel parameters (a copy).
    public func modelParameters(_ flat: [Float]) -> LSTMParameters {
        precondition(flat.count == count)
        func slice(_ offset: Int, _ count: Int) -> [Float] { Array(flat[offset..<(offset + count)]) }
        let h = shape.hiddenSize
        let layers = (0..<shape.layers).map { k in
            LSTMLayerParameters(weightIH: slice(weightIH(k), 4 * h * shape.layerInputSize(k)),
                                weightHH: slice(weightHH(k), 4 * h * h),
                                biasIH: slice(biasIH(k), 4 * h), biasHH: slice(biasHH(k), 4 * h))
        }
        // The layout's shapes are the ones LSTMParameters validates against.
        return try! LSTMParameters(shape: shape, layers: layers,
                                   fcWeight: slice(fcWeight, shape.classes * h), fcBias: slice(fcBias, shape.classes))
    }

    /// The flat vector of validated LSTMModel parameters (their shape must be this layout's).
    public func flatten(_ parameters: LSTMParameters) -> [Float] {
        precondition(parameters.shape == shape)
        var flat = [Float](repeating: 0, count: count)
        func put(_ values: [Float], at offset: Int) { flat.replaceSubrange(offset..<(offset + values.count), with: values) }
        for (k, layer) in parameters.layers.enumerated() {
            put(layer.weightIH, at: weightIH(k))
            put(layer.weightHH, at: weightHH(k))
            put(layer.biasIH, at: biasIH(k))
            put(layer.biasHH, at: biasHH(k))
        }
        put(parameters.fcWeight, at: fcWeight)
        put(parameters.fcBias, at: fcBias)
        return flat
    }
}

extension Evaluation {
    /// Evaluates a loaded model (any the daemon can load) on `images`, with `inputScale` applied
    /// to pixel bytes (the model's own metadata value unless overridden).
    public static func run(model: LSTMModel, images: LabeledImages, inputScale: Double, threads: Int) -> Evaluation {
        let layout = ParameterLayout(shape: model.shape)
        return run(layout: layout, parameters: layout.flatten(model.parameters), images: images,
                   inputScale: inputScale, threads: threads)
    }
}
