public import WireProtocol

/// Several daemons behind one client: each new stream goes to the daemon that rendezvous hashing
/// of its id picks (Protocols/rendezvous.md), so all rows of a stream reach the daemon holding its
/// state, every client that knows the same daemons agrees, and a daemon that dies fails only the
/// streams it had (they get the daemon's ERROR or a timeout; the others go on).
///
/// A stream never moves while it lives. A caller that wants to carry on after a daemon died
/// makes a new `ShardedClient` without it: new streams then spread over the rest.
public final class ShardedClient: Sendable {
    /// One client per daemon, in the order given.
    public let clients: [DaemonClient]
    /// The daemons' rendezvous names (their ingest endpoints), in the same order.
    public let names: [String]
    private let first: DaemonClient

    /// Connects to every daemon (each must answer `status`); all clients name their streams
    /// with one prefix, so ids are unique across the set.
    public init(_ daemons: [DaemonEndpoints], options: ClientOptions = ClientOptions()) throws(ClientError) {
        guard !daemons.isEmpty else { throw .invalidOption("a sharded client needs at least one daemon") }
        names = daemons.map(\.name)
        if let duplicate = Rendezvous.duplicate(in: names) { throw .duplicateDaemonName(duplicate) }
        let prefix = DaemonClient.defaultPrefix()
        var clients: [DaemonClient] = []
        for endpoints in daemons { clients.append(try DaemonClient(endpoints, options: options, idPrefix: prefix)) }
        self.clients = clients
        first = clients[0]
    }

    /// Closes every client.
    public func close() { clients.forEach { $0.close() } }

    /// The index of the daemon a stream id goes to.
    public func daemonIndex(for id: StreamID) -> Int { Rendezvous.choose(names, streamID: id.string.utf8) }

    /// A new stream on the daemon its id hashes to; `id` defaults to a fresh id of this client's.
    public func stream(id: StreamID? = nil) throws(ClientError) -> ClientStream {
        let chosen: StreamID
        if let id { chosen = id } else { chosen = try first.nextOwnID() }
        return try clients[daemonIndex(for: chosen)].stream(id: chosen)
    }
}

extension DaemonClient {
    /// The next id of this client's own (prefix + counter), used up like `stream()` would.
    func nextOwnID() throws(ClientError) -> StreamID {
        let number = takeNumber()
        do { return try StreamID(idPrefix + String(number)) } catch { throw .badStreamID(idPrefix + String(number), error) }
    }
}
