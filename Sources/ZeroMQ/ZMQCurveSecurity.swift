/// The CURVE settings of a server socket: its secret key, and the ZAP domain its handshakes name.
/// Apply before `bind`. Peers are authenticated only while a ZAP handler (`ZMQZAPHandler`) is
/// bound in the same context; without one libzmq accepts every client that knows the public key.
public struct ZMQCurveServer: Sendable {
    /// This server's key pair; clients are given `keyPair.publicKey`.
    public let keyPair: ZMQCurveKeyPair
    /// The domain of the ZAP requests for this socket's handshakes.
    public let zapDomain: String

    public init(keyPair: ZMQCurveKeyPair, zapDomain: String) {
        self.keyPair = keyPair
        self.zapDomain = zapDomain
    }

    /// Makes `socket` a CURVE server (`ZMQ_CURVE_SERVER`, `ZMQ_CURVE_SECRETKEY`, `ZMQ_ZAP_DOMAIN`).
    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(.curveServer, true)
        try socket.set(.curveSecretKey, keyPair.secretKey)
        try socket.set(.zapDomain, Array(zapDomain.utf8))
    }
}

/// The CURVE settings of a client socket: the server's public key and the client's own pair.
/// Apply before `connect`.
public struct ZMQCurveClient: Sendable {
    /// The public key the server must prove it holds the secret of.
    public let serverKey: ZMQCurveKey
    /// This client's key pair; the server's ZAP handler sees `keyPair.publicKey`.
    public let keyPair: ZMQCurveKeyPair

    public init(serverKey: ZMQCurveKey, keyPair: ZMQCurveKeyPair) {
        self.serverKey = serverKey
        self.keyPair = keyPair
    }

    /// Sets `ZMQ_CURVE_SERVERKEY`, `ZMQ_CURVE_PUBLICKEY` and `ZMQ_CURVE_SECRETKEY` on `socket`.
    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(.curveServerKey, serverKey)
        try socket.set(.curvePublicKey, keyPair.publicKey)
        try socket.set(.curveSecretKey, keyPair.secretKey)
    }
}
