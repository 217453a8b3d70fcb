import Foundation
public import WireProtocol
import ZeroMQ

/// What a daemon publishes, as it comes: every PARTIAL, FINAL and ERROR whose topic starts with a
/// prefix, for programs that watch streams other programs send (`lstm-client watch`). A SUB
/// socket with the client's CURVE keys; PUB/SUB is best effort, so a slow reader loses messages.
///
/// Not `Sendable`: use a subscriber from one thread (libzmq sockets are not thread-safe).
public final class PredictionSubscriber {
    /// The daemon's predictions (PUB) endpoint.
    public let endpoint: String
    private let socket: ZMQSocket
    private var receiveTimeout: Int?

    /// A message as it was published: its topic, and the message or why it could not be decoded.
    public struct Published: Sendable {
        public var topic: [UInt8]
        public var message: Result<PredictionMessage, WireError>
    }

    /// Subscribes to the topics that start with `prefix` (empty: every stream and `$errors`; ZeroMQ
    /// matches prefixes, so "7" also gets "70"), then waits `subscriptionWait` seconds for the
    /// subscription to reach the daemon (the "slow joiner", stream-protocol.md §10).
    public init(endpoint: String = DefaultEndpoints.predictions, prefix: [UInt8] = [], curve: CurveKeys? = nil,
                subscriptionWait: Double = 0.2) throws(ClientError) {
        guard subscriptionWait >= 0 && subscriptionWait <= 60 else {
            throw .invalidOption("subscriptionWait (\(subscriptionWait) s) must be 0 to 60 seconds")
        }
        let context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        self.endpoint = endpoint
        socket = try ClientSockets.subscriber(context, endpoint: endpoint, prefixes: [prefix], curve: curve)
        usleep(UInt32(subscriptionWait * 1e6))
    }

    deinit { socket.close() }

    /// The next published message, waiting at most `timeout` seconds; nil when none came.
    public func next(timeout: Double) throws(ClientError) -> Published? {
        let milliseconds = Int(max(0, timeout) * 1000)
        if receiveTimeout != milliseconds {
            try zmq("cannot set a receive timeout on \(endpoint)") { () throws(ZMQError) in
                try socket.set(.receiveTimeout, .milliseconds(milliseconds))
            }
            receiveTimeout = milliseconds
        }
        guard let frames = try zmq("cannot receive from \(endpoint)", { () throws(ZMQError) in try socket.receiveMultipart() }) else {
            return nil
        }
        let message = Result { () throws(WireError) in try PredictionMessage(frames: frames) }
        return Published(topic: frames.first ?? [], message: message)
    }
}
