public import WireProtocol
public import ZeroMQ

/// Failures of the client itself (not of one stream), each naming what it was doing and where.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// No daemon took the control connection within `seconds`. With CURVE keys (`curve`), a daemon
    /// that refuses the keys looks the same: its handshake never completes.
    case notReachable(endpoint: String, seconds: Double, curve: Bool)
    /// The daemon took the connection and the request but sent no reply within `seconds`.
    case noReply(command: String, endpoint: String, seconds: Double)
    /// The daemon answered a control request with a failure.
    case refused(command: String, error: ErrorBody)
    /// A control reply that is not the protocol's JSON.
    case badReply(command: String, reason: String)
    /// A socket could not be set up or used.
    case socket(what: String, error: ZMQError)
    /// An option out of range.
    case invalidOption(String)
    /// A row of the wrong size for the daemon's model.
    case badRow(stream: StreamID, values: Int, expected: Int)
    /// `send` or `end` on a stream that is over (FINAL, failure, END) or a closed client.
    case streamOver(StreamID)
    /// An id that is not a valid stream id.
    case badStreamID(String, StreamIDError)
    /// Several daemons given the same rendezvous name.
    case duplicateDaemonName(String)

    public var description: String {
        switch self {
        case let .notReachable(endpoint, seconds, curve):
            "lstmd not reachable at \(endpoint) (no connection within \(formatSeconds(seconds)))"
                + (curve ? "; with CURVE, a wrong server key or a client key the daemon does not authorize is silent too" : "")
        case let .noReply(command, endpoint, seconds):
            "lstmd at \(endpoint) took the \"\(command)\" request but sent no reply within \(formatSeconds(seconds))"
        case let .refused(command, error): "lstmd refused \"\(command)\": \(error.code): \(error.message)"
        case let .badReply(command, reason): "lstmd's reply to \"\(command)\" is not valid: \(reason)"
        case let .socket(what, error): "\(what): \(error)"
        case let .invalidOption(text): text
        case let .badRow(stream, values, expected): "stream \(stream.debugDescription): a row of \(values) values; the daemon's model takes \(expected)"
        case let .streamOver(stream): "stream \(stream.debugDescription) is over: no more rows can be sent on it"
        case let .badStreamID(text, error): "invalid stream id \"\(text)\": \(error.description)"
        case let .duplicateDaemonName(name): "two daemons are named \"\(name)\"; rendezvous names must be unique"
        }
    }
}

/// Runs a ZeroMQ call, turning its failure into a `ClientError` that says what was being done.
func zmq<T>(_ what: @autoclosure () -> String, _ body: () throws(ZMQError) -> T) throws(ClientError) -> T {
    do { return try body() } catch { throw .socket(what: what(), error: error) }
}

/// `5 s`, `0.5 s`: seconds without a useless `.0`, in messages.
func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int(seconds)) s" : "\(seconds) s"
}
