internal import Checksums

/// Rendezvous (highest-random-weight) hashing of stream ids over named daemons
/// (Protocols/rendezvous.md): every client that knows the same names picks the same daemon for an
/// id, with no coordination, and adding a daemon moves only the ids it wins.
public enum Rendezvous {
    /// The first 8 bytes of SHA-256(UTF-8(daemon) ‖ 0x00 ‖ stream id), big-endian.
    public static func weight(daemon: String, streamID: some Collection<UInt8>) -> UInt64 {
        var hash = SHA256()
        hash.update(Array(daemon.utf8) + [0])
        hash.update(Array(streamID))
        return hash.finalize().prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
    }

    /// The index in `daemons` of the daemon a stream id goes to: the highest weight, ties to the
    /// name greater in byte order. `daemons` must not be empty.
    public static func choose(_ daemons: [String], streamID: some Collection<UInt8>) -> Int {
        precondition(!daemons.isEmpty, "rendezvous hashing needs at least one daemon")
        let id = Array(streamID)
        var best = 0
        var bestWeight = weight(daemon: daemons[0], streamID: id)
        for index in daemons.indices.dropFirst() {
            let candidate = weight(daemon: daemons[index], streamID: id)
            if candidate > bestWeight
                || (candidate == bestWeight && daemons[best].utf8.lexicographicallyPrecedes(daemons[index].utf8)) {
                best = index
                bestWeight = candidate
            }
        }
        return best
    }

    /// A name given to two daemons, if any: rendezvous names must be unique.
    static func duplicate(in daemons: [String]) -> String? {
        var seen: Set<String> = []
        return daemons.first { !seen.insert($0).inserted }
    }
}
