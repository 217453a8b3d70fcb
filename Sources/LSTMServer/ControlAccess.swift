import WireProtocol

/// Who a CURVE peer is, as the ZAP handler tells the sockets in its user id.
public enum ClientRole: String, Sendable {
    /// May use every control command.
    case admin
    /// May stream and use the control commands that change nothing.
    case client
}

/// Who sent a control request, as far as the daemon knows.
enum ControlRequester: Equatable, CustomStringConvertible {
    /// A daemon without CURVE cannot tell: every peer may do everything (only loopback, ipc or an
    /// operator's `--insecure` lets it connect).
    case unauthenticated
    /// A CURVE peer with the role the ZAP handler gave its key; nil (no or another user id) is
    /// treated as the least role.
    case curve(ClientRole?)

    /// The requester of a message on a socket with or without CURVE whose `User-Id` is `userID`.
    init(curve: Bool, userID: String?) {
        self = curve ? .curve(userID.flatMap(ClientRole.init(rawValue:))) : .unauthenticated
    }

    /// For the log: `plain`, or the CURVE role (`admin`, `client`, `none`).
    var description: String {
        switch self {
        case .unauthenticated: "plain"
        case let .curve(role): role?.rawValue ?? "none"
        }
    }
}

/// Which control commands a peer may use.
enum ControlAccess {
    /// Whether `request` changes the daemon (loads a model, ends a stream).
    static func changesState(_ request: ControlRequest) -> Bool {
        switch request {
        case .reload, .drop: true
        case .ping, .status, .streams, .metrics: false
        }
    }

    /// Why `request` is refused to `requester`, or nil when it is allowed.
    static func refusal(of request: ControlRequest, by requester: ControlRequester) -> WireError? {
        guard case let .curve(role) = requester, changesState(request), role != .admin else { return nil }
        return WireError(.forbidden, "\"\(request.command)\" needs an admin key (one listed in curve-admin-keys)")
    }
}
