public import WireProtocol

/// The class probabilities after one row of a stream (a PARTIAL or FINAL).
public struct Prediction: Sendable, Equatable {
    /// The stream.
    public var streamID: StreamID
    /// The sequence number (LSP/2) of the sequence it belongs to.
    public var sequence: UInt32
    /// The row just applied.
    public var row: UInt32
    /// The most probable class (the lowest index on ties), as the daemon computed it.
    public var argmax: Int
    /// One probability per class, exactly as the daemon sent them.
    public var probabilities: [Float]
}

/// Why a stream ended without its FINAL.
public enum StreamFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The daemon sent an ERROR for the stream (stream-protocol.md §12). `code` may be one this
    /// library does not know (`knownCode` is nil then).
    case daemon(code: String, message: String, row: UInt32?)
    /// Nothing arrived for the stream within the client's timeout while it waited for a prediction
    /// (the daemon is gone, or PUB dropped a FINAL, which cannot be asked for again).
    case timeout(seconds: Double, daemon: String)
    /// Its rows could not be queued for the whole timeout: the daemon takes no rows.
    case sendBlocked(seconds: Double, daemon: String)
    /// A newer sequence on the same stream id replaced it.
    case superseded
    /// The client was closed.
    case clientClosed

    /// The protocol's code of a `daemon` failure, when this library knows it.
    public var knownCode: ErrorCode? {
        if case .daemon(let code, _, _) = self { ErrorCode(rawValue: code) } else { nil }
    }

    public var description: String {
        switch self {
        case let .daemon(code, message, row): "\(code)\(row.map { " (row \($0))" } ?? ""): \(message)"
        case let .timeout(seconds, daemon): "no prediction from \(daemon) within \(formatSeconds(seconds))"
        case let .sendBlocked(seconds, daemon): "\(daemon) took no rows for \(formatSeconds(seconds))"
        case .superseded: "a newer sequence on the same stream id replaced this one"
        case .clientClosed: "the client was closed"
        }
    }
}

/// What a stream yields: PARTIALs, then its FINAL — or the failure that ended it.
public enum StreamEvent: Sendable, Equatable {
    case partial(Prediction)
    case final(Prediction)
    case failed(StreamFailure)

    /// Whether the stream is over after this event.
    public var isTerminal: Bool { if case .partial = self { false } else { true } }

    /// The prediction of a PARTIAL or FINAL.
    public var prediction: Prediction? {
        switch self {
        case .partial(let p), .final(let p): p
        case .failed: nil
        }
    }
}
