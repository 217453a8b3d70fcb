import Foundation
import Synchronization
public import WireProtocol
import ZeroMQ

/// A client of one lstmd daemon: stream handles that send rows and yield their predictions.
///
/// ```swift
/// let client = try DaemonClient()                       // lstmd's default endpoints
/// let stream = try client.stream()                      // id <host>/<pid>/<random>/<n>
/// for row in 0..<28 { try stream.send(pixels: image[row], last: row == 27) }
/// for await event in stream.events {                    // PARTIALs, then the FINAL (or a failure)
///     print(event)
/// }
/// ```
///
/// Rows go to the daemon's PULL socket and predictions come from its PUB socket, or, with
/// `ClientOptions.lossless`, both over one DEALER to its ROUTER. One I/O thread owns the sockets;
/// every method may be called from any thread or task. The client handles for you: sequence
/// numbers (LSP/2, a new one for every stream handle), the subscription's slow-joiner wait,
/// recovering a prediction that PUB dropped (it resends the stream's last row once, and the
/// daemon answers it again), and reconnecting after a daemon restart (libzmq reconnects; streams
/// the daemon restored from its snapshot continue, others fail with the daemon's error or a
/// timeout).
public final class DaemonClient: Sendable {
    /// The daemon's endpoints.
    public let endpoints: DaemonEndpoints
    public let options: ClientOptions
    /// The daemon's model as `status` described it when the client connected.
    public let model: ModelInfo
    /// The daemon's publication mode (`partial`: a PARTIAL after every row; `final`: FINALs only).
    public let publication: PublicationMode
    /// The prefix of the ids of streams this client names: `<host>/<pid>/<random>/`.
    public let idPrefix: String

    private let controlClient: ControlClient
    private let link: DaemonLink
    private let counters: Mutex<(next: Int, sequence: UInt32)>

    /// Connects to a daemon: asks its `status` (for its model and publication mode), then starts
    /// the I/O thread. Throws `notReachable` when no daemon takes the connection within
    /// `options.connectTimeout`, `noReply` when it does not answer within `options.timeout`.
    /// `idPrefix` names this client's streams (a `ShardedClient` gives all its clients one).
    public init(_ endpoints: DaemonEndpoints = DaemonEndpoints(), options: ClientOptions = ClientOptions(),
                idPrefix: String? = nil) throws(ClientError) {
        guard options.timeout > 0, options.recoveryDelay > 0, options.recoveryDelay < options.timeout,
              options.subscriptionWait >= 0 else {
            throw .invalidOption("timeout (\(options.timeout) s) must be positive and above recoveryDelay (\(options.recoveryDelay) s), subscriptionWait (\(options.subscriptionWait) s) at least 0")
        }
        self.endpoints = endpoints
        self.options = options
        let context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        controlClient = try ControlClient(context: context, endpoint: endpoints.control, timeout: options.timeout,
                                          connectTimeout: options.connectTimeout, curve: options.curve)
        let status = try controlClient.status()
        model = status.model
        publication = status.publication
        let prefix = idPrefix ?? Self.defaultPrefix()
        do { _ = try StreamID(prefix + "0") } catch { throw .badStreamID(prefix, error) }
        self.idPrefix = prefix
        counters = Mutex((0, UInt32.random(in: 0...UInt32.max)))
        link = try DaemonLink(context: context, endpoints: endpoints, options: options, publication: publication,
                              prefix: Array(prefix.utf8))
    }

    deinit { link.shutdown() }

    /// Stops the I/O thread; streams still open fail with `StreamFailure.clientClosed`.
    public func close() { link.shutdown() }

    /// A new stream (one sequence): `id` defaults to the next of this client's own ids. Giving the
    /// id of a stream still open replaces it (it fails with `superseded`); a new sequence number
    /// makes the daemon restart the id with its next row 0.
    public func stream(id: StreamID? = nil) throws(ClientError) -> ClientStream {
        let chosen: StreamID
        if let id { chosen = id } else { chosen = try nextOwnID() }
        let sequence = counters.withLock { counters in
            defer { counters.sequence &+= 1 }
            return counters.sequence
        }
        let state = SequenceState(id: chosen, sequence: sequence)
        guard link.post(.register(state)) else { throw .streamOver(chosen) }
        return ClientStream(state: state, link: link, inputSize: model.shape.inputSize,
                            sequenceLength: model.sequenceLength)
    }

    /// Takes the next number of this client's own stream ids.
    func takeNumber() -> Int {
        counters.withLock { counters in
            defer { counters.next += 1 }
            return counters.next
        }
    }

    /// The daemon's status now (a control request).
    public func status() throws(ClientError) -> StatusReply { try controlClient.status() }

    /// Any control request (control-protocol.md) with this client's keys; a failure reply is
    /// thrown as `refused`. `ControlClient` has one method per request.
    public func control(_ request: ControlRequest) throws(ClientError) -> ControlReply { try controlClient.send(request) }

    /// `<host>/<pid>/<8 hex digits>/`: unique across the clients of a daemon (stream-protocol.md §4).
    static func defaultPrefix() -> String {
        "\(hostAndProcess)/\(String(UInt32.random(in: 0...UInt32.max), radix: 16))/"
    }

    /// `<host>/<pid>`: this process among the clients of a daemon, the start of its stream ids.
    public static var hostAndProcess: String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return "\(host.isEmpty ? "localhost" : host)/\(getpid())"
    }
}
