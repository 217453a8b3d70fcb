import Foundation
import LSTMCore
import WireProtocol

/// Limits and batching policy of a ``StreamEngine``.
public struct EngineConfiguration: Sendable, Equatable {
    /// Most streams advanced in one batched step (the daemon's `--max-batch`).
    public var maxBatch: Int
    /// Most live streams; a new stream beyond it is refused with ``StreamError/capacity(maxStreams:)``.
    public var maxStreams: Int
    /// Streams idle for longer are evicted by ``StreamEngine/evictIdle(now:scanning:_:)``; nil never evicts.
    public var idleTimeoutNanoseconds: UInt64?

    /// The daemon's defaults; `idleTimeoutSeconds` nil never evicts.
    ///
    /// - Precondition: `maxBatch` and `maxStreams` are at least 1.
    public init(maxBatch: Int = 256, maxStreams: Int = 100_000, idleTimeoutSeconds: Double? = 60) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        precondition(maxStreams >= 1, "maxStreams must be at least 1")
        self.maxBatch = maxBatch
        self.maxStreams = maxStreams
        self.idleTimeoutNanoseconds = idleTimeoutSeconds.map { UInt64(max(0, $0) * 1e9) }
    }
}

/// What happened to a submitted row that was not an error.
public enum SubmitOutcome: Sendable, Equatable {
    /// The row is queued and will advance its stream in a coming step.
    case queued
    /// The row index was already accepted: ignored, counted, no state change.
    case duplicate
    /// A resend of the last applied row: no state change, and that row's prediction is offered
    /// again through `repeated` (a client that lost it can recover).
    case repeated
}

/// Where a model came from, kept with its generation for the host's listings.
public struct ModelOrigin: Sendable, Equatable {
    /// The file it was loaded from; nil for a model built in memory or embedded in the host.
    public var path: String?
    public var loadedAt: Date

    public init(path: String? = nil, loadedAt: Date = Date()) {
        self.path = path
        self.loadedAt = loadedAt
    }
}

/// One model generation the engine serves: the model (its SHA-256 and input scale with it), where it
/// came from, and how many live streams run on it.
public struct GenerationInfo {
    public let model: LSTMModel
    public let origin: ModelOrigin
    /// Live streams running on this model.
    public let liveStreams: Int
    /// True for the generation new streams start on.
    public let isCurrent: Bool
}

/// One prediction produced by a step. `probabilities` is only valid inside the callback.
public struct Prediction {
    public let stream: StreamID
    /// Index of the row this prediction follows.
    public let row: Int
    /// The client's number for the sequence of that row (nil: unnumbered).
    public let sequence: UInt32?
    /// True when this row finished its sequence.
    public let isFinal: Bool
    /// True when the stream is gone after this prediction (a FINAL with no restart queued behind
    /// it): a host forgets what it kept for the stream, e.g. its ROUTER binding.
    public let endsStream: Bool
    /// The `now` of the `submitRow` call that brought the row (for a repeated prediction, of the
    /// resend), in the engine clock's nanoseconds: with the `now` of the step, the row's time in
    /// the queue.
    public let submittedAt: UInt64
    /// Class probabilities, `classes` floats summing to 1.
    public let probabilities: UnsafeBufferPointer<Float>
}

/// Where a stream stands: the row it expects next and its sequence number (nil: unnumbered).
public struct StreamPosition: Sendable, Equatable {
    public let nextRow: Int
    public let sequence: UInt32?
}

/// Bookkeeping of one live stream, for listings.
public struct StreamSummary: Sendable, Equatable {
    public let id: StreamID
    /// The row index the stream expects next.
    public let nextRow: Int
    /// The sequence number of the stream's current sequence (nil: unnumbered).
    public let sequence: UInt32?
    /// Rows accepted and waiting for a step.
    public let queuedRows: Int
    /// SHA-256 of the model the stream runs on.
    public let modelSHA256: String
    /// Seconds since the stream's last row.
    public let idleSeconds: Double
}

/// Why the engine refused a row or ended a stream. Each case maps to one protocol error code.
public enum StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The row's encoded values are not `values` values of `dtype` (sizes in bytes).
    case badRowSize(values: Int, dtype: RowDType, bytes: Int)
    /// A value is NaN or infinite after decoding (and scaling by `scale`, for uint8 rows).
    case nonFiniteInput(column: Int, isNaN: Bool, scale: Float?)
    /// A row other than 0 for a stream that is not live (never started, ended, evicted, or left
    /// out of a restore): a stream starts with row 0.
    case notStarted(row: Int)
    /// A row past the one the stream expects next: rows in between were lost; the stream is dropped.
    case gap(expected: Int, received: Int)
    /// A row other than 0 of a sequence that is not the stream's: its earlier rows never arrived
    /// (e.g. they were lost in a crash); the stream is dropped.
    case otherSequence(received: UInt32?, live: UInt32?, row: Int)
    /// A row index at or beyond the sequence length of the stream's model.
    case rowOutOfRange(row: Int, sequenceLength: Int)
    /// A row after the stream's last one (its model's last row, or one submitted with `isLast`)
    /// while that last row is still queued.
    case rowAfterLast(row: Int, lastRow: Int)
    /// A new stream while ``EngineConfiguration/maxStreams`` streams are live.
    case capacity(maxStreams: Int)
    /// Reported through ``StreamEngine/evictIdle(now:scanning:_:)``: the stream was idle past the
    /// timeout and is gone; where it stood is given so that its client can be told.
    case evicted(idleSeconds: Double, nextRow: Int, sequence: UInt32?)
    /// ``StreamEngine/endStream(_:)`` for an id that no live stream has.
    case unknownStream
    /// ``StreamEngine/replaceModel(with:origin:)`` with a model whose input size differs.
    case incompatibleModel(String)

    /// The protocol's error code for this error.
    public var code: ErrorCode {
        switch self {
        case .badRowSize: .badRowSize
        case .nonFiniteInput: .nonFiniteInput
        case .notStarted: .notStarted
        case .gap, .otherSequence: .gap
        case .rowOutOfRange, .rowAfterLast: .rowOutOfRange
        case .capacity: .capacity
        case .evicted: .evicted
        case .unknownStream: .unknownStream
        case .incompatibleModel: .reloadFailed
        }
    }

    public var description: String {
        switch self {
        case let .badRowSize(values, dtype, bytes):
            "row is \(bytes) bytes; \(values) \(dtype) values need \(values * dtype.byteWidth)"
        case let .nonFiniteInput(column, isNaN, scale):
            "row value \(column) is \(isNaN ? "NaN" : "infinite")" + (scale.map { " after scaling by \($0)" } ?? "")
        case let .notStarted(row):
            "row \(row) for a stream that is not live: a stream starts with row 0"
        case let .gap(expected, received):
            "expected row \(expected), received row \(received): rows were lost; the stream is dropped, restart it with row 0"
        case let .otherSequence(received, live, row):
            "row \(row) of \(sequenceName(received)) arrived while the stream runs \(sequenceName(live)): "
                + "its rows before \(row) never arrived; the stream is dropped, restart it with row 0"
        case let .rowOutOfRange(row, sequenceLength):
            "row \(row) is beyond the model's sequence length \(sequenceLength)"
        case let .rowAfterLast(row, lastRow):
            "row \(row) follows row \(lastRow), which finished the stream"
        case let .capacity(maxStreams):
            "the engine already holds its maximum of \(maxStreams) live streams; new stream refused"
        case let .evicted(idleSeconds, nextRow, _):
            "stream idle for \(Int(idleSeconds.rounded())) s (expecting row \(nextRow)) was evicted"
        case .unknownStream:
            "no live stream has this id"
        case let .incompatibleModel(reason):
            "model cannot serve these streams: \(reason)"
        }
    }
}

private func sequenceName(_ sequence: UInt32?) -> String {
    sequence.map { "sequence \($0)" } ?? "an unnumbered sequence (protocol v1)"
}
