import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import Synchronization

/// The `--metrics host:port` endpoint: answers `GET /metrics` with ``ServerMetrics/exposition()``
/// from a background task, never touching the serving loop. Everything else is 404 (405 for another
/// method on /metrics). Stops when stopped or released.
public final class MetricsHTTPServer: Sendable {
    /// The port it listens on (the one the kernel chose when asked for port 0).
    public let port: Int
    private let server: HTTPServer
    private let task: Task<Void, Never>

    /// Binds `host:port` (an IPv4 or IPv6 literal, or `localhost`) and returns once it listens.
    ///
    /// Blocks the calling thread while the server starts, so call it from a plain thread (the
    /// daemon's), not from a Swift concurrency task.
    public init(host: String, port: Int, metrics: ServerMetrics, readiness: Readiness? = nil, logger: Logger,
                startTimeoutSeconds: Double = 10) throws(MetricsServerError) {
        let address: any SocketAddress
        do { address = try Self.socketAddress(host: host, port: port) } catch {
            throw .badAddress(host: host, port: port, reason: "\(error)")
        }
        let server = HTTPServer(address: address, timeout: 15, logger: SwiftLogBridge(logger: logger))
        let outcome = Mutex<Result<Int, MetricsServerError>?>(nil)
        let decided = DispatchSemaphore(value: 0)
        let decide = { @Sendable (result: Result<Int, MetricsServerError>) -> Bool in
            let first = outcome.withLock { value in
                guard value == nil else { return false }
                value = result
                return true
            }
            if first { decided.signal() }
            return first
        }
        task = Task {
            await server.appendRoute("GET /metrics") { _ in
                let headers: HTTPHeaders = [.contentType: "text/plain; version=0.0.4; charset=utf-8"]
                return HTTPResponse(statusCode: .ok, headers: headers, body: Data(metrics.exposition().utf8))
            }
            await server.appendRoute("/metrics") { _ in
                let headers: HTTPHeaders = [HTTPHeader("Allow"): "GET"]
                return HTTPResponse(statusCode: .methodNotAllowed, headers: headers)
            }
            // Issue 15: health probes (answers from HealthEndpoints).
            if let readiness {
                for path in HealthEndpoints.paths {
                    await server.appendRoute(HTTPRoute("GET \(path)")) { _ in
                        let (status, body) = HealthEndpoints.response(path: path, readiness: readiness)!
                        return HTTPResponse(statusCode: HTTPStatusCode(status, phrase: status == 200 ? "OK" : "Service Unavailable"),
                                            headers: [.contentType: "text/plain; charset=utf-8"], body: Data(body.utf8))
                    }
                }
            }
            let watcher = Task {
                do {
                    try await server.waitUntilListening(timeout: startTimeoutSeconds)
                    switch await server.listeningAddress {
                    case let .ip4(_, port), let .ip6(_, port): _ = decide(.success(Int(port)))
                    default: _ = decide(.failure(.start(host: host, port: port, reason: "not listening on an IP address")))
                    }
                } catch {
                    _ = decide(.failure(.start(host: host, port: port, reason: "not listening after \(startTimeoutSeconds) s")))
                }
            }
            do { try await server.run() } catch {
                // Before listening this is the start error init throws; after, a failure while serving.
                if !decide(.failure(.start(host: host, port: port, reason: "\(error)"))) && !Task.isCancelled {
                    logger.error("metrics endpoint stopped", metadata: ["error": "\(error)"])
                }
            }
            watcher.cancel()
        }
        decided.wait()
        switch outcome.withLock({ $0 })! {
        case let .success(bound):
            self.port = bound
            self.server = server
        case let .failure(error):
            task.cancel()
            throw error
        }
        logger.info("metrics endpoint listening", metadata: ["address": "\(host):\(self.port)", "path": "/metrics"])
    }

    deinit { stop() }

    /// Closes the listening socket and the open connections; returns at once.
    public func stop() {
        let server = server
        task.cancel()
        Task { await server.stop(timeout: 0) }
    }

    private static func socketAddress(host: String, port: Int) throws -> any SocketAddress {
        guard let port = UInt16(exactly: port) else { throw MetricsServerError.badPort(port) }
        var host = host
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        return host.contains(":") ? try sockaddr_in6.inet6(ip6: host, port: port)
                                  : try sockaddr_in.inet(ip4: host, port: port)
    }
}

/// Why the metrics endpoint could not start.
public enum MetricsServerError: Error, Equatable, CustomStringConvertible {
    case badPort(Int)
    case badAddress(host: String, port: Int, reason: String)
    case start(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case let .badPort(port): "metrics port \(port) is not between 0 and 65535"
        case let .badAddress(host, port, reason):
            "metrics address \(host):\(port) is not an IP address literal or localhost: \(reason)"
        case let .start(host, port, reason): "cannot serve metrics on \(host):\(port): \(reason)"
        }
    }
}

/// FlyingFox's log lines into swift-log at debug level: it calls a 404 an error and its own stop
/// critical; the failures that matter are logged by ``MetricsHTTPServer`` itself.
private struct SwiftLogBridge: FlyingSocks.Logging {
    let logger: Logger
    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.debug("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.debug("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.debug("\(critical())") }
}
