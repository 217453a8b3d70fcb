#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Protected mode (Redis' precedent): lstmd serves plain ZeroMQ only where nobody else can reach
/// it. A tcp endpoint that is not loopback needs CURVE, or an operator's explicit `--insecure`.
public enum ExposurePolicy {
    /// Whether binding `endpoint` keeps the socket off the network: `ipc://` and `inproc://`, and
    /// `tcp://` on a loopback address (127.0.0.0/8, ::1, `localhost`, the `lo` interface).
    /// Everything else, including `tcp://*`, `0.0.0.0`, host names and other transports, is exposed.
    public static func isLoopback(_ endpoint: String) -> Bool {
        guard let separator = endpoint.range(of: "://") else { return false }
        let transport = endpoint[..<separator.lowerBound]
        let address = endpoint[separator.upperBound...]
        switch transport {
        case "ipc", "inproc":
            return true
        case "tcp":
            guard let colon = address.lastIndex(of: ":") else { return false }
            var host = String(address[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return isLoopbackHost(host)
        default:
            return false
        }
    }

    /// A literal loopback address, `localhost` or `lo`.
    static func isLoopbackHost(_ host: String) -> Bool {
        if host == "localhost" || host == "lo" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }  // ::1
            // ::ffff:127.x.y.z, an IPv4 loopback address written as IPv6.
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
        return false
    }

    /// Refuses to serve any of `endpoints` (socket name, endpoint) off loopback without CURVE,
    /// unless `insecure`.
    public static func check(_ endpoints: [(socket: String, endpoint: String)], curve: Bool,
                             insecure: Bool) throws(ExposureError) {
        guard !curve && !insecure else { return }
        let exposed = endpoints.filter { !isLoopback($0.endpoint) }
        guard exposed.isEmpty else { throw ExposureError(exposed: exposed.map { "\($0.socket) \($0.endpoint)" }) }
    }
}

/// Sockets that would be reachable from the network without authentication.
public struct ExposureError: Error, Equatable, CustomStringConvertible {
    /// `socket endpoint` of each exposed socket.
    public var exposed: [String]

    public var description: String {
        "refusing to serve \(exposed.joined(separator: ", ")) beyond loopback without CURVE: anyone who reaches "
            + "it could stream rows, read predictions and reload or drop. Give --curve-secret-key with "
            + "--curve-authorized-keys (see Systemd/README.md, \"Exposing lstmd\"), or --insecure on a trusted network."
    }
}
