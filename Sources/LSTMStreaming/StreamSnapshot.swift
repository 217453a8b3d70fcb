import Checksums
import Foundation
import LSTMCore
import WireProtocol

/// The live streams of one model, saved so that a restarted engine continues them exactly.
///
/// On disk it is a safetensors file: tensor `state` [streams, 2·layers·H] (each stream's h and c of
/// every layer, in the engine's state layout), tensor `last_probabilities` [streams, classes] (the
/// prediction of each stream's last applied row, repeated when a client resends it) and, in
/// `__metadata__`, `format` = `lstmd-snapshot`,
/// `format_version` = `2`, `model_sha256`, `stream_ids`, `sequences` (each stream's sequence
/// number) and `next_rows` (JSON arrays, one entry per row of `state`), `contents_sha256` (see
/// `contentsSHA256`) and `created` (ISO 8601). Version 1 files had no sequence numbers: they are
/// refused, since their streams could not be told from later sequences on the same ids.
public struct StreamSnapshot: Sendable, Equatable {
    /// One saved stream: where it stands and its state.
    public struct Stream: Sendable, Equatable {
        /// The stream id (a `StreamID`'s string).
        public var id: String
        /// The client's number for the sequence the state belongs to.
        public var sequence: UInt32
        /// The row index the stream expects next (every row below it has been applied).
        public var nextRow: Int
        /// h and c of every layer: `stateCount` floats.
        public var state: [Float]
        /// Class probabilities after row `nextRow - 1`.
        public var lastProbabilities: [Float]

        public init(id: String, sequence: UInt32, nextRow: Int, state: [Float], lastProbabilities: [Float]) {
            self.id = id
            self.sequence = sequence
            self.nextRow = nextRow
            self.state = state
            self.lastProbabilities = lastProbabilities
        }
    }

    /// The `format` metadata value of a snapshot file.
    public static let format = "lstmd-snapshot"
    /// The `format_version` this code writes and reads.
    public static let formatVersion = 2
    /// The largest snapshot file read: 8 GiB (100,000 streams of H = 1024, L = 4 take 3.3 GB).
    public static let maxFileByteCount = 1 << 33
    /// The largest next row: rows are numbered by an unsigned 32-bit integer on the wire.
    public static let maxNextRow = Int(UInt32.max)

    /// SHA-256 of the model the streams run on; a snapshot only restores onto that model.
    public var modelSHA256: String
    /// Floats of state per stream (`2·layers·H`).
    public var stateCount: Int
    /// Floats of `lastProbabilities` per stream (the model's classes).
    public var classes: Int
    /// The saved streams, by id.
    public var streams: [Stream]

    public init(modelSHA256: String, stateCount: Int, classes: Int, streams: [Stream]) {
        self.modelSHA256 = modelSHA256
        self.stateCount = stateCount
        self.classes = classes
        self.streams = streams
    }

    // MARK: File form

    /// The snapshot file's bytes (see the type's description); ``init(bytes:)`` reads them back.
    public func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        let ids = (try? encoder.encode(streams.map(\.id))).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let rows = (try? encoder.encode(streams.map(\.nextRow))).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let sequences = (try? encoder.encode(streams.map(\.sequence))).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let state = streams.flatMap(\.state), last = streams.flatMap(\.lastProbabilities)
        let file = SafetensorsFile(
            tensors: [
                "state": SafetensorsTensor(shape: [streams.count, stateCount], values: state),
                "last_probabilities": SafetensorsTensor(shape: [streams.count, classes], values: last),
            ],
            metadata: [
                "format": Self.format, "format_version": String(Self.formatVersion),
                "model_sha256": modelSHA256, "stream_ids": ids, "sequences": sequences, "next_rows": rows,
                "contents_sha256": Self.contentsSHA256(modelSHA256: modelSHA256, ids: ids, sequences: sequences,
                                                       nextRows: rows, state: state, lastProbabilities: last),
                "created": ISO8601DateFormatter().string(from: Date()),
            ])
        return file.serialized()
    }

    /// Parses and checks a snapshot file's bytes.
    public init(bytes: [UInt8]) throws(SnapshotError) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(bytes: bytes) } catch { throw .malformed(String(describing: error)) }
        let meta = file.metadata
        guard meta["format"] == Self.format else {
            throw .malformed("format is \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(Self.format)'")
        }
        guard meta["format_version"] == String(Self.formatVersion) else {
            throw .malformed("format_version \(meta["format_version"] ?? "missing") is not supported (expected \(Self.formatVersion); "
                + "version 1 snapshots carry no sequence numbers)")
        }
        guard let sha = meta["model_sha256"], sha.count == 64 else { throw .malformed("model_sha256 missing or not 64 hex digits") }
        let decoder = JSONDecoder()
        guard let ids = meta["stream_ids"].flatMap({ try? decoder.decode([String].self, from: Data($0.utf8)) }),
              let rows = meta["next_rows"].flatMap({ try? decoder.decode([Int].self, from: Data($0.utf8)) }),
              let sequences = meta["sequences"].flatMap({ try? decoder.decode([UInt32].self, from: Data($0.utf8)) })
        else { throw .malformed("stream_ids, sequences or next_rows is missing or not a JSON array") }
        guard let state = file.tensors["state"], state.shape.count == 2, state.shape[0] == ids.count,
              let last = file.tensors["last_probabilities"], last.shape.count == 2, last.shape[0] == ids.count,
              rows.count == ids.count, sequences.count == ids.count
        else {
            throw .malformed("tensors 'state' and 'last_probabilities' must have \(ids.count) rows, one per stream id and next row")
        }
        let checksum = Self.contentsSHA256(modelSHA256: sha, ids: meta["stream_ids"]!, sequences: meta["sequences"]!,
                                           nextRows: meta["next_rows"]!, state: state.values, lastProbabilities: last.values)
        guard meta["contents_sha256"] == checksum else {
            throw .malformed("contents_sha256 is \(meta["contents_sha256"].map { "'\($0)'" } ?? "missing"), the contents hash to '\(checksum)'")
        }
        let width = state.shape[1]
        let classes = last.shape[1]
        // The safetensors reader checked that each tensor holds rows × columns values: slices fit.
        modelSHA256 = sha
        stateCount = width
        self.classes = classes
        streams = []
        streams.reserveCapacity(ids.count)
        for i in ids.indices {
            streams.append(Stream(id: ids[i], sequence: sequences[i], nextRow: rows[i],
                                  state: Array(state.values[(i * width)..<((i + 1) * width)]),
                                  lastProbabilities: Array(last.values[(i * classes)..<((i + 1) * classes)])))
        }
        try validate()
    }

    /// Checks every stream: a unique non-empty id, a next row in 1…`maxNextRow`, `stateCount` state
    /// values and `classes` probabilities, all finite. A restore checks it again, because a snapshot
    /// made in memory skips the file's checks.
    public func validate() throws(SnapshotError) {
        var seen = Set<String>()
        for stream in streams {
            let name = stream.id.count > 64 ? "'\(stream.id.prefix(64))…'" : "'\(stream.id)'"
            guard !stream.id.isEmpty else { throw .malformed("a stream id is empty") }
            guard seen.insert(stream.id).inserted else { throw .malformed("stream \(name) appears twice") }
            guard (1...Self.maxNextRow).contains(stream.nextRow) else {
                throw .malformed("stream \(name) has next row \(stream.nextRow), outside 1…\(Self.maxNextRow)")
            }
            guard stream.state.count == stateCount, stream.lastProbabilities.count == classes else {
                throw .malformed("stream \(name) has \(stream.state.count) state values and \(stream.lastProbabilities.count) probabilities, expected \(stateCount) and \(classes)")
            }
            if let bad = (stream.state + stream.lastProbabilities).firstIndex(where: { !$0.isFinite }) {
                throw .malformed("value \(bad) of stream \(name)'s saved state is not finite")
            }
        }
    }

    /// Reads and checks a snapshot file (see ``write(to:)``): a regular file of at most
    /// `maxFileByteCount` bytes.
    public init(contentsOf url: URL) throws(SnapshotError) {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path: url.path, maxByteCount: Self.maxFileByteCount) } catch {
            throw .unreadable(path: url.path, reason: error.description)
        }
        try self.init(bytes: bytes)
    }

    /// SHA-256 (hex) over everything a snapshot restores: the model hash, the three metadata
    /// arrays as stored (each followed by a newline), then the bit patterns of `state` and
    /// `last_probabilities` (float32 little-endian). Catches a flipped bit anywhere in them.
    static func contentsSHA256(modelSHA256: String, ids: String, sequences: String, nextRows: String,
                               state: [Float], lastProbabilities: [Float]) -> String {
        var hasher = SHA256()
        for text in [modelSHA256, ids, sequences, nextRows] { hasher.update(Array((text + "\n").utf8)) }
        for values in [state, lastProbabilities] {
            var bytes = [UInt8]()
            bytes.reserveCapacity(4 * values.count)
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            hasher.update(bytes)
        }
        return hasher.finalizeHex()
    }
}

/// Why a snapshot could not be read, written or restored.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case malformed(String)
    case modelMismatch(snapshot: String, serving: String)
    case stateSizeMismatch(snapshot: Int, model: Int)
    case tooManyStreams(snapshot: Int, maxStreams: Int)
    /// `snapshot()` was asked for while rows were queued: their streams could not be saved exactly.
    case rowsQueued(rows: Int, streams: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read snapshot \(path): \(reason)"
        case let .unwritable(path, reason): "cannot write snapshot \(path): \(reason)"
        case let .malformed(reason): "snapshot is corrupt: \(reason)"
        case let .modelMismatch(snapshot, serving):
            "snapshot was taken with model \(snapshot.prefix(16))…, the engine serves \(serving.prefix(16))…"
        case let .stateSizeMismatch(snapshot, model):
            "snapshot holds \(snapshot) values (state and probabilities) per stream, the model needs \(model)"
        case let .tooManyStreams(snapshot, maxStreams):
            "snapshot holds \(snapshot) streams, more than the limit of \(maxStreams)"
        case let .rowsQueued(rows, streams):
            "\(rows) rows of \(streams) streams are queued and not applied; drain the engine before taking a snapshot"
        }
    }
}

extension StreamEngine {
    /// The live streams, for saving, exactly where they stand: refused while any row is queued
    /// (call ``drain(now:_:)`` first), so that no accepted row is ever lost by a restore.
    ///
    /// It holds every stream of the current model that is numbered (its rows carry a sequence
    /// number). Left out are streams still on an older model (after ``replaceModel(with:origin:)``)
    /// and unnumbered streams (`sequence: nil`), whose clients could not tell a restored sequence
    /// from a later one on the same id.
    public func snapshot() throws(SnapshotError) -> StreamSnapshot {
        guard !hasQueuedRows else { throw .rowsQueued(rows: queuedRowCount, streams: streamsWithQueuedRows) }
        return StreamSnapshot(modelSHA256: currentModel.sha256, stateCount: currentModel.shape.stateCount,
                       classes: currentModel.shape.classes, streams: settledStreams())
    }

    /// Recreates the snapshot's streams on the current model, each expecting the row after its last
    /// applied one; a live stream with the same id is replaced. `now` (nil: ``clock``) starts their
    /// idle time.
    public func restore(_ snapshot: StreamSnapshot, now: UInt64? = nil) throws(SnapshotError) {
        try snapshot.validate()
        guard snapshot.modelSHA256 == currentModel.sha256 else {
            throw .modelMismatch(snapshot: snapshot.modelSHA256, serving: currentModel.sha256)
        }
        guard snapshot.stateCount == currentModel.shape.stateCount, snapshot.classes == currentModel.shape.classes else {
            throw .stateSizeMismatch(snapshot: snapshot.stateCount + snapshot.classes,
                                     model: currentModel.shape.stateCount + currentModel.shape.classes)
        }
        guard liveStreamCount + snapshot.streams.count <= configuration.maxStreams else {
            throw .tooManyStreams(snapshot: snapshot.streams.count, maxStreams: configuration.maxStreams)
        }
        var ids: [StreamID] = []
        for stream in snapshot.streams {
            do { ids.append(try StreamID(stream.id)) } catch { throw .malformed("stream id \"\(stream.id)\": \(error)") }
        }
        let now = now ?? clock.nanoseconds()
        for (stream, id) in zip(snapshot.streams, ids) { insertRestored(stream, id: id, now: now) }
    }
}
