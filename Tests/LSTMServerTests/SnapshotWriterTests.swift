import Foundation
import LSTMStreaming
import Synchronization
import Testing
import WireProtocol
@testable import LSTMServer

/// The periodic snapshot is written off the serving loop: handing one over returns while the write
/// is still under way, and the loop learns when it is done and whether it was saved.
@Suite struct SnapshotWriterTests {
    /// A save that blocks until the test lets it finish, and says what it was told to say.
    final class GatedSave: Sendable {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let outcome = Mutex(true)
        let saved = Mutex<[Int]>([])

        func save(_ snapshot: StreamSnapshot) -> Bool {
            entered.signal()
            release.wait()
            let ok = outcome.withLock { $0 }
            if ok { saved.withLock { $0.append(snapshot.streams.count) } }
            return ok
        }
    }

    func snapshot(streams: Int) -> StreamSnapshot {
        StreamSnapshot(sections: [.init(modelSHA256: String(repeating: "a", count: 64), modelPath: nil, stateCount: 2, classes: 2,
                                        streams: (0..<streams).map { .init(id: "s\($0)", sequence: 1, nextRow: 1, state: [0, 0],
                                                                            lastProbabilities: [0.5, 0.5]) })])
    }

    func tag(_ rows: UInt64) -> Counters { Counters([.rowsApplied: rows]) }

    @Test func startReturnsWhileTheSaveRunsAndTheTagMovesOnlyWhenItIsSaved() {
        let gate = GatedSave()
        let writer = SnapshotWriter { gate.save($0) }
        #expect(writer.lastSavedTag == nil && !writer.isSaving)

        writer.start(snapshot(streams: 3), tag: tag(10))
        gate.entered.wait()                       // the save is running, and start has returned
        #expect(writer.isSaving)
        #expect(writer.lastSavedTag == nil)
        gate.release.signal()
        writer.waitUntilIdle()
        #expect(!writer.isSaving)
        #expect(writer.lastSavedTag == tag(10))

        // A failed save leaves the tag of the last one saved: the loop tries again next interval.
        gate.outcome.withLock { $0 = false }
        writer.start(snapshot(streams: 4), tag: tag(20))
        gate.entered.wait()
        gate.release.signal()
        writer.waitUntilIdle()
        #expect(writer.lastSavedTag == tag(10))
        #expect(gate.saved.withLock { $0 } == [3])
    }

    @Test func waitUntilIdleWaitsForTheSaveUnderWay() {
        let gate = GatedSave()
        let writer = SnapshotWriter { gate.save($0) }
        writer.start(snapshot(streams: 2), tag: tag(1))
        gate.entered.wait()
        let waited = Mutex(false)
        let waiter = Thread {
            writer.waitUntilIdle()
            waited.withLock { $0 = true }
        }
        waiter.start()
        usleep(50_000)
        #expect(!waited.withLock { $0 }, "waitUntilIdle returned while the save was blocked")
        gate.release.signal()
        writer.waitUntilIdle()
        for _ in 0..<500 where !waited.withLock({ $0 }) { usleep(10_000) }
        #expect(waited.withLock { $0 })
        #expect(gate.saved.withLock { $0 } == [2])
    }
}
