import Foundation
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// CURVE keys in files, as Z85 text: a secret key file (`NAME.key`, mode 0600) holds the 40-character
/// secret key, a public key file (`NAME.pub`) the public one. A key list holds one public key per
/// line; blank lines and lines starting with `#` are skipped, and text after the key (separated by
/// white space) names it. A directory used as a key list contributes every `*.pub` file in it.
///
/// Errors never quote a file's content: a malformed line may be a secret key in the wrong place.
public enum ZMQCurveKeyFiles {
    /// The key pair whose secret key is in the file at `path`; the public key is derived from it.
    /// Refuses a file that other users may read or write.
    public static func readSecretKey(at path: String) throws(ZMQKeyFileError) -> ZMQCurveKeyPair {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        let others = info.st_mode & 0o007
        guard others == 0 else { throw .exposedSecret(path: path, mode: Int(info.st_mode & 0o777)) }
        let keys = try readKeys(at: path)
        guard keys.count == 1, let secret = keys.first else {
            throw .malformed(path: path, line: nil, reason: "a secret key file holds exactly one key; found \(keys.count)")
        }
        do {
            return ZMQCurveKeyPair(publicKey: try ZMQCurve.publicKey(for: secret), secretKey: secret)
        } catch {
            throw .malformed(path: path, line: nil, reason: "libzmq cannot derive a public key from it (\(error))")
        }
    }

    /// The one public key in the file at `path`, or a Z85 key given as text (40 characters).
    public static func readPublicKey(_ pathOrZ85: String) throws(ZMQKeyFileError) -> ZMQCurveKey {
        if pathOrZ85.utf8.count == 40, let key = ZMQCurveKey(z85: pathOrZ85),
           !FileManager.default.fileExists(atPath: pathOrZ85) {
            return key
        }
        let keys = try readKeys(at: pathOrZ85)
        guard keys.count == 1, let key = keys.first else {
            throw .malformed(path: pathOrZ85, line: nil, reason: "a public key file holds exactly one key; found \(keys.count)")
        }
        return key
    }

    /// The public keys listed in the file at `path`, or in the `*.pub` files of the directory at
    /// `path` (sorted by name; other files are ignored).
    public static func readKeyList(at path: String) throws(ZMQKeyFileError) -> [ZMQCurveKey] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return try readKeys(at: path) }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        var keys: [ZMQCurveKey] = []
        for name in names.sorted() where name.hasSuffix(".pub") && !name.hasPrefix(".") {
            keys += try readKeys(at: (path as NSString).appendingPathComponent(name))
        }
        return keys
    }

    /// Every key in a file of Z85 keys, one per line.
    static func readKeys(at path: String) throws(ZMQKeyFileError) -> [ZMQCurveKey] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedFailureReason ?? "not readable UTF-8 text")
        }
        var keys: [ZMQCurveKey] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.allSatisfy(\.isWhitespace) { continue }
            let field = trimmed.prefix { !$0.isWhitespace }
            guard field.utf8.count == 40 else {
                throw .malformed(path: path, line: index + 1, reason: "a key is 40 Z85 characters; this one has \(field.utf8.count)")
            }
            guard let key = ZMQCurveKey(z85: String(field)) else {
                throw .malformed(path: path, line: index + 1, reason: "not Z85 text (ZeroMQ RFC 32)")
            }
            keys.append(key)
        }
        return keys
    }

    /// Writes `pair` as `PREFIX.key` (the secret key, mode 0600) and `PREFIX.pub` (the public key,
    /// mode 0644). Refuses to replace existing files.
    public static func write(_ pair: ZMQCurveKeyPair, prefix: String, comment: String) throws(ZMQKeyFileError) {
        let secretPath = prefix + ".key", publicPath = prefix + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw .exists(path: path)
        }
        try create(secretPath, mode: 0o600, text: "# CURVE secret key (\(comment)); keep it private\n\(pair.secretKey.z85)\n")
        try create(publicPath, mode: 0o644, text: "\(pair.publicKey.z85) \(comment)\n")
    }

    /// Creates `path` exclusively with `mode` (whatever the umask) and writes `text` to it.
    private static func create(_ path: String, mode: mode_t, text: String) throws(ZMQKeyFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode) == 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw .unwritable(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

extension ZMQCurveClient {
    /// A client's CURVE settings from key files: the server's public key (its `.pub` file, or the
    /// 40 Z85 characters) and this client's secret key file (its public key is derived).
    public init(serverKey pathOrZ85: String, secretKeyFile path: String) throws(ZMQKeyFileError) {
        self.init(serverKey: try ZMQCurveKeyFiles.readPublicKey(pathOrZ85),
                  keyPair: try ZMQCurveKeyFiles.readSecretKey(at: path))
    }
}

/// A key file that cannot be used, naming the file (and line) and what is wrong, never its content.
public enum ZMQKeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, line: Int?, reason: String)
    case exposedSecret(path: String, mode: Int)
    case exists(path: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            "cannot read key file \(path): \(reason)"
        case let .malformed(path, line, reason):
            "key file \(path)\(line.map { " line \($0)" } ?? ""): \(reason)"
        case let .exposedSecret(path, mode):
            "secret key file \(path) has mode \(String(mode, radix: 8)): other users may read it; chmod 600 it"
        case let .exists(path):
            "\(path) exists; refusing to overwrite a key file"
        case let .unwritable(path, reason):
            "cannot write key file \(path): \(reason)"
        }
    }
}

/// write(2), named so that `ZMQCurveKeyFiles.write(_:prefix:comment:)` does not hide it.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}
