internal import CZeroMQ
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A failed libzmq call: which operation failed and libzmq's `errno` for it.
///
/// Termination of the context (`ETERM`) is its own case because callers treat it as orderly
/// shutdown, not as a failure:
///
/// ```swift
/// do throws(ZMQError) {
///     while let frames = try socket.receiveMultipart() { ... }
/// } catch .contextTerminated {
///     return  // shutting down
/// } catch {
///     log(error.description)
/// }
/// ```
///
/// `EAGAIN` from a non-blocking or timed-out send/receive is not thrown: those calls return
/// `false`/`nil`. `EINTR` is never thrown by send, receive or poll: they retry.
public enum ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The context was terminated (`ETERM`) while or before `operation` ran.
    case contextTerminated(operation: String)
    /// `operation` failed with `code`.
    case failed(operation: String, code: Code)

    /// An `errno` value as libzmq reports it (`zmq_errno()`), with names for the ones that matter.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `EAGAIN`: a non-blocking operation would block, or a timeout expired.
        public static let wouldBlock = Code(rawValue: EAGAIN)
        /// `EINTR`: a signal interrupted the call.
        public static let interrupted = Code(rawValue: EINTR)
        /// `ETERM`: the socket's context was terminated.
        public static let contextTerminated = Code(rawValue: ETERM)
        /// `EFSM`: the socket's pattern forbids this operation now (e.g. REQ sending twice).
        public static let invalidState = Code(rawValue: EFSM)
        /// `EHOSTUNREACH`: a ROUTER with `routerMandatory` has no peer with that routing id.
        public static let hostUnreachable = Code(rawValue: EHOSTUNREACH)
        /// `EINVAL`: an invalid argument, e.g. a malformed endpoint or option value.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// `EPROTONOSUPPORT`: the endpoint's transport is not supported.
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        /// `ENOCOMPATPROTO`: the transport does not fit the socket type.
        public static let incompatibleProtocol = Code(rawValue: ENOCOMPATPROTO)
        /// `ENOTSUP`: the operation is not supported by this socket type or build.
        public static let notSupported = Code(rawValue: ENOTSUP)
        /// `EADDRINUSE`: the address is already bound.
        public static let addressInUse = Code(rawValue: EADDRINUSE)
        /// `EADDRNOTAVAIL`: the address is not local.
        public static let addressNotAvailable = Code(rawValue: EADDRNOTAVAIL)
        /// `ENODEV`: the endpoint names a nonexistent network interface.
        public static let noSuchDevice = Code(rawValue: ENODEV)
        /// `ENOENT`: unbind/disconnect of an endpoint that is not bound/connected.
        public static let noSuchEndpoint = Code(rawValue: ENOENT)
        /// `ENOTSOCK`: the socket was closed.
        public static let notSocket = Code(rawValue: ENOTSOCK)
        /// `EMFILE`: too many open sockets or files.
        public static let tooManyOpenFiles = Code(rawValue: EMFILE)
        /// `EMTHREAD`: no I/O thread is available.
        public static let noIOThread = Code(rawValue: EMTHREAD)

        private static let names: [Int32: String] = [
            EAGAIN: "EAGAIN", EINTR: "EINTR", ETERM: "ETERM", EFSM: "EFSM",
            EHOSTUNREACH: "EHOSTUNREACH", EINVAL: "EINVAL", EPROTONOSUPPORT: "EPROTONOSUPPORT",
            ENOCOMPATPROTO: "ENOCOMPATPROTO", ENOTSUP: "ENOTSUP", EADDRINUSE: "EADDRINUSE",
            EADDRNOTAVAIL: "EADDRNOTAVAIL", ENODEV: "ENODEV", ENOENT: "ENOENT", ENOTSOCK: "ENOTSOCK",
            EMFILE: "EMFILE", EMTHREAD: "EMTHREAD", EFAULT: "EFAULT", ENOMEM: "ENOMEM",
        ]

        /// The symbolic name (`"EAGAIN"`), when it is one of the codes libzmq documents.
        public var name: String? { Code.names[rawValue] }

        /// libzmq's text for the code (`zmq_strerror`).
        public var message: String { String(cString: zmq_strerror(rawValue)) }

        /// E.g. `Invalid argument (EINVAL, errno 22)`.
        public var description: String {
            "\(message) (\(name.map { "\($0), " } ?? "")errno \(rawValue))"
        }
    }

    /// The error for `code`, turning `ETERM` into `.contextTerminated`.
    public init(code: Code, operation: String) {
        self = code == .contextTerminated
            ? .contextTerminated(operation: operation)
            : .failed(operation: operation, code: code)
    }

    /// The error for the calling thread's current `zmq_errno()`.
    static func current(_ operation: String) -> ZMQError {
        ZMQError(code: Code(rawValue: zmq_errno()), operation: operation)
    }

    /// libzmq's errno for the failure.
    public var code: Code {
        switch self {
        case .contextTerminated: return .contextTerminated
        case .failed(_, let code): return code
        }
    }

    /// The libzmq call and its arguments, e.g. `zmq_bind("tcp://nonsense")`.
    public var operation: String {
        switch self {
        case .contextTerminated(let operation), .failed(let operation, _): return operation
        }
    }

    public var description: String {
        switch self {
        case .contextTerminated(let operation):
            return "\(operation) stopped: the ZeroMQ context was terminated (ETERM)"
        case .failed(let operation, let code):
            return "\(operation) failed: \(code)"
        }
    }
}

/// Calls `call` (a libzmq function returning -1 and setting errno on failure) again while a signal
/// interrupts it (`EINTR`), in the manner of swift-system's `valueOrErrno(retryOnInterrupt:)`.
/// Returns its result, nil for `EAGAIN` (a non-blocking call would block, or a timeout expired),
/// and throws any other errno as the error of `operation`.
@inline(__always)
func retryingOnInterrupt<Result: BinaryInteger>(
    _ operation: @autoclosure () -> String, _ call: () -> Result
) throws(ZMQError) -> Result? {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        if code == EAGAIN { return nil }
        throw ZMQError(code: .init(rawValue: code), operation: operation())
    }
}
