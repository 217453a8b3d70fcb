/// The protocol version carried in byte 0 of every ingest and prediction header.
public enum ProtocolVersion {
    /// LSP/1: 8-byte headers, no sequence number (still accepted; see stream-protocol.md §16).
    public static let unsequenced: UInt8 = 1
    /// LSP/2: 12-byte headers whose bytes 8–11 carry the client's sequence number.
    public static let sequenced: UInt8 = 2
    /// The newest version this module speaks, reported by `status`.
    public static let current: UInt8 = sequenced

    /// The header size (ingest and prediction alike) of a version, nil for a version not spoken.
    public static func headerSize(_ version: UInt8) -> Int? {
        switch version {
        case unsequenced: 8
        case sequenced: 12
        default: nil
        }
    }
}

/// The daemon's default endpoints (all on the loopback interface).
public enum DefaultEndpoints {
    /// Ingest: clients PUSH, the daemon PULLs.
    public static let ingest = "tcp://127.0.0.1:5555"
    /// Predictions: the daemon PUBlishes, clients SUBscribe.
    public static let predictions = "tcp://127.0.0.1:5556"
    /// Control: clients send REQ, the daemon REPlies.
    public static let control = "tcp://127.0.0.1:5557"
    /// Lossless path: clients use DEALER, the daemon ROUTER.
    public static let results = "tcp://127.0.0.1:5558"
}

/// The topic on which the daemon answers messages whose stream id cannot be read.
/// It starts with `$`, which no valid stream id does, so it never collides with a stream.
public let errorsTopic = "$errors"

/// Which predictions the daemon publishes for a stream.
public enum PublicationMode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A PARTIAL after every applied row, and a FINAL after the last (the default).
    case partial
    /// Only the FINAL after the last row.
    case final

    public var description: String { rawValue }
}
