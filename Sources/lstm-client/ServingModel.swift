import LSTMClientKit
import WireProtocol

/// What a stream command needs to know about the daemon's model, from `status`.
struct ServingModel {
    var publication: PublicationMode
    var labels: [String]
    /// The model's SHA-256 and file (nil: the daemon's embedded model), for reports.
    var sha256: String
    var path: String?

    /// `sha256-prefix path`, how reports name the model they measured.
    var name: String { "\(sha256.prefix(12)) \(path ?? "(embedded default)")" }

    /// Asks the daemon at `control` for its status and checks its model. A wrong endpoint is
    /// reported after the control client's connection bound (1 s), not after `timeout`.
    static func probe(_ control: String, timeout: Double, curve: CurveKeys?) throws -> ServingModel {
        let status = try ControlClient(endpoint: control, timeout: timeout, curve: curve).status()
        return try ServingModel(model: status.model, publication: status.publication)
    }

    /// Checks that the daemon's model takes 28-value rows (MNIST digits) and ends a sequence no
    /// earlier than row 27.
    init(model: ModelInfo, publication: PublicationMode) throws(CommandError) {
        guard model.shape.inputSize == Digits.columns else {
            throw .incompatibleModel("it takes rows of \(model.shape.inputSize) values; MNIST rows have \(Digits.columns)")
        }
        if let length = model.sequenceLength, length != Digits.rows {
            throw .incompatibleModel("its sequences have \(length) rows; MNIST digits have \(Digits.rows)")
        }
        self.publication = publication
        labels = model.labels
        sha256 = model.sha256
        path = model.path
    }

    /// The label of class `index`, or the index itself when the model has no label for it.
    func label(_ index: Int) -> String { labels.indices.contains(index) ? labels[index] : String(index) }
}
