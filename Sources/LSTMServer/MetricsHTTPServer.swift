import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The `--metrics host:port` endpoint: answers `GET /metrics` with ``ServerMetrics/exposition()``
/// on its own SwiftNIO event-loop thread, never touching the serving loop. Everything else is 404
/// (405 for another method on /metrics). One request per connection (`Connection: close`).
///
/// Bounded whatever a client does (``Limits``): bytes a connection may send, header fields, the
/// life of a connection (idle or trickling), connections open at once; when the process runs out
/// of descriptors, accepting pauses for a second and resumes (NIO's `AcceptBackoffHandler`).
public final class MetricsHTTPServer: Sendable {
    /// What one client can cost the endpoint.
    public struct Limits: Sendable, Equatable {
        /// Bytes a connection may send (request line, headers, any body); beyond, it is closed.
        public var requestBytes = 16 * 1024
        /// Header fields of a request; beyond, it gets 400 and is closed.
        public var headerFields = 64
        /// Seconds a connection may stay open, however it spends them (idle, or sending slowly).
        public var connectionSeconds: Int64 = 10
        /// Connections open at once; one beyond is closed at accept.
        public var connections = 64

        public init() {}
    }

    /// The port it listens on (the one the kernel chose when asked for port 0).
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let stopped = Atomic<Bool>(false)

    /// Binds `host:port` (an IPv4 or IPv6 literal, or `localhost`) and returns once it listens.
    /// Blocks the calling thread while it binds: call it from a plain thread, not from a task.
    /// With `readiness`, it also answers the health probes `/healthz` and `/readyz` (``HealthEndpoints``).
    public init(host: String, port: Int, metrics: ServerMetrics, readiness: Readiness? = nil, logger: Logger,
                limits: Limits = Limits()) throws(MetricsServerError) {
        guard let validPort = UInt16(exactly: port) else { throw .badPort(port) }
        var literal = host
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        if literal == "localhost" { literal = "127.0.0.1" }
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: literal, port: Int(validPort)) } catch {
            throw .badAddress(host: host, port: port, reason: "\(error)")
        }

        _ = Self.handlerTypesInstantiated
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = Mutex(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler())
                }
            }
            .childChannelInitializer { channel in
                let admitted = open.withLock { count in
                    guard count < limits.connections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLock { $0 -= 1 } }
                let deadline = channel.eventLoop.scheduleTask(in: .seconds(limits.connectionSeconds)) {
                    channel.close(promise: nil)
                }
                channel.closeFuture.whenComplete { _ in deadline.cancel() }
                return channel.eventLoop.makeCompletedFuture {
                    var decoderLimits = NIOHTTPDecoderLimitConfiguration()
                    decoderLimits.maxHeaderFieldSize = limits.requestBytes
                    decoderLimits.maxHeaderListSize = limits.requestBytes
                    decoderLimits.maxHeaderFieldCount = limits.headerFields
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(InboundByteLimit(limit: limits.requestBytes))
                    try pipeline.addHandler(HTTPResponseEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(
                        leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
                    try pipeline.addHandler(HTTPServerProtocolErrorHandler())
                    try pipeline.addHandler(MetricsRequestHandler(metrics: metrics, readiness: readiness))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)

        do {
            channel = try bootstrap.bind(to: address).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw .start(host: host, port: port, reason: "\(error)")
        }
        self.group = group
        self.port = channel.localAddress?.port ?? port
        logger.info("metrics endpoint listening", metadata: ["address": "\(host):\(self.port)", "path": "/metrics"])
    }

    deinit { stop() }

    /// The generic handler types of a connection's pipeline, instantiated once on the first server's
    /// thread: the Swift 6.3 runtime crashed (SIGSEGV in `swift_checkMetadataState`) when event-loop
    /// threads of several servers instantiated `ByteToMessageHandler<HTTPRequestDecoder>` at once.
    private static let handlerTypesInstantiated: Void = {
        _ = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes,
                                                    limitConfiguration: NIOHTTPDecoderLimitConfiguration()))
        _ = HTTPResponseEncoder()
        _ = HTTPServerProtocolErrorHandler()
    }()

    /// Closes the listening socket and the open connections; returns at once.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        channel.close(promise: nil)
        group.shutdownGracefully { _ in }
    }
}

/// Closes a connection that has sent more than `limit` bytes: with one request per connection,
/// this bounds the request line, the headers and any body together, before they are parsed.
private final class InboundByteLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let limit: Int
    private var received = 0

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        guard received <= limit else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}

/// Routes one request and closes the connection after its response.
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let metrics: ServerMetrics
    private let readiness: Readiness?
    private var head: HTTPRequestHead?

    init(metrics: ServerMetrics, readiness: Readiness?) {
        self.metrics = metrics
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // bounded by InboundByteLimit; no route takes a body
        case .end:
            guard let head else { return context.close(promise: nil) }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    /// A request NIO could not parse has had its 400 (HTTPServerProtocolErrorHandler): hang up.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var headers = HTTPHeaders([("Connection", "close")])
        let status: HTTPResponseStatus
        var body = ByteBuffer()
        switch (path, head.method) {
        case ("/metrics", .GET):
            status = .ok
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            body = ByteBuffer(string: metrics.exposition())
        case ("/metrics", _):
            status = .methodNotAllowed
            headers.add(name: "Allow", value: "GET")
        default:
            if head.method == .GET, let readiness,
               let (code, text) = HealthEndpoints.response(path: String(path), readiness: readiness) {
                status = HTTPResponseStatus(statusCode: code)
                headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                body = ByteBuffer(string: text)
            } else {
                status = .notFound
            }
        }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
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
