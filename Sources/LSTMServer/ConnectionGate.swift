import Logging
import ZeroMQ

/// The daemon's ZAP handler (ZeroMQ RFC 27), bound before any socket: it admits a handshake when
/// the CURVE policy does (with CURVE configured) and, on the predictions endpoint, while the
/// subscriber limit allows. Without CURVE only the PUB socket asks it (its own ZAP domain).
final class ConnectionGate: Sendable {
    private let handler: ZMQZAPHandler

    init(context: ZMQContext, curve: CurveAuthenticator?, subscribers: SubscriberLimit) throws(ZMQError) {
        handler = try ZMQZAPHandler(context: context, monitors: [subscribers.monitor]) { request in
            let reply = curve?.decide(request) ?? .accept(userID: "")
            guard reply.statusCode == "200", request.domain == SubscriberLimit.zapDomain else { return reply }
            return subscribers.admits(request) ? reply : .deny("max-subscribers reached")
        }
    }

    /// Stops the handler; call after the daemon's sockets are closed.
    func stop() { handler.stop() }
}
