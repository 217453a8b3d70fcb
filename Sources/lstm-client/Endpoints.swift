import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol

/// The daemon's four endpoints, shared by every subcommand. Defaults are lstmd's defaults.
struct EndpointOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's ingest (PULL) endpoint rows are PUSHed to.", valueName: "endpoint"))
    var ingest: String = DefaultEndpoints.ingest

    @Option(help: ArgumentHelp("The daemon's predictions (PUB) endpoint to SUBscribe to.", valueName: "endpoint"))
    var predictions: String = DefaultEndpoints.predictions

    @Option(help: ArgumentHelp("The daemon's control (REP) endpoint.", valueName: "endpoint"))
    var control: String = DefaultEndpoints.control

    @Option(help: ArgumentHelp("The daemon's lossless results (ROUTER) endpoint, used by a DEALER with --router.", valueName: "endpoint"))
    var results: String = DefaultEndpoints.results

    @Option(name: .customLong("server-key"), help: ArgumentHelp("The daemon's CURVE public key: its .pub file or the 40 Z85 characters; with --key, every socket uses CURVE.", valueName: "key"))
    var serverKey: String?

    @Option(name: .customLong("key"), help: ArgumentHelp("This client's CURVE secret key file (made by 'lstm-client keygen'); the daemon must list its public key.", valueName: "path"))
    var key: String?

    /// The four endpoints as the client library takes them.
    var daemon: DaemonEndpoints {
        DaemonEndpoints(ingest: ingest, predictions: predictions, control: control, results: results)
    }

    func validate() throws {
        for (option, endpoint) in [("--ingest", ingest), ("--predictions", predictions),
                                   ("--control", control), ("--results", results)] {
            if let problem = Endpoint.problem(with: endpoint) {
                throw ValidationError("invalid endpoint '\(endpoint)' for \(option): \(problem)")
            }
        }
        if (serverKey == nil) != (key == nil) {
            throw ValidationError("--server-key and --key go together: CURVE needs the daemon's public key and this client's key pair")
        }
    }

    /// The CURVE keys of every socket, read from the key files; nil for plain ZeroMQ.
    func curve() throws(CommandError) -> CurveKeys? {
        guard let serverKey, let key else { return nil }
        do { return try CurveKeys(serverKey: serverKey, secretKeyFile: key) } catch {
            throw .invalidArgument(error.description)
        }
    }
}

/// One daemon of `--shard`: `INGEST,PREDICTIONS,CONTROL,RESULTS`, or `tcp://HOST:PORT` for a
/// daemon whose four endpoints are PORT to PORT+3 in lstmd's order (5555–5558 by default).
func shardDaemon(_ text: String) throws -> DaemonEndpoints {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    let endpoints: [String]
    if parts.count == 4 {
        endpoints = parts
    } else if parts.count == 1, text.hasPrefix("tcp://"), let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]), (1...65532).contains(port) {
        let host = text[..<colon]
        endpoints = (0..<4).map { "\(host):\(port + $0)" }
    } else {
        throw ValidationError("invalid --shard '\(text)': give INGEST,PREDICTIONS,CONTROL,RESULTS or tcp://HOST:PORT (its 4 endpoints on PORT…PORT+3)")
    }
    for endpoint in endpoints {
        if let problem = Endpoint.problem(with: endpoint) {
            throw ValidationError("invalid endpoint '\(endpoint)' in --shard '\(text)': \(problem)")
        }
    }
    return DaemonEndpoints(ingest: endpoints[0], predictions: endpoints[1], control: endpoints[2], results: endpoints[3])
}

/// Endpoint syntax, checked before libzmq sees it so that a typo gets a message naming the option.
enum Endpoint {
    /// What is wrong with `endpoint` as a connect address, or nil when it is well formed:
    /// `tcp://HOST:PORT`, `ipc://PATH` or `inproc://NAME`.
    static func problem(with endpoint: String) -> String? {
        let expected = "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"
        guard let separator = endpoint.range(of: "://") else { return "no transport; \(expected)" }
        let transport = endpoint[..<separator.lowerBound]
        let address = endpoint[separator.upperBound...]
        switch transport {
        case "tcp":
            guard let colon = address.lastIndex(of: ":") else { return "no port; \(expected)" }
            let host = address[..<colon]
            let port = address[address.index(after: colon)...]
            if host.isEmpty { return "no host; \(expected)" }
            guard let number = Int(port), (1...65535).contains(number) else {
                return "port '\(port)' is not a number from 1 to 65535"
            }
            return nil
        case "ipc", "inproc":
            return address.isEmpty ? "empty \(transport) address; \(expected)" : nil
        default:
            return "transport '\(transport)' is not supported; \(expected)"
        }
    }
}

/// Failures of a command beyond the client library's (`ClientError`, `StreamFailure`), each
/// naming what it was doing and where.
enum CommandError: Error, CustomStringConvertible {
    /// Rows could not be queued: the ingest path stayed full for the whole timeout.
    case sendBlocked(endpoint: String, timeout: Double)
    /// No prediction for a row within the timeout.
    case noPrediction(stream: String, row: Int, endpoint: String, sentTo: String, timeout: Double)
    /// Eval and bench: no answer at all from a daemon within `seconds` of the first one due, for
    /// each such daemon where its answers were awaited and where its rows went.
    case noAnswer(paths: [(receivedOn: String, sentTo: String)], seconds: Double)
    /// The daemon answered a stream with an ERROR.
    case streamFailed(stream: String, row: UInt32?, code: String, message: String)
    /// The daemon's model cannot classify 28 × 28 MNIST digits row by row.
    case incompatibleModel(String)
    /// A bad command-line value found after parsing (e.g. a digit index past the end of the set).
    case invalidArgument(String)

    var description: String {
        switch self {
        case let .sendBlocked(endpoint, timeout):
            "lstmd not accepting rows at \(endpoint) (send blocked for \(formatSeconds(timeout)))"
        case let .noPrediction(stream, row, endpoint, sentTo, timeout):
            "no prediction for stream \"\(stream)\" row \(row) on \(endpoint) within \(formatSeconds(timeout))"
                + (sentTo == endpoint ? "" : " (its rows went to \(sentTo): check that endpoint too)")
        case let .noAnswer(paths, seconds):
            paths.map { receivedOn, sentTo in
                "no prediction at all on \(receivedOn) within \(formatSeconds(seconds)) of the first one due"
                    + (sentTo == receivedOn ? "" : " (the rows went to \(sentTo): check that endpoint too)")
            }.joined(separator: "; ")
        case let .streamFailed(stream, row, code, message):
            "lstmd reported an error for stream \"\(stream)\"" + (row.map { " row \($0)" } ?? "") + ": \(code): \(message)"
        case let .incompatibleModel(reason):
            "the daemon's model cannot classify MNIST digits: \(reason)"
        case let .invalidArgument(reason):
            reason
        }
    }
}

/// Checks a `--timeout`: more than 0 and at most a day (the commands count it in nanoseconds,
/// which a larger value would overflow).
func checkTimeout(_ seconds: Double) throws(ValidationError) {
    if !(seconds > 0 && seconds <= 86_400) { throw ValidationError("--timeout must be more than 0 and at most 86400 seconds") }
}

/// `5 s`, `0.5 s`, `0.25 s`: seconds without a useless `.0`.
func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int(seconds)) s" : "\(seconds) s"
}

/// Parses a stream id given on the command line, with the rule it breaks as the error.
func streamID(_ string: String, option: String) throws -> StreamID {
    do { return try StreamID(string) } catch {
        throw ValidationError("invalid stream id for \(option): \(error.description)")
    }
}
