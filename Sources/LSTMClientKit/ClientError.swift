public import WireProtocol
public import ZeroMQ

/// Failures of the client itself (not of one stream), each naming what it was doing and where.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// No control reply within the timeout.
    case notReachable(endpoint: String, seconds: Double)
    /// The daemon answered a control request with a failure.
    case refused(command: String, error: ErrorBody)
    /// A control reply that is not the protocol's JSON.
    case badReply(command: String, reason: String)
    /// A socket could not be set up or used.
    case socket(what: String, error: ZMQError)
    /// `ClientOptions.curve` was given: this build does not speak CurveZMQ yet.
    case curveUnsupported
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
        case let .notReachable(endpoint, seconds): "lstmd not reachable at \(endpoint) (no reply within \(seconds) s)"
        case let .refused(command, error): "lstmd refused \"\(command)\": \(error.code): \(error.message)"
        case let .badReply(command, reason): "lstmd's reply to \"\(command)\" is not valid: \(reason)"
        case let .socket(what, error): "\(what): \(error)"
        case .curveUnsupported: "CURVE keys were given, but this client library does not support CurveZMQ yet"
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
