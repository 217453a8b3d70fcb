import WireProtocol

/// Who a CURVE peer is, as the ZAP handler tells the sockets in its user id.
public enum ClientRole: String, Sendable {
    /// May use every control command.
    case admin
    /// May stream and use the control commands that change nothing.
    case client
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

    /// Why `request` is refused to a peer with `userID` (its messages' `User-Id`), or nil when it
    /// is allowed. Without CURVE every peer may do everything: only loopback or an operator's
    /// `--insecure` lets it connect.
    static func refusal(of request: ControlRequest, userID: String?, curve: Bool) -> WireError? {
        guard curve, changesState(request), ClientRole(rawValue: userID ?? "") != .admin else { return nil }
        return WireError(.forbidden, "\"\(request.command)\" needs an admin key (one listed in curve-admin-keys)")
    }
}
