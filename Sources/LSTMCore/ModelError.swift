/// Everything that can be wrong with a model file or with model parameters. Each case names what was
/// wrong (tensor, key, offset) so that `description` alone tells the user what to fix.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Files

    /// The file could not be read: missing, not a regular file, larger than the limit, unreadable.
    case unreadableFile(path: String, reason: String)
    /// The model could not be written.
    case unwritableFile(path: String, reason: String)

    // MARK: safetensors container

    /// Fewer than the 8 bytes of the header-length prefix.
    case fileTooShort(byteCount: Int)
    /// The header length prefix points past the end of the file.
    case truncatedHeader(declaredLength: UInt64, availableBytes: Int)
    /// The header length prefix is larger than the safetensors limit (100,000,000 bytes). The
    /// prefix itself is not kept: beyond the limit it is more likely eight bytes of some other file.
    case headerTooLarge(limit: Int)
    /// The header is not valid UTF-8 JSON.
    case invalidHeaderJSON(reason: String)
    /// The header is JSON but not a JSON object.
    case headerNotObject
    /// `__metadata__` is not an object whose values are all strings.
    case metadataNotStringMap(reason: String)
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`, or has values of the wrong kind.
    case invalidTensorEntry(tensor: String, reason: String)
    /// A dtype this loader does not read (it reads F32, F16 and BF16).
    case unknownDType(tensor: String, dtype: String)
    /// A tensor's `data_offsets` are reversed or reach past the end of the data buffer.
    case tensorOffsetsOutOfRange(tensor: String, begin: Int, end: Int, dataByteCount: Int)
    /// Two tensors share bytes of the data buffer.
    case tensorsOverlap(first: String, second: String)
    /// Bytes of the data buffer belong to no tensor (a hole before `offset`, or trailing bytes).
    case uncoveredData(offset: Int, byteCount: Int, dataByteCount: Int)
    /// The tensor's byte range does not hold exactly shape × dtype bytes.
    case tensorSizeMismatch(tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)

    // MARK: LSTM model

    /// A tensor the model needs is absent.
    case missingTensor(String)
    /// A tensor that does not belong to an `nn.LSTM` + `nn.Linear` state_dict.
    case unexpectedTensor(String)
    /// Tensor shapes that do not fit together; the message names the tensors and their shapes.
    case inconsistentShapes(String)
    /// A model size (I, H, L or C) beyond what lstmd serves (`LSTMShape.Limits`); `source` names the
    /// tensor and shape it was read from, `reason` why the limit exists.
    case sizeLimitExceeded(size: String, value: Int, limit: Int, source: String, reason: String)
    /// A NaN or infinity in a weight.
    case nonFiniteWeight(tensor: String, index: Int, value: Float)
    /// A `__metadata__` value that is malformed or out of range.
    case invalidMetadataValue(key: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "cannot read model file \(path): \(reason)"
        case let .unwritableFile(path, reason):
            return "cannot write model file \(path): \(reason)"
        case let .fileTooShort(byteCount):
            return "not a safetensors file: \(byteCount) bytes, fewer than the 8-byte header length"
        case let .truncatedHeader(declared, available):
            return "truncated safetensors header: the length prefix says \(declared) bytes but only \(available) follow it"
        case let .headerTooLarge(limit):
            return "not a safetensors file: its header length prefix exceeds the limit of \(limit) bytes"
        case let .invalidHeaderJSON(reason):
            return "safetensors header is not valid JSON: \(reason)"
        case .headerNotObject:
            return "safetensors header is not a JSON object"
        case let .metadataNotStringMap(reason):
            return "safetensors __metadata__ must map strings to strings: \(reason)"
        case let .invalidTensorEntry(tensor, reason):
            return "tensor \(tensor): \(reason)"
        case let .unknownDType(tensor, dtype):
            return "tensor \(tensor) has dtype \(dtype); only F32, F16 and BF16 are supported"
        case let .tensorOffsetsOutOfRange(tensor, begin, end, count):
            return "tensor \(tensor) has data_offsets [\(begin), \(end)] outside the \(count)-byte data buffer"
        case let .tensorsOverlap(first, second):
            return "tensors \(first) and \(second) overlap in the data buffer"
        case let .uncoveredData(offset, byteCount, dataByteCount):
            return "\(byteCount) bytes at offset \(offset) of the \(dataByteCount)-byte data buffer belong to no tensor"
        case let .tensorSizeMismatch(tensor, shape, dtype, expected, actual):
            return "tensor \(tensor) \(shape) of \(dtype) needs \(expected) bytes but its data_offsets span \(actual)"
        case let .missingTensor(name):
            return "missing tensor \(name)"
        case let .unexpectedTensor(name):
            return "unexpected tensor \(name) (expected only lstm.weight_ih_l{k}, lstm.weight_hh_l{k}, lstm.bias_ih_l{k}, lstm.bias_hh_l{k}, fc.weight, fc.bias)"
        case let .inconsistentShapes(message):
            return message
        case let .sizeLimitExceeded(size, value, limit, source, reason):
            return "\(size) = \(value) read from \(source) exceeds the limit of \(limit): \(reason)"
        case let .nonFiniteWeight(tensor, index, value):
            return "tensor \(tensor) holds \(value) at flat index \(index)"
        case let .invalidMetadataValue(key, value, reason):
            return "metadata \(key)=\(quoted(value)): \(reason)"
        }
    }

    /// Same as `description`, for callers that expect Foundation's name.
    public var localizedDescription: String { description }
}

/// Quotes a metadata value for an error message, cut short so a huge value stays readable.
private func quoted(_ value: String) -> String {
    let limit = 80
    return value.count > limit ? "\"\(value.prefix(limit))…\"" : "\"\(value)\""
}
