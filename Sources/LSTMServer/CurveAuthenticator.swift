import Logging
import Synchronization
import ZeroMQ

/// The public keys lstmd accepts, and which of them are admins (admin keys are accepted too).
public struct AuthorizedKeys: Sendable, Equatable {
    public var clients: Set<ZMQCurveKey>
    public var admins: Set<ZMQCurveKey>

    public init(clients: Set<ZMQCurveKey>, admins: Set<ZMQCurveKey>) {
        self.clients = clients
        self.admins = admins
    }

    /// What the holder of `key` may do; nil when the key is not authorized.
    public func role(of key: ZMQCurveKey) -> ClientRole? {
        admins.contains(key) ? .admin : clients.contains(key) ? .client : nil
    }

    /// The keys of the key lists at `clients` and `admins` (files or directories of `*.pub`).
    public static func load(clients: String?, admins: String?) throws(ZMQKeyFileError) -> AuthorizedKeys {
        AuthorizedKeys(clients: Set(try clients.map(ZMQCurveKeyFiles.readKeyList) ?? []),
                       admins: Set(try admins.map(ZMQCurveKeyFiles.readKeyList) ?? []))
    }
}

/// lstmd's CURVE policy, consulted by its ZAP handler (`ConnectionGate`): admits CURVE clients
/// whose key is authorized, telling the sockets each client's role as its user id (`admin` or
/// `client`), and refuses every other handshake. The key lists are read again by
/// ``reloadKeys()`` (SIGHUP); a list that has become unreadable keeps the previous keys.
public final class CurveAuthenticator: Sendable {
    /// The ZAP domain of lstmd's sockets.
    public static let zapDomain = "lstmd"

    /// The settings the serving sockets apply before binding.
    public let server: ZMQCurveServer
    private let clientsPath: String?
    private let adminsPath: String?
    private let keys: KeysInForce
    private let logger: Logger

    /// Reads the key lists.
    public init(keyPair: ZMQCurveKeyPair, authorizedKeys: String?, adminKeys: String?, logger: Logger) throws {
        server = ZMQCurveServer(keyPair: keyPair, zapDomain: Self.zapDomain)
        clientsPath = authorizedKeys
        adminsPath = adminKeys
        self.logger = logger
        let loaded = try AuthorizedKeys.load(clients: authorizedKeys, admins: adminKeys)
        keys = KeysInForce(loaded)
        logger.info("CURVE on every socket", metadata: [
            "public_key": "\(keyPair.publicKey.z85)", "authorized_keys": "\(loaded.clients.count)",
            "admin_keys": "\(loaded.admins.count)",
        ])
    }

    /// The answer to one handshake: accepted with its role when the client's key is authorized.
    public func decide(_ request: ZAPRequest) -> ZAPReply {
        let role = request.curveKey.flatMap { key in keys.value.withLock { $0.role(of: key) } }
        // Debug only: a refused client reconnects every 100 ms, which must not flood the log.
        logger.debug("handshake", metadata: [
            "address": "\(request.address)", "mechanism": "\(request.mechanism)",
            "key": "\(request.curveKey.map { String($0.z85.prefix(8)) } ?? "-")",
            "role": "\(role?.rawValue ?? "refused")",
        ])
        guard let role else { return .deny("key not authorized") }
        return .accept(userID: role.rawValue)
    }

    /// Reads the key lists again; on failure logs why and keeps the keys in force.
    public func reloadKeys() {
        do {
            let loaded = try AuthorizedKeys.load(clients: clientsPath, admins: adminsPath)
            keys.value.withLock { $0 = loaded }
            logger.notice("authorized keys reloaded", metadata: [
                "authorized_keys": "\(loaded.clients.count)", "admin_keys": "\(loaded.admins.count)",
            ])
        } catch {
            logger.error("authorized keys not reloaded; the previous keys stay in force", metadata: ["error": "\(error)"])
        }
    }
}

/// The key sets shared by the ZAP thread (reads) and SIGHUP (replaces them).
private final class KeysInForce: Sendable {
    let value: Mutex<AuthorizedKeys>
    init(_ keys: AuthorizedKeys) { value = Mutex(keys) }
}
