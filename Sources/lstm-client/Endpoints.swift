import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol
import ZeroMQ

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

    /// The CURVE settings of every socket, read from the key files; nil for plain ZeroMQ.
    func curve() throws(ClientError) -> ZMQCurveClient? {
        guard let serverKey, let key else { return nil }
        do throws(ZMQKeyFileError) {
            return ZMQCurveClient(serverKey: try ZMQCurveKeyFiles.readPublicKey(serverKey),
                                  keyPair: try ZMQCurveKeyFiles.readSecretKey(at: key))
        } catch {
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

/// Failures of the client, each naming what it was doing and where.
enum ClientError: Error, CustomStringConvertible {
    /// No reply from the control endpoint within the timeout.
    case notReachable(endpoint: String, timeout: Double)
    /// The daemon answered a control request with a failure reply.
    case refused(command: String, error: ErrorBody)
    /// A control reply that is not the JSON the protocol defines.
    case badReply(command: String, reason: String)
    /// A socket could not be set up or used.
    case socket(what: String, error: ZMQError)
    /// Rows could not be queued: the ingest path stayed full for the whole timeout.
    case sendBlocked(endpoint: String, timeout: Double)
    /// No prediction for a row within the timeout.
    case noPrediction(stream: String, row: Int, endpoint: String, sentTo: String, timeout: Double)
    /// The daemon answered a stream with an ERROR.
    case streamFailed(stream: String, row: UInt32, error: ErrorBody)
    /// The daemon's model cannot classify 28 × 28 MNIST digits row by row.
    case incompatibleModel(String)
    /// A bad command-line value found after parsing (e.g. a digit index past the end of the set).
    case invalidArgument(String)

    var description: String {
        switch self {
        case let .notReachable(endpoint, timeout):
            "lstmd not reachable at \(endpoint) (no reply within \(formatSeconds(timeout)))"
        case let .refused(command, error):
            "lstmd refused \"\(command)\": \(error.code): \(error.message)"
        case let .badReply(command, reason):
            "lstmd's reply to \"\(command)\" is not valid: \(reason)"
        case let .socket(what, error):
            "\(what): \(error)"
        case let .sendBlocked(endpoint, timeout):
            "lstmd not accepting rows at \(endpoint) (send blocked for \(formatSeconds(timeout)))"
        case let .noPrediction(stream, row, endpoint, sentTo, timeout):
            "no prediction for stream \"\(stream)\" row \(row) on \(endpoint) within \(formatSeconds(timeout))"
                + (sentTo == endpoint ? "" : " (its rows went to \(sentTo): check that endpoint too)")
        case let .streamFailed(stream, row, error):
            "lstmd reported an error for stream \"\(stream)\"" + (row == PredictionHeader.noRow ? "" : " row \(row)")
                + ": \(error.code): \(error.message)"
        case let .incompatibleModel(reason):
            "the daemon's model cannot classify MNIST digits: \(reason)"
        case let .invalidArgument(reason):
            reason
        }
    }
}

/// `5 s`, `0.5 s`, `0.25 s`: seconds without a useless `.0`.
func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int(seconds)) s" : "\(seconds) s"
}

/// Runs a ZeroMQ call, turning its failure into a `ClientError` that says what was being done.
func zmq<T>(_ what: @autoclosure () -> String, _ body: () throws(ZMQError) -> T) throws(ClientError) -> T {
    do { return try body() } catch { throw .socket(what: what(), error: error) }
}

/// Monotonic time in nanoseconds, for latencies and deadlines.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The default stream id prefix: `HOST/PID`, unique across the clients of one daemon (spec §4).
var hostAndProcess: String {
    var buffer = [CChar](repeating: 0, count: 256)
    let host = gethostname(&buffer, buffer.count) == 0
        ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
    return "\(host.isEmpty ? "localhost" : host)/\(getpid())"
}

/// Parses a stream id given on the command line, with the rule it breaks as the error.
func streamID(_ string: String, option: String) throws -> StreamID {
    do { return try StreamID(string) } catch {
        throw ValidationError("invalid stream id for \(option): \(error.description)")
    }
}
