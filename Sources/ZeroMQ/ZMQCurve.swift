internal import CZeroMQ

/// A 32-byte CurveZMQ key (public or secret), readable and writable as 40 Z85 characters.
public struct ZMQCurveKey: Hashable, Sendable, CustomStringConvertible {
    /// Size of a key in bytes.
    public static let byteCount = 32

    /// The key's 32 bytes.
    public let bytes: [UInt8]

    /// A key from 32 bytes; nil for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text; nil if the text is not a valid 32-byte Z85 key.
    public init?(z85: String) {
        guard z85.utf8.count == 40, let bytes = ZMQZ85.decode(z85) else { return nil }
        self.init(bytes: bytes)
    }

    /// The key as 40 Z85 characters, the form libzmq's tools and docs use.
    public var z85: String { ZMQZ85.encode(bytes)! }

    /// The first characters of the Z85 text only, so that logging a secret key does not leak it.
    public var description: String { "ZMQCurveKey(\(z85.prefix(5))…)" }
}

/// A CurveZMQ public/secret key pair.
public struct ZMQCurveKeyPair: Hashable, Sendable {
    /// The key to give peers.
    public let publicKey: ZMQCurveKey
    /// The key to keep: only this socket's owner may know it.
    public let secretKey: ZMQCurveKey

    /// A pair from known keys, e.g. ones loaded from configuration.
    public init(publicKey: ZMQCurveKey, secretKey: ZMQCurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// CurveZMQ key generation (needs libzmq built with CURVE: `ZMQ.has("curve")`).
///
/// A server sets `curveServer` and `curveSecretKey`; a client sets `curveServerKey` (the server's
/// public key) and its own `curvePublicKey` and `curveSecretKey`, all before bind/connect. With
/// no ZAP handler installed every client with the right server key is accepted.
public enum ZMQCurve {
    /// A fresh random key pair (`zmq_curve_keypair`).
    public static func generateKeyPair() throws(ZMQError) -> ZMQCurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZMQError.current("zmq_curve_keypair")
        }
        return ZMQCurveKeyPair(publicKey: try key(publicText), secretKey: try key(secretText))
    }

    /// The public key that belongs to `secretKey` (`zmq_curve_public`).
    public static func publicKey(for secretKey: ZMQCurveKey) throws(ZMQError) -> ZMQCurveKey {
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey.z85) == 0 else {
            throw ZMQError.current("zmq_curve_public")
        }
        return try key(publicText)
    }

    private static func key(_ text: [CChar]) throws(ZMQError) -> ZMQCurveKey {
        guard let key = ZMQCurveKey(z85: String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)) else {
            throw ZMQError.failed(operation: "decoding a key from libzmq", code: .invalidArgument)
        }
        return key
    }
}

/// Z85, ZeroMQ's printable encoding of binary data (RFC 32): 4 bytes become 5 characters.
public enum ZMQZ85 {
    /// Encodes `bytes` (`zmq_z85_encode`); nil unless the count is a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes Z85 `text` (`zmq_z85_decode`); nil unless its length is a multiple of 5 and every
    /// character is in the Z85 alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = text.utf8.count
        guard characters % 5 == 0, !text.utf8.contains(0) else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters / 5 * 4)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }
}
