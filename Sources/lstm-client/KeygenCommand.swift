import ArgumentParser
import ZeroMQ

/// `lstm-client keygen`: a CURVE key pair as Z85 files, for the daemon or for a client.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public).",
        discussion: """
            The daemon reads its secret key with --curve-secret-key (e.g. through systemd's \
            LoadCredential=) and admits clients whose .pub is in --curve-authorized-keys \
            (--curve-admin-keys for reload and drop). A client passes --key PREFIX.key and the \
            daemon's --server-key lstmd.pub. Existing files are never overwritten.

            Example:
              lstm-client keygen --out /etc/lstmd/lstmd          # the daemon's pair
              lstm-client keygen --out ~/.config/lstmd/alice      # a client's pair
            """)

    @Option(help: ArgumentHelp("Path prefix of the two files.", valueName: "prefix"))
    var out: String

    @Option(help: ArgumentHelp("Name written after the public key (default: the prefix's last component).", valueName: "text"))
    var comment: String?

    func run() throws {
        let name = comment ?? String(out.split(separator: "/").last ?? "key")
        let pair: ZMQCurveKeyPair
        do { pair = try ZMQCurve.generateKeyPair() } catch {
            throw CommandError.invalidArgument("cannot generate a CURVE key pair: \(error)")
        }
        do { try ZMQCurveKeyFiles.write(pair, prefix: out, comment: name) } catch {
            throw CommandError.invalidArgument(error.description)
        }
        note("wrote \(out).key (secret, 0600) and \(out).pub (public)")
        emit(pair.publicKey.z85)
    }
}
