import Testing
import ZeroMQ

/// The fixed test key pairs from libzmq's zmq_curve(7) manual page.
private enum DocumentedKeys {
    static let clientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    static let clientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
    static let serverPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let serverSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
}

@Suite("CURVE security", .enabled(if: ZMQ.has("curve"), "libzmq was built without CURVE"))
struct CurveTests {
    @Test("Z85 round trips and rejects malformed text")
    func z85() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(ZMQZ85.encode(bytes) == "HelloWorld")  // the example of ZeroMQ RFC 32
        #expect(ZMQZ85.decode("HelloWorld") == bytes)
        #expect(ZMQZ85.encode([1, 2, 3]) == nil)
        #expect(ZMQZ85.decode("Hell") == nil)
        #expect(ZMQZ85.decode("Hell\"") == nil)
        #expect(ZMQCurveKey(z85: "HelloWorld") == nil)
        #expect(ZMQCurveKey(bytes: [UInt8](repeating: 0, count: 31)) == nil)
    }

    @Test("Documented test keys decode and each public key derives from its secret key")
    func documentedKeys() throws {
        let serverSecret = try #require(ZMQCurveKey(z85: DocumentedKeys.serverSecret))
        let clientSecret = try #require(ZMQCurveKey(z85: DocumentedKeys.clientSecret))
        #expect(try ZMQCurve.publicKey(for: serverSecret).z85 == DocumentedKeys.serverPublic)
        #expect(try ZMQCurve.publicKey(for: clientSecret).z85 == DocumentedKeys.clientPublic)
        #expect(!serverSecret.description.contains(DocumentedKeys.serverSecret))
    }

    @Test("Generated key pairs are distinct and consistent")
    func generatedKeys() throws {
        let first = try ZMQCurve.generateKeyPair()
        let second = try ZMQCurve.generateKeyPair()
        #expect(first != second)
        #expect(first.publicKey.bytes.count == 32)
        #expect(try ZMQCurve.publicKey(for: first.secretKey) == first.publicKey)
        #expect(ZMQCurveKey(z85: first.secretKey.z85) == first.secretKey)
    }

    /// A CURVE server PULL bound on tcp 127.0.0.1 and a client PUSH that trusts `trustedServerKey`.
    private func curvePair(trustedServerKey: ZMQCurveKey) throws -> SocketPair {
        let server = ZMQCurveKeyPair(publicKey: ZMQCurveKey(z85: DocumentedKeys.serverPublic)!,
                                     secretKey: ZMQCurveKey(z85: DocumentedKeys.serverSecret)!)
        let client = try ZMQCurve.generateKeyPair()
        return try SocketPair(.tcp, bound: .pull, connected: .push) { pull, push in
            try pull.set(.curveServer, true)
            try pull.set(.curveSecretKey, server.secretKey)
            try push.set(.curveServerKey, trustedServerKey)
            try push.set(.curvePublicKey, client.publicKey)
            try push.set(.curveSecretKey, client.secretKey)
            #expect(try pull.get(.curveServer))
            #expect(try push.get(.curveServerKey) == trustedServerKey)
        }
    }

    @Test("A client with the server's public key exchanges messages")
    func curveExchange() throws {
        let pair = try curvePair(trustedServerKey: ZMQCurveKey(z85: DocumentedKeys.serverPublic)!)
        try pair.bound.set(.receiveTimeout, .seconds(10))
        try pair.connected.send([bytes("secret"), pattern(5000)])
        #expect(try pair.bound.receiveMultipart() == [bytes("secret"), pattern(5000)])
    }

    @Test("A client with a wrong server key gets nothing through")
    func curveWrongServerKey() throws {
        let pair = try curvePair(trustedServerKey: try ZMQCurve.generateKeyPair().publicKey)
        try pair.bound.set(.receiveTimeout, .milliseconds(500))
        try pair.connected.send([bytes("secret")])
        #expect(try pair.bound.receiveMultipart() == nil)
    }
}
