import Logging
import ZeroMQ

/// The daemon's ZAP handler (ZeroMQ RFC 27), bound before any socket: it admits a handshake when
/// the CURVE policy does (with CURVE configured) and, on a socket with a connection limit (PUB, the
/// results ROUTER), while that limit allows. Without CURVE only those sockets ask it (each has a
/// ZAP domain of its own).
final class ConnectionGate: Sendable {
    private let handler: ZMQZAPHandler

    init(context: ZMQContext, curve: CurveAuthenticator?, limits: ConnectionLimits) throws(ZMQError) {
        let limits = limits.all
        handler = try ZMQZAPHandler(context: context, monitors: limits.map(\.monitor)) { request in
            let reply = curve?.decide(request) ?? .accept(userID: "")
            guard reply.statusCode == "200", let limit = limits.first(where: { $0.zapDomain == request.domain }) else {
                return reply
            }
            return limit.admits(request) ? reply : .deny("\(limit.setting) reached")
        }
    }

    /// Stops the handler; call after the daemon's sockets are closed.
    func stop() { handler.stop() }
}
