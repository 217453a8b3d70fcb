import Logging
import ZeroMQ

/// The daemon's sockets, made with their options and bound to the configured endpoints: PULL
/// ingest, PUB predictions, REP control and, when configured, the ROUTER result path. With `curve`
/// every socket is a CURVE server, set before it binds, so no plain peer is ever accepted; the
/// connections of PUB and ROUTER are counted and limited by `limits` from the start too.
struct DaemonSockets {
    let ingest: ZMQSocket
    let publisher: ZMQSocket
    let control: ZMQSocket
    let results: ResultsRouter?

    /// Bytes of rows parked for one slow ROUTER peer, and of predictions waiting for it, before it
    /// overflows (its streams dropped with `overflow`): 4 MiB each (stream-protocol.md §11).
    static let parkLimitBytes = 4 << 20
    static let outboxLimitBytes = 4 << 20

    init(configuration: DaemonConfiguration, context: ZMQContext, curve: ZMQCurveServer?, limits: ConnectionLimits,
         logger: Logger) throws {
        ingest = try ZMQSocket(context, type: .pull)
        try ingest.set(.linger, .zero)
        try ingest.set(.maxMessageSize, configuration.maxMessageSize)
        publisher = try ZMQSocket(context, type: .pub)
        try publisher.set(.sendHWM, configuration.publishHighWaterMark)
        try publisher.set(.linger, .milliseconds(1000))
        control = try ZMQSocket(context, type: .rep)
        try control.set(.linger, .zero)
        try control.set(.maxMessageSize, ControlService.transportLimitBytes)
        // A connection queues this many requests at most before REP stops reading it.
        try control.set(.receiveHWM, 16)
        var bindings: [(ZMQSocket, String, String, ConnectionLimit?)] = [
            (ingest, "ingest", configuration.ingest, nil),
            (publisher, "predictions", configuration.predictions, limits.subscribers),
            (control, "control", configuration.control, nil)]
        if let endpoint = configuration.results {
            let router = try ZMQSocket(context, type: .router)
            try router.set(.linger, .zero)
            try router.set(.maxMessageSize, configuration.maxMessageSize)
            try router.set(.sendHWM, configuration.resultsHighWaterMark)
            try router.set(.receiveHWM, configuration.resultsHighWaterMark)
            results = try ResultsRouter(socket: router, parkLimitBytes: Self.parkLimitBytes,
                                        outboxLimitBytes: Self.outboxLimitBytes, logger: logger)
            bindings.append((router, "results", endpoint, limits.resultsPeers))
        } else {
            results = nil
        }
        for (socket, name, endpoint, limit) in bindings {
            do {
                try curve?.apply(to: socket)
                try limit?.install(on: socket)
                try socket.bind(endpoint)
            } catch {
                throw DaemonError.bind(socket: name, endpoint: endpoint, reason: String(describing: error))
            }
        }
    }
}
