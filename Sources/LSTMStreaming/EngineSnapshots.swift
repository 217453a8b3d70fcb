import LSTMCore
import WireProtocol

/// What ``StreamEngine/restore(_:models:now:)`` did with each section of a snapshot.
public struct SnapshotRestoreReport: Sendable, Equatable {
    /// One section of the snapshot and what became of its streams.
    public struct Section: Sendable, Equatable {
        public let modelSHA256: String
        /// The model file the section names, if any.
        public let modelPath: String?
        /// The section's streams.
        public let streams: Int
        /// nil when the streams were restored; otherwise why none of them was.
        public let leftOut: LeftOut?
    }

    /// Why the streams of a section were not restored.
    public enum LeftOut: Sendable, Equatable, CustomStringConvertible {
        /// The engine does not serve the section's model and no model with its SHA-256 was given.
        case modelNotAvailable
        /// The model was given, but its rows have another size than the engine's.
        case inputSizeMismatch(model: Int, engine: Int)

        public var description: String {
            switch self {
            case .modelNotAvailable: "no model with this SHA-256 is available"
            case let .inputSizeMismatch(model, engine):
                "the model takes rows of \(model) values, the engine's rows have \(engine)"
            }
        }
    }

    /// The snapshot's sections, in its order.
    public let sections: [Section]

    /// Streams recreated, over all sections.
    public var restoredStreams: Int { sections.filter { $0.leftOut == nil }.reduce(0) { $0 + $1.streams } }
    /// Streams of the sections that were left out.
    public var leftOutStreams: Int { sections.filter { $0.leftOut != nil }.reduce(0) { $0 + $1.streams } }
}

extension StreamEngine {
    /// The live streams, for saving, exactly where they stand: refused while any row is queued
    /// (call ``drain(now:_:)`` first), so that no accepted row is ever lost by a restore.
    ///
    /// It holds every numbered stream (its rows carry a sequence number) that has applied a row,
    /// in one section per model: the current model's first, then those of streams still on older
    /// models after ``replaceModel(with:origin:)``, each with the SHA-256 and path of its model.
    /// Unnumbered streams (`sequence: nil`) are left out: their clients could not tell a restored
    /// sequence from a later one on the same id.
    public func snapshot() throws(SnapshotError) -> StreamSnapshot {
        guard !hasQueuedRows else { throw .rowsQueued(rows: queuedRowCount, streams: streamsWithQueuedRows) }
        return StreamSnapshot(sections: savedSections())
    }

    /// Recreates the snapshot's streams, each on the model it ran on, expecting the row after its
    /// last applied one; a live stream with the same id is replaced.
    ///
    /// A section of the current model goes onto it, as does a section of a model the engine still
    /// serves to older streams. A section of any other model is restored onto the model of
    /// `models` with its SHA-256, which becomes an older generation: its streams finish on it, new
    /// streams still start on the current model, and it is released when its last stream ends.
    /// Without such a model (or when its rows have another size) the section is left out: the
    /// report says so and none of its streams is live (a next row of theirs gets
    /// ``StreamError/notStarted(row:)``).
    ///
    /// A restored stream that no row of its client reaches expires silently after the idle timeout
    /// (``evictIdle(now:scanning:_:)`` does not report it): its sequence may have ended with a
    /// FINAL after the snapshot was taken, and a FINAL stays a stream's last message. A client that
    /// continues it later gets ``StreamError/notStarted(row:)``, as for any stream that is not live.
    ///
    /// Throws, restoring nothing, when the snapshot is invalid, when a section's widths do not fit
    /// its model, or when the restored streams would pass ``EngineConfiguration/maxStreams``.
    /// `now` (nil: ``clock``) starts their idle time.
    @discardableResult
    public func restore(_ snapshot: StreamSnapshot, models: [LSTMModel] = [], now: UInt64? = nil)
        throws(SnapshotError) -> SnapshotRestoreReport
    {
        try snapshot.validate()
        var placements: [RestorePlacement] = []
        var reports: [SnapshotRestoreReport.Section] = []
        for section in snapshot.sections {
            func report(_ leftOut: SnapshotRestoreReport.LeftOut?) {
                reports.append(.init(modelSHA256: section.modelSHA256, modelPath: section.modelPath,
                                     streams: section.streams.count, leftOut: leftOut))
            }
            guard let model = servedModel(sha256: section.modelSHA256) ?? models.first(where: { $0.sha256 == section.modelSHA256 })
            else { report(.modelNotAvailable); continue }
            guard model.shape.inputSize == currentModel.shape.inputSize else {
                report(.inputSizeMismatch(model: model.shape.inputSize, engine: currentModel.shape.inputSize))
                continue
            }
            guard section.stateCount == model.shape.stateCount, section.classes == model.shape.classes else {
                throw .stateSizeMismatch(model: model.sha256, snapshot: section.stateCount + section.classes,
                                         expected: model.shape.stateCount + model.shape.classes)
            }
            var ids: [StreamID] = []
            for stream in section.streams {
                do { ids.append(try StreamID(stream.id)) } catch { throw .malformed("stream id \"\(stream.id)\": \(error)") }
            }
            placements.append(RestorePlacement(section: section, model: model, ids: ids))
            report(nil)
        }
        let restoring = placements.reduce(0) { $0 + $1.ids.count }
        guard liveStreamCount + restoring <= configuration.maxStreams else {
            throw .tooManyStreams(snapshot: restoring, maxStreams: configuration.maxStreams)
        }
        insertRestored(placements, now: now ?? clock.nanoseconds())
        return SnapshotRestoreReport(sections: reports)
    }
}

/// A section of a snapshot that a restore puts onto `model`, with its streams' ids checked.
struct RestorePlacement {
    let section: StreamSnapshot.Section
    let model: LSTMModel
    let ids: [StreamID]
}
