import ZeroMQ

/// Every socket a client of lstmd opens, made in one place: each gets the client's CURVE keys
/// (when it has some) before it connects, and the limits that keep a client from hanging on a
/// daemon that went away.
enum ClientSockets {
    /// A SUB socket on `endpoint` subscribed to `prefixes` (empty: everything), with a large
    /// receive queue so that a client that keeps reading does not drop messages itself.
    static func subscriber(_ context: ZMQContext, endpoint: String, prefixes: [[UInt8]],
                           curve: CurveKeys?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot subscribe to the predictions endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .sub)
            try socket.set(.linger, .zero)
            try socket.set(.receiveHWM, 1_000_000)
            for prefix in prefixes.isEmpty ? [[]] : prefixes { try socket.subscribe(prefix) }
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// A PUSH socket to the ingest endpoint. Linger is bounded so that closing never waits long
    /// for a daemon that went away.
    static func pusher(_ context: ZMQContext, endpoint: String, curve: CurveKeys?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot connect to the ingest endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .push)
            try socket.set(.linger, .milliseconds(1000))
            try socket.set(.sendHWM, 100_000)
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// A DEALER socket to the results endpoint: sends rows and receives the predictions of the
    /// streams it started (stream-protocol.md §11).
    static func dealer(_ context: ZMQContext, endpoint: String, curve: CurveKeys?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot connect to the results endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .dealer)
            try socket.set(.linger, .milliseconds(1000))
            try socket.set(.sendHWM, 100_000)
            try socket.set(.receiveHWM, 1_000_000)
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// A REQ socket to the control endpoint for one request. It queues only to a completed
    /// connection (handshake included), so a send gives up after `connectTimeout` seconds when no
    /// daemon takes the connection; the reply is awaited `replyTimeout` seconds. Linger 0 drops a
    /// request nobody took.
    static func requester(_ context: ZMQContext, endpoint: String, connectTimeout: Double, replyTimeout: Double,
                          curve: CurveKeys?) throws(ClientError) -> ZMQSocket {
        try zmq("cannot connect to the control endpoint \(endpoint)") { () throws(ZMQError) in
            let socket = try ZMQSocket(context, type: .req)
            try socket.set(.linger, .zero)
            try socket.set(.immediate, true)
            try socket.set(.sendTimeout, milliseconds(connectTimeout))
            try socket.set(.receiveTimeout, milliseconds(replyTimeout))
            try curve?.apply(to: socket)
            try socket.connect(endpoint)
            return socket
        }
    }

    /// Positive `seconds` as a socket timeout; libzmq's limit (about 24 days) caps it.
    private static func milliseconds(_ seconds: Double) -> ZMQTimeout {
        .milliseconds(Int(min(seconds, Double(Int32.max) / 1000) * 1000))
    }
}
