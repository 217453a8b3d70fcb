import DaemonTestSupport
import Foundation
import Glibc
import Logging
import LSTMServer
import Testing
import TestSupport

/// The metrics endpoint stays bounded whatever a client sends or holds: before, a 64 KB request
/// line cost seconds of CPU, idle and half-sent connections stayed open for good, and the endpoint
/// stopped for good once `accept` failed with EMFILE.
@Suite struct MetricsHTTPLimitsTests {
    let logger = Logger(label: "metrics-http-limits-test")

    private func startServer(_ limits: MetricsHTTPServer.Limits = .init()) async throws -> MetricsHTTPServer {
        let metrics = ServerMetrics()
        return try await onPlainThread { [logger] in
            try MetricsHTTPServer(host: "127.0.0.1", port: 0, metrics: metrics, logger: logger, limits: limits)
        }
    }

    @Test func anOversizedRequestLineIsCutOffAndTheEndpointKeepsServing() async throws {
        let server = try await startServer()
        defer { server.stop() }
        let outcome = try await onPlainThread {
            let connection = try RawConnection(port: server.port)
            connection.send("GET /" + String(repeating: "a", count: 64 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n")
            return connection.readUntilClosed(seconds: 10)
        }
        #expect(outcome.closed, "the connection stayed open")
        #expect(!outcome.text.hasPrefix("HTTP/1.1 200"))
        let scrape = try await onPlainThread { try httpRequest(port: server.port, path: "/metrics") }
        #expect(scrape.status == 200)
    }

    @Test func tooManyHeaderFieldsAreRefused() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.headerFields = 8
        let server = try await startServer(limits)
        defer { server.stop() }
        let outcome = try await onPlainThread {
            let connection = try RawConnection(port: server.port)
            let headers = (0..<20).map { "X-Field-\($0): \($0)\r\n" }.joined()
            connection.send("GET /metrics HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n")
            return connection.readUntilClosed(seconds: 10)
        }
        #expect(outcome.closed)
        #expect(outcome.text.hasPrefix("HTTP/1.1 400"), "\(outcome.text.prefix(80))")
    }

    @Test func idleAndHalfSentConnectionsAreClosedAfterTheirTime() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.connectionSeconds = 1
        let server = try await startServer(limits)
        defer { server.stop() }
        let outcomes = try await onPlainThread {
            let idle = try RawConnection(port: server.port)
            let partial = try RawConnection(port: server.port)
            partial.send("GET /metr")
            return [idle.readUntilClosed(seconds: 10), partial.readUntilClosed(seconds: 10)]
        }
        #expect(outcomes.allSatisfy { $0.closed })
        #expect(outcomes.allSatisfy { $0.text.isEmpty })
    }

    @Test func connectionsBeyondTheLimitAreClosedAtOnce() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.connections = 3
        let server = try await startServer(limits)
        defer { server.stop() }
        let (extra, afterwards) = try await onPlainThread {
            var held: [RawConnection] = []
            for _ in 0..<3 {
                let connection = try RawConnection(port: server.port)
                connection.send("GET /m")  // admitted and waiting for the rest of its request
                held.append(connection)
            }
            Thread.sleep(forTimeInterval: 0.3)
            let extra = try RawConnection(port: server.port).readUntilClosed(seconds: 5)
            held.removeAll()  // closes them; the server sees EOF and frees their places
            Thread.sleep(forTimeInterval: 0.3)
            return (extra, try httpRequest(port: server.port, path: "/metrics").status)
        }
        #expect(extra.closed && extra.text.isEmpty)
        #expect(afterwards == 200)
    }

    /// In a real daemon whose descriptor limit is lowered while it runs: connections exhaust it,
    /// `accept` fails with EMFILE, and once they are gone a scrape is answered again.
    @Test(.timeLimit(.minutes(1))) func theEndpointSurvivesDescriptorExhaustion() async throws {
        let port = try freeTCPPort()
        let daemon = try DaemonProcess(arguments: ["--metrics", "127.0.0.1:\(port)"])
        defer { _ = daemon.stop() }
        let pid = daemon.process.processIdentifier
        let scrapesAnswered = try await onPlainThread { () -> [Int] in
            let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
            let limit = open + 4
            let prlimit = try runProcess("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=\(limit):\(limit)"], seconds: 10)
            guard prlimit.status == 0 else { throw HarnessError("prlimit failed: \(prlimit.stderr)") }
            var held: [RawConnection] = []
            for _ in 0..<12 {
                let connection = try RawConnection(port: port)
                connection.send("GET /m")
                held.append(connection)
            }
            Thread.sleep(forTimeInterval: 0.5)
            let fdsAtLimit = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
            guard fdsAtLimit >= limit - 1 else { throw HarnessError("the daemon has \(fdsAtLimit) descriptors, limit \(limit)") }
            held.removeAll()
            // The daemon backs off accepting for a second after EMFILE, then drains its backlog.
            var answered: [Int] = []
            for _ in 0..<20 where answered.last != 200 {
                Thread.sleep(forTimeInterval: 0.5)
                answered.append((try? httpRequest(port: port, path: "/metrics").status) ?? -1)
            }
            return answered
        }
        #expect(scrapesAnswered.last == 200, "scrapes after exhaustion: \(scrapesAnswered)\n\(daemon.log.suffix(2000))")
        #expect(daemon.process.isRunning)
    }
}

/// A TCP port nothing listens on right now (bound to 0, then released).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.init(rawValue: errno)!) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A client TCP connection to 127.0.0.1 that sends raw bytes; closed when released.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = POSIXError(.init(rawValue: errno)!)
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Sends what the socket takes (a peer that closed early makes the rest fail, which is fine).
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads until the peer closes (true) or `seconds` pass (false); what it sent, as text.
    func readUntilClosed(seconds: Int) -> (closed: Bool, text: String) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        for _ in 0..<10_000 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) {
                return (true, String(decoding: received, as: UTF8.self))
            }
            if count < 0 { break }
            received += chunk[..<count]
        }
        return (false, String(decoding: received, as: UTF8.self))
    }
}
