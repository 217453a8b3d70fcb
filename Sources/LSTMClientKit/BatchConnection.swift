import Foundation
public import WireProtocol
import ZeroMQ

/// Rows and predictions of many streams, driven from one thread with no hop to another thread, no
/// copy and no allocation per message: the path of load generators and batch jobs (`lstm-client
/// bench` and `eval`), whose own work per row must stay far below the daemon's.
///
/// It does less than `DaemonClient`: the caller numbers each stream's rows and sequence, decides
/// which socket a stream uses (always the same one, which keeps its rows in order), reads
/// predictions in place and matches them to its streams, and handles losses and timeouts itself.
/// What it owns is the sockets: per daemon, `connectionsPerDaemon` PUSH sockets and one SUB on
/// `subscriptionPrefix` (or `connectionsPerDaemon` DEALERs with `options.lossless`), all with
/// the client's CURVE keys, and one poller over them.
///
/// Not `Sendable`: use it from one thread (libzmq sockets are not thread-safe).
public final class BatchConnection {
    /// The daemons, in the order given; `daemon(for:)` picks one by rendezvous hashing.
    public let daemons: [DaemonEndpoints]
    public let connectionsPerDaemon: Int
    public let lossless: Bool
    private let names: [String]
    /// Daemon d's sockets are `senders[d * connectionsPerDaemon ..< (d + 1) * connectionsPerDaemon]`.
    private let senders: [ZMQSocket]
    /// One SUB per daemon, or the DEALERs themselves.
    private let receivers: [ZMQSocket]
    private let poller = ZMQPoller()
    private var senderEntries: [Int] = []
    private var blocked: [Bool]
    private var blockedCount = 0
    /// Reused buffers: a received message's frames, an ingest header.
    private let received = ZMQMultipart(capacity: 3)
    private var headerBytes: [UInt8] = []

    /// Connects to every daemon; with PUB/SUB, waits `options.subscriptionWait` for the
    /// subscriptions to reach the daemons before returning (stream-protocol.md §10).
    /// `options.timeout` and `recoveryDelay` are not used: timeouts are the caller's.
    public init(daemons: [DaemonEndpoints], options: ClientOptions = ClientOptions(), connectionsPerDaemon: Int = 1,
                subscriptionPrefix: [UInt8]) throws(ClientError) {
        guard !daemons.isEmpty else { throw .invalidOption("a batch connection needs at least one daemon") }
        guard connectionsPerDaemon >= 1 && connectionsPerDaemon <= 1024 else {
            throw .invalidOption("connectionsPerDaemon (\(connectionsPerDaemon)) must be 1 to 1024")
        }
        guard options.subscriptionWait >= 0 && options.subscriptionWait <= 60 else {
            throw .invalidOption("subscriptionWait (\(options.subscriptionWait) s) must be 0 to 60 seconds")
        }
        names = daemons.map(\.name)
        if let duplicate = Rendezvous.duplicate(in: names) { throw .duplicateDaemonName(duplicate) }
        self.daemons = daemons
        self.connectionsPerDaemon = connectionsPerDaemon
        lossless = options.lossless
        let context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        var senders: [ZMQSocket] = []
        if options.lossless {
            for daemon in daemons {
                for _ in 0..<connectionsPerDaemon {
                    senders.append(try ClientSockets.dealer(context, endpoint: daemon.results, curve: options.curve))
                }
            }
            receivers = senders
        } else {
            var receivers: [ZMQSocket] = []
            for daemon in daemons {
                receivers.append(try ClientSockets.subscriber(context, endpoint: daemon.predictions, prefixes: [subscriptionPrefix],
                                                              curve: options.curve))
            }
            self.receivers = receivers
            usleep(UInt32(options.subscriptionWait * 1e6))
            for daemon in daemons {
                for _ in 0..<connectionsPerDaemon {
                    senders.append(try ClientSockets.pusher(context, endpoint: daemon.ingest, curve: options.curve))
                }
            }
        }
        self.senders = senders
        blocked = Array(repeating: false, count: senders.count)
        try zmq("cannot poll sockets") { () throws(ZMQError) in
            if !options.lossless { for receiver in receivers { try poller.add(receiver, events: .readable) } }
            for sender in senders { senderEntries.append(try poller.add(sender, events: options.lossless ? .readable : [])) }
        }
    }

    /// The number of sending sockets: `daemons.count * connectionsPerDaemon`.
    public var socketCount: Int { senders.count }

    /// The index of the daemon that rendezvous hashing picks for `id` (Protocols/rendezvous.md);
    /// hash once per stream, not per row.
    public func daemon(for id: StreamID) -> Int {
        names.count == 1 ? 0 : Rendezvous.choose(names, streamID: id.string.utf8)
    }

    /// The socket of daemon `daemon` that stream slot `slot` uses.
    public func socket(daemon: Int, slot: Int) -> Int {
        daemon * connectionsPerDaemon + slot % connectionsPerDaemon
    }

    /// Sends ROW `row` of `stream`'s sequence `sequence` on socket `socket`: `values` are the row's
    /// bytes in `dtype` (uint8 pixels or float32 little-endian), LAST when `last`. Three frames
    /// straight from the id, a reused header buffer and `values`. False when the socket would
    /// block: the row was not sent, and the socket counts as blocked until `wait` sees it writable.
    public func sendRow(_ row: UInt32, of stream: StreamID, sequence: UInt32, values: UnsafeRawBufferPointer,
                        dtype: RowDType = .uint8, last: Bool, on socket: Int) throws(ClientError) -> Bool {
        IngestHeader(kind: .row, dtype: dtype, flags: last ? .last : [], row: row, sequence: sequence).encode(into: &headerBytes)
        let sender = senders[socket]
        let sent = try zmq("cannot send a row to \(endpoint(of: socket))") { () throws(ZMQError) -> Bool in
            // Once the first frame is queued libzmq takes the rest of the message.
            guard try sender.sendFrame(stream.string.utf8, more: true, dontWait: true) else { return false }
            try sender.sendFrame(headerBytes, more: true)
            try sender.sendFrame(values)
            return true
        }
        if !sent { markBlocked(socket) }
        return sent
    }

    /// Sends END for `stream`'s sequence at `row` (its next row) on socket `socket`, so that the
    /// daemon frees the stream now. False when the socket would block.
    public func sendEnd(of stream: StreamID, sequence: UInt32, at row: UInt32, on socket: Int) throws(ClientError) -> Bool {
        let end = IngestMessage.end(of: stream, sequence: sequence, at: row)
        let sent = try zmq("cannot send END to \(endpoint(of: socket))") { () throws(ZMQError) in
            try senders[socket].send(end.frames, dontWait: true)
        }
        if !sent { markBlocked(socket) }
        return sent
    }

    /// Whether some socket would block (a send returned false and `wait` has not seen it
    /// writable since).
    public var hasBlockedSocket: Bool { blockedCount > 0 }

    /// Whether socket `socket` is blocked.
    public func isBlocked(_ socket: Int) -> Bool { blocked[socket] }

    /// Waits at most `milliseconds` (0: only looks) for a prediction to read or a blocked socket
    /// to take messages again.
    public func wait(milliseconds: Int) throws(ClientError) {
        let base: ZMQEvents = lossless ? .readable : []
        for (socket, entry) in senderEntries.enumerated() {
            poller.setEvents(blocked[socket] ? base.union(.writable) : base, at: entry)
        }
        let ready = try zmq("cannot poll sockets") { () throws(ZMQError) in try poller.poll(timeout: .milliseconds(milliseconds)) }
        guard ready > 0, blockedCount > 0 else { return }
        for (socket, entry) in senderEntries.enumerated() where blocked[socket] && poller.isWritable(entry) {
            blocked[socket] = false
            blockedCount -= 1
        }
    }

    /// Reads every prediction waiting (up to 65,536 per socket), each decoded in place and handed
    /// to `handle`; its buffers are valid only during the call. A message that cannot be decoded
    /// goes to `undecodable` as its `WireError`.
    public func receiveAvailable(_ handle: (PredictionView) -> Void, undecodable: (WireError) -> Void) throws(ClientError) {
        for receiver in receivers {
            for _ in 0..<65_536 {
                guard try zmq("cannot receive predictions", { () throws(ZMQError) in
                    try receiver.receiveMultipart(into: received, dontWait: true)
                }) else { break }
                received.withUnsafeFrames { frames in
                    do throws(WireError) { handle(try decodePrediction(frames: frames)) } catch { undecodable(error) }
                }
            }
        }
    }

    private func markBlocked(_ socket: Int) {
        guard !blocked[socket] else { return }
        blocked[socket] = true
        blockedCount += 1
    }

    private func endpoint(of socket: Int) -> String {
        let daemon = daemons[socket / connectionsPerDaemon]
        return lossless ? daemon.results : daemon.ingest
    }
}
