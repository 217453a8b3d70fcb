import Checksums
import Foundation
import LSTMCore
import WireProtocol

/// The live streams of an engine, saved so that a restarted engine continues them exactly: one
/// section per model the streams run on (after a reload, streams that started on an older model
/// finish on it).
///
/// On disk it is a safetensors file (format version 3). `__metadata__` holds `format` =
/// `lstmd-snapshot`, `format_version` = `3`, `sections` (a JSON array with one object per section:
/// `model_sha256`, `model_path` when known, and the arrays `stream_ids`, `sequences` (each
/// stream's sequence number) and `next_rows`, one entry per stream), `contents_sha256` and
/// `created` (ISO 8601). Section `i` has the tensors `state.i` [streams, 2·layers·H] (each
/// stream's h and c of every layer, in the engine's state layout) and `last_probabilities.i`
/// [streams, classes] (the prediction of each stream's last applied row, repeated when a client
/// resends it), both F32; the file holds no other tensor. `contents_sha256` is the SHA-256 (hex)
/// of the `sections` value as stored and a newline, followed by the values of `state.0`,
/// `last_probabilities.0`, `state.1`, … as float32 little-endian: a flipped bit anywhere in what a
/// restore uses is caught.
///
/// Version 2 files, written before sections existed, are read as one section without a model
/// path: tensors `state` and `last_probabilities`, and `model_sha256`, `stream_ids`, `sequences`,
/// `next_rows` in `__metadata__`. Version 1 files had no sequence numbers: they are refused, since
/// their streams could not be told from later sequences on the same ids.
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

    /// The saved streams of one model.
    public struct Section: Sendable, Equatable {
        /// SHA-256 of the model the streams run on; they restore only onto that model.
        public var modelSHA256: String
        /// The file the model was loaded from (its generation's `ModelOrigin.path`), so that a host
        /// can load it again at restore; nil when the engine did not know one.
        public var modelPath: String?
        /// Floats of state per stream (`2·layers·H` of the model).
        public var stateCount: Int
        /// Floats of `lastProbabilities` per stream (the model's classes).
        public var classes: Int
        /// The saved streams, by id; never empty.
        public var streams: [Stream]

        public init(modelSHA256: String, modelPath: String? = nil, stateCount: Int, classes: Int, streams: [Stream]) {
            self.modelSHA256 = modelSHA256
            self.modelPath = modelPath
            self.stateCount = stateCount
            self.classes = classes
            self.streams = streams
        }
    }

    /// The `format` metadata value of a snapshot file.
    public static let format = "lstmd-snapshot"
    /// The `format_version` this code writes.
    public static let formatVersion = 3
    /// The largest snapshot file read: 8 GiB (100,000 streams of H = 1024, L = 4 take 3.3 GB).
    public static let maxFileByteCount = 1 << 33
    /// The largest next row: rows are numbered by an unsigned 32-bit integer on the wire.
    public static let maxNextRow = Int(UInt32.max)
    /// The longest model path kept (Linux's PATH_MAX).
    public static let maxModelPathBytes = 4096

    /// One section per model with saved streams: the engine's current model first, then older
    /// ones, newest first.
    public var sections: [Section]

    /// Every saved stream, over all sections.
    public var streams: [Stream] { sections.flatMap(\.streams) }

    public init(sections: [Section]) {
        self.sections = sections
    }

    // MARK: File form

    /// The metadata of one section as `sections` stores it.
    private struct SectionRecord: Codable {
        var modelSHA256: String
        var modelPath: String?
        var streamIDs: [String]
        var sequences: [UInt32]
        var nextRows: [Int]

        enum CodingKeys: String, CodingKey {
            case modelSHA256 = "model_sha256", modelPath = "model_path", streamIDs = "stream_ids"
            case sequences, nextRows = "next_rows"
        }
    }

    /// The snapshot file's bytes (format version 3, see the type's description); ``init(bytes:)``
    /// reads them back.
    public func serialized() -> [UInt8] {
        let records = sections.map { section in
            SectionRecord(modelSHA256: section.modelSHA256, modelPath: section.modelPath,
                          streamIDs: section.streams.map(\.id), sequences: section.streams.map(\.sequence),
                          nextRows: section.streams.map(\.nextRow))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and integers always encode.
        let sectionsJSON = String(decoding: try! encoder.encode(records), as: UTF8.self)
        var tensors: [String: SafetensorsTensor] = [:]
        var values: [[Float]] = []
        for (i, section) in sections.enumerated() {
            let state = section.streams.flatMap(\.state), last = section.streams.flatMap(\.lastProbabilities)
            tensors["state.\(i)"] = SafetensorsTensor(shape: [section.streams.count, section.stateCount], values: state)
            tensors["last_probabilities.\(i)"] = SafetensorsTensor(shape: [section.streams.count, section.classes], values: last)
            values += [state, last]
        }
        return SafetensorsFile(tensors: tensors, metadata: [
            "format": Self.format, "format_version": String(Self.formatVersion), "sections": sectionsJSON,
            "contents_sha256": Self.contentsSHA256(sections: sectionsJSON, tensors: values),
            "created": ISO8601DateFormatter().string(from: Date()),
        ]).serialized()
    }

    /// Parses and checks a snapshot file's bytes (format version 3, or 2).
    public init(bytes: [UInt8]) throws(SnapshotError) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(bytes: bytes) } catch { throw .malformed(String(describing: error)) }
        let meta = file.metadata
        guard meta["format"] == Self.format else {
            throw .malformed("format is \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(Self.format)'")
        }
        switch meta["format_version"] {
        case "3": sections = try Self.sections(version3: file)
        case "2": sections = [try Self.section(version2: file)]
        case let version:
            throw .malformed("format_version \(version ?? "missing") is not supported (this build reads 2 and 3; "
                + "version 1 snapshots carry no sequence numbers)")
        }
        try validate()
    }

    /// The sections of a version 3 file, with the checksum checked.
    private static func sections(version3 file: SafetensorsFile) throws(SnapshotError) -> [Section] {
        guard let sectionsJSON = file.metadata["sections"],
              let records = try? JSONDecoder().decode([SectionRecord].self, from: Data(sectionsJSON.utf8))
        else {
            throw .malformed("sections is missing or not a JSON array of objects with model_sha256, stream_ids, "
                + "sequences and next_rows (arrays of strings and integers) and an optional model_path string")
        }
        guard file.tensors.count == 2 * records.count else {
            let expected = Set(records.indices.flatMap { ["state.\($0)", "last_probabilities.\($0)"] })
            let stray = file.tensors.keys.sorted().first { !expected.contains($0) }
            throw .malformed("\(records.count) sections need \(2 * records.count) tensors, the file has \(file.tensors.count)"
                + (stray.map { " ('\($0)' belongs to no section)" } ?? ""))
        }
        var values: [[Float]] = []
        var sections: [Section] = []
        for (i, record) in records.enumerated() {
            let state = try rows(of: "state.\(i)", in: file, count: record.streamIDs.count)
            let last = try rows(of: "last_probabilities.\(i)", in: file, count: record.streamIDs.count)
            guard record.sequences.count == record.streamIDs.count, record.nextRows.count == record.streamIDs.count else {
                throw .malformed("section \(i) has \(record.streamIDs.count) stream ids, \(record.sequences.count) sequences "
                    + "and \(record.nextRows.count) next rows; each needs one per stream")
            }
            values += [state.values, last.values]
            sections.append(section(sha: record.modelSHA256, path: record.modelPath, ids: record.streamIDs,
                                    sequences: record.sequences, nextRows: record.nextRows, state: state, last: last))
        }
        let checksum = contentsSHA256(sections: sectionsJSON, tensors: values)
        try checkContents(file.metadata["contents_sha256"], against: checksum)
        return sections
    }

    /// The one section of a version 2 file, with the checksum checked.
    private static func section(version2 file: SafetensorsFile) throws(SnapshotError) -> Section {
        let meta = file.metadata
        guard let sha = meta["model_sha256"] else { throw .malformed("model_sha256 is missing") }
        let decoder = JSONDecoder()
        guard let idsJSON = meta["stream_ids"], let rowsJSON = meta["next_rows"], let sequencesJSON = meta["sequences"],
              let ids = try? decoder.decode([String].self, from: Data(idsJSON.utf8)),
              let rows = try? decoder.decode([Int].self, from: Data(rowsJSON.utf8)),
              let sequences = try? decoder.decode([UInt32].self, from: Data(sequencesJSON.utf8))
        else { throw .malformed("stream_ids, sequences or next_rows is missing or not a JSON array") }
        guard file.tensors.count == 2, rows.count == ids.count, sequences.count == ids.count else {
            throw .malformed("a version 2 snapshot holds the tensors 'state' and 'last_probabilities' and one "
                + "stream id, sequence and next row per stream")
        }
        let state = try Self.rows(of: "state", in: file, count: ids.count)
        let last = try Self.rows(of: "last_probabilities", in: file, count: ids.count)
        let checksum = contentsSHA256(modelSHA256: sha, ids: idsJSON, sequences: sequencesJSON, nextRows: rowsJSON,
                                      state: state.values, lastProbabilities: last.values)
        try checkContents(meta["contents_sha256"], against: checksum)
        return section(sha: sha, path: nil, ids: ids, sequences: sequences, nextRows: rows, state: state, last: last)
    }

    /// Tensor `name`: F32, two dimensions, `count` rows.
    private static func rows(of name: String, in file: SafetensorsFile, count: Int) throws(SnapshotError) -> SafetensorsTensor {
        guard let tensor = file.tensors[name] else { throw .malformed("tensor '\(name)' is missing") }
        guard tensor.dtype == .f32, tensor.shape.count == 2, tensor.shape[0] == count else {
            throw .malformed("tensor '\(name)' is \(tensor.dtype.rawValue) \(tensor.shape), expected F32 [\(count), width]: "
                + "one row per stream id")
        }
        return tensor
    }

    private static func checkContents(_ stored: String?, against checksum: String) throws(SnapshotError) {
        guard stored == checksum else {
            throw .malformed("contents_sha256 is \(stored.map { "'\($0)'" } ?? "missing"), the contents hash to '\(checksum)'")
        }
    }

    /// A section from checked parts (the safetensors reader made sure that each tensor holds rows ×
    /// columns values, so the slices fit).
    private static func section(sha: String, path: String?, ids: [String], sequences: [UInt32], nextRows: [Int],
                                state: SafetensorsTensor, last: SafetensorsTensor) -> Section {
        let width = state.shape[1], classes = last.shape[1]
        let streams = ids.indices.map { i in
            Stream(id: ids[i], sequence: sequences[i], nextRow: nextRows[i],
                   state: Array(state.values[(i * width)..<((i + 1) * width)]),
                   lastProbabilities: Array(last.values[(i * classes)..<((i + 1) * classes)]))
        }
        return Section(modelSHA256: sha, modelPath: path, stateCount: width, classes: classes, streams: streams)
    }

    /// Checks every section and stream: a model SHA-256 of 64 lowercase hex digits, different in
    /// every section; a model path, if any, of 1…`maxModelPathBytes` bytes without NUL; at least
    /// one stream; ids non-empty and unique over all sections; a next row in 1…`maxNextRow`;
    /// `stateCount` state values and `classes` probabilities, all finite. A restore checks it
    /// again, because a snapshot made in memory skips the file's checks.
    public func validate() throws(SnapshotError) {
        var seenIDs = Set<String>()
        var seenModels: [String: Int] = [:]
        for (i, section) in sections.enumerated() {
            let sha = section.modelSHA256
            guard sha.utf8.count == 64, sha.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw .malformed("section \(i): model_sha256 is not 64 lowercase hex digits")
            }
            if let earlier = seenModels.updateValue(i, forKey: sha) {
                throw .malformed("sections \(earlier) and \(i) are both of model \(sha.prefix(16))…; a model has one section")
            }
            if let path = section.modelPath {
                guard (1...Self.maxModelPathBytes).contains(path.utf8.count), !path.utf8.contains(0) else {
                    throw .malformed("section \(i): model_path is empty, longer than \(Self.maxModelPathBytes) bytes or holds a NUL byte")
                }
            }
            guard !section.streams.isEmpty else { throw .malformed("section \(i) holds no stream") }
            for stream in section.streams {
                let name = stream.id.count > 64 ? "'\(stream.id.prefix(64))…'" : "'\(stream.id)'"
                guard !stream.id.isEmpty else { throw .malformed("a stream id is empty") }
                guard seenIDs.insert(stream.id).inserted else { throw .malformed("stream \(name) appears twice") }
                guard (1...Self.maxNextRow).contains(stream.nextRow) else {
                    throw .malformed("stream \(name) has next row \(stream.nextRow), outside 1…\(Self.maxNextRow)")
                }
                guard stream.state.count == section.stateCount, stream.lastProbabilities.count == section.classes else {
                    throw .malformed("stream \(name) has \(stream.state.count) state values and \(stream.lastProbabilities.count) probabilities, expected \(section.stateCount) and \(section.classes)")
                }
                if let bad = (stream.state + stream.lastProbabilities).firstIndex(where: { !$0.isFinite }) {
                    throw .malformed("value \(bad) of stream \(name)'s saved state is not finite")
                }
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

    /// SHA-256 (hex) over everything a version 3 snapshot restores: the `sections` metadata as
    /// stored, followed by a newline, then the bit patterns (float32 little-endian) of each
    /// section's `state` and `last_probabilities`, in section order. Catches a flipped bit anywhere
    /// in them.
    static func contentsSHA256(sections: String, tensors: [[Float]]) -> String {
        var hasher = SHA256()
        hasher.update(Array((sections + "\n").utf8))
        for values in tensors { hasher.update(littleEndianBytes(values)) }
        return hasher.finalizeHex()
    }

    /// The checksum of a version 2 snapshot: the model hash and the three metadata arrays as
    /// stored, each followed by a newline, then the bits of `state` and `last_probabilities`.
    static func contentsSHA256(modelSHA256: String, ids: String, sequences: String, nextRows: String,
                               state: [Float], lastProbabilities: [Float]) -> String {
        var hasher = SHA256()
        for text in [modelSHA256, ids, sequences, nextRows] { hasher.update(Array((text + "\n").utf8)) }
        for values in [state, lastProbabilities] { hasher.update(littleEndianBytes(values)) }
        return hasher.finalizeHex()
    }

    private static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(4 * values.count)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }
}

/// Why a snapshot could not be read, written or restored.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read (the system's reason).
    case unreadable(path: String, reason: String)
    /// The file could not be written, synced or renamed into place (the system's reason).
    case unwritable(path: String, reason: String)
    /// The bytes are not a snapshot this build reads: what is wrong with them.
    case malformed(String)
    /// A section's widths do not fit the model with its SHA-256 (values per stream: state and
    /// probabilities).
    case stateSizeMismatch(model: String, snapshot: Int, expected: Int)
    /// The snapshot holds more streams than the restoring engine's ``EngineConfiguration/maxStreams``.
    case tooManyStreams(snapshot: Int, maxStreams: Int)
    /// `snapshot()` was asked for while rows were queued: their streams could not be saved exactly.
    case rowsQueued(rows: Int, streams: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read snapshot \(path): \(reason)"
        case let .unwritable(path, reason): "cannot write snapshot \(path): \(reason)"
        case let .malformed(reason): "snapshot is corrupt: \(reason)"
        case let .stateSizeMismatch(model, snapshot, expected):
            "snapshot holds \(snapshot) values (state and probabilities) per stream of model \(model.prefix(16))…, the model needs \(expected)"
        case let .tooManyStreams(snapshot, maxStreams):
            "snapshot holds \(snapshot) streams, more than the limit of \(maxStreams)"
        case let .rowsQueued(rows, streams):
            "\(rows) rows of \(streams) streams are queued and not applied; drain the engine before taking a snapshot"
        }
    }
}
