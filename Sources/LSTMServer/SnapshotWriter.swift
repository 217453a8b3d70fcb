import Dispatch
import LSTMStreaming
import Synchronization
import WireProtocol

/// Writes the periodic snapshots on a thread of its own, so that the serving loop never waits for a
/// write and an fsync: 99,000 streams are ~107 MB, and written on the loop they held every row and
/// control request for up to 2.4 s (`Scripts/bench-snapshot-stall.py`).
///
/// The loop takes the snapshot (a copy of the streams' state, which must not change under a write)
/// and hands it over; the writer serializes and saves it. One save runs at a time; the loop takes
/// no new snapshot while one does. `tag` is what the loop compares with ``lastSavedTag`` (the
/// engine's totals): while they stand still, an idle daemon does not rewrite the same file, and a
/// failed save is tried again at the next interval.
final class SnapshotWriter: Sendable {
    private let queue = DispatchQueue(label: "lstmd.snapshot-writer")
    private let save: @Sendable (StreamSnapshot) -> Bool
    private let state = Mutex(State())

    private struct State {
        var saving = false
        var lastSavedTag: Counters?
    }

    /// `save` writes one snapshot and says whether it could (`SnapshotStore.save`, which logs).
    init(save: @escaping @Sendable (StreamSnapshot) -> Bool) {
        self.save = save
    }

    /// Whether a save is under way.
    var isSaving: Bool { state.withLock { $0.saving } }

    /// The tag of the last snapshot saved (nil before the first).
    var lastSavedTag: Counters? { state.withLock { $0.lastSavedTag } }

    /// Starts saving `snapshot` and returns at once.
    func start(_ snapshot: StreamSnapshot, tag: Counters) {
        state.withLock { $0.saving = true }
        queue.async { [self] in
            let saved = save(snapshot)
            state.withLock {
                $0.saving = false
                if saved { $0.lastSavedTag = tag }
            }
        }
    }

    /// Blocks until no save is under way: before the final snapshot, which a periodic one finishing
    /// later must not replace.
    func waitUntilIdle() {
        queue.sync {}
    }
}
