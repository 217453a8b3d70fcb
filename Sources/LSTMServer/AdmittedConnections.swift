/// The connections of one socket that hold a place under a ``ConnectionLimit``: admitted by the ZAP
/// handler and not closed yet, by file descriptor.
///
/// libzmq 4.3.4 does not say which connection a ZAP request is for: the request carries the peer's
/// address only (an IP address without port for tcp, `localhost:uid:gid:pid` for ipc), the same for
/// every connection of one client, and the monitor reports `HANDSHAKE_SUCCEEDED` with the value 0.
/// What it does guarantee, with the daemon's one I/O thread: a connection's `ACCEPTED` (with its
/// descriptor) is reported before its ZAP request is sent, and its `DISCONNECTED` (the same
/// descriptor) when it closes, refused or not. So a request is for one of the open connections
/// whose decision is not known yet (*unresolved*), and the admissions among them are kept as a
/// number, never more than there are unresolved connections: when an unresolved one closes and
/// the admissions outnumber those left, one of the admitted ones closed. Once every unresolved
/// connection must be an admitted one (in a burst: once the refused ones have closed, which their
/// clients do at once), they become known descriptors, and each frees its place when it closes.
///
/// The count is never below the number of admitted connections open, so no more than the limit
/// are ever admitted; a refused handshake, or one that never reaches ZAP, takes no place. It can
/// be above it for a while: an admitted connection that closes while others are unresolved keeps
/// its place until they are resolved or closed (a handshake that never finishes is closed after
/// libzmq's handshake interval, 30 s).
struct AdmittedConnections {
    /// Open connections known to be admitted.
    private(set) var admitted = Set<UInt32>()
    /// Open connections whose decision is not known: not judged yet, refused, or admitted.
    private(set) var unresolved = Set<UInt32>()
    /// How many of the unresolved connections may be admitted ones.
    private(set) var unresolvedAdmissions = 0

    /// Places taken.
    var places: Int { admitted.count + unresolvedAdmissions }

    mutating func accepted(_ descriptor: UInt32) {
        admitted.remove(descriptor)   // a descriptor is reused only after it closed
        unresolved.insert(descriptor)
    }

    mutating func disconnected(_ descriptor: UInt32) {
        if admitted.remove(descriptor) == nil, unresolved.remove(descriptor) != nil { settle() }
    }

    /// Decides one handshake: true (and a place taken) while fewer than `limit` are taken.
    mutating func admit(limit: Int) -> Bool {
        guard places < limit else { return false }
        unresolvedAdmissions += 1
        settle()
        return true
    }

    private mutating func settle() {
        // Each admission is held by an open connection: no more than the unresolved ones.
        unresolvedAdmissions = min(unresolvedAdmissions, unresolved.count)
        guard unresolvedAdmissions == unresolved.count else { return }
        admitted.formUnion(unresolved)
        unresolved.removeAll()
        unresolvedAdmissions = 0
    }
}
