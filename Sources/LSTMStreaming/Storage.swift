import LSTMCore
import WireProtocol

/// One model that streams run on, with the state arena of those streams and the step buffers.
/// Several live together while streams started before a reload finish on the old model.
final class ModelGeneration {
    let id: Int
    let model: LSTMModel
    let origin: ModelOrigin
    /// What uint8 row values of this generation's streams are multiplied by.
    let inputScale: Float
    let stepper: LSTMStepper
    let arena: StateArena
    /// Rows per sequence, when the model file says (28 for MNIST); nil relies on the LAST flag.
    let sequenceLength: Int?
    var liveStreams = 0

    // Step buffers for the largest batch, made once: inputs [maxBatch × I], probabilities [maxBatch × C].
    let inputs: UnsafeMutablePointer<Float>
    let probabilities: UnsafeMutablePointer<Float>
    let statePointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let maxBatch: Int

    init(id: Int, model: LSTMModel, origin: ModelOrigin, maxBatch: Int) {
        self.id = id
        self.model = model
        self.origin = origin
        inputScale = model.metadata.inputScale
        self.maxBatch = maxBatch
        stepper = model.makeStepper(maxBatch: maxBatch)
        arena = StateArena(stateCount: model.shape.stateCount, classes: model.shape.classes)
        sequenceLength = model.metadata.sequenceLength
        inputs = .allocate(capacity: maxBatch * model.shape.inputSize)
        probabilities = .allocate(capacity: maxBatch * model.shape.classes)
        statePointers = .allocate(capacity: maxBatch)
    }

    deinit {
        inputs.deallocate()
        probabilities.deallocate()
        statePointers.deallocate()
    }
}

/// Stream states in fixed-size chunks, so that a slot's address never moves and growing to
/// 100,000 streams copies nothing. A slot holds the state (h and c of every layer: `stateCount`
/// floats) followed by the probabilities of the last applied row (`classes` floats), which the
/// engine repeats when a client resends that row.
final class StateArena {
    private static let slotsPerChunk = 4096
    let stateCount: Int
    let classes: Int
    private var stride: Int { stateCount + classes }
    private var chunks: [UnsafeMutablePointer<Float>] = []
    private var freeSlots: [Int32] = []
    private var nextUnused = 0

    init(stateCount: Int, classes: Int) {
        self.stateCount = stateCount
        self.classes = classes
    }

    deinit { for chunk in chunks { chunk.deallocate() } }

    func allocate() -> Int32 {
        if let slot = freeSlots.popLast() { return slot }
        if nextUnused == chunks.count * Self.slotsPerChunk {
            chunks.append(.allocate(capacity: Self.slotsPerChunk * stride))
        }
        defer { nextUnused += 1 }
        return Int32(nextUnused)
    }

    func free(_ slot: Int32) { freeSlots.append(slot) }

    func state(_ slot: Int32) -> UnsafeMutablePointer<Float> {
        let slot = Int(slot)
        return chunks[slot / Self.slotsPerChunk] + (slot % Self.slotsPerChunk) * stride
    }

    func lastProbabilities(_ slot: Int32) -> UnsafeMutablePointer<Float> { state(slot) + stateCount }

    /// Bytes held for states, including freed slots kept for reuse.
    var reservedBytes: Int { chunks.count * Self.slotsPerChunk * stride * MemoryLayout<Float>.size }
}

/// Rows accepted and waiting for a step, in one pool; each stream's queued rows form a linked list.
struct RowPool {
    let rowWidth: Int
    private var values: [Float] = []
    private var meta: [Entry] = []
    private var freeEntries: [Int32] = []

    struct Entry {
        var row: UInt32
        /// The client's number for the row's sequence (nil: unnumbered, protocol v1).
        var sequence: UInt32?
        var resets: Bool
        var finishes: Bool
        /// The `now` of the row's `submitRow`: a host measures the row's time in the queue from it.
        var submittedAt: UInt64
        var next: Int32
    }

    init(rowWidth: Int) { self.rowWidth = rowWidth }

    mutating func push(_ row: UnsafeBufferPointer<Float>, row index: UInt32, sequence: UInt32?, resets: Bool,
                       finishes: Bool, submittedAt: UInt64) -> Int32 {
        let entry = Entry(row: index, sequence: sequence, resets: resets, finishes: finishes, submittedAt: submittedAt,
                          next: -1)
        let id: Int32
        if let reused = freeEntries.popLast() {
            id = reused
            meta[Int(id)] = entry
            values.withUnsafeMutableBufferPointer { buffer in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[Int(id) * rowWidth ..< (Int(id) + 1) * rowWidth])
                    .initialize(from: row)
            }
        } else {
            id = Int32(meta.count)
            meta.append(entry)
            values.append(contentsOf: row)
        }
        return id
    }

    mutating func release(_ id: Int32) { freeEntries.append(id) }

    /// Rows pushed and not yet released.
    var liveCount: Int { meta.count - freeEntries.count }

    /// Copies the queued row's values to `destination` (`rowWidth` floats).
    func copyValues(_ id: Int32, to destination: UnsafeMutablePointer<Float>) {
        values.withUnsafeBufferPointer { buffer in
            destination.update(from: buffer.baseAddress! + Int(id) * rowWidth, count: rowWidth)
        }
    }

    func row(_ id: Int32) -> UInt32 { meta[Int(id)].row }
    func sequence(_ id: Int32) -> UInt32? { meta[Int(id)].sequence }
    func resets(_ id: Int32) -> Bool { meta[Int(id)].resets }
    func finishes(_ id: Int32) -> Bool { meta[Int(id)].finishes }
    func submittedAt(_ id: Int32) -> UInt64 { meta[Int(id)].submittedAt }
    func next(_ id: Int32) -> Int32 { meta[Int(id)].next }
    mutating func link(_ id: Int32, to next: Int32) { meta[Int(id)].next = next }
}

/// The bookkeeping of one live stream.
struct StreamRecord {
    var id: StreamID
    var generation: Int
    var slot: Int32
    var lastActivity: UInt64
    /// The next row index that will be accepted (rows below it are duplicates).
    var nextAccepted = 0
    /// The row index after the last applied row: the position the state is at.
    var nextApplied = 0
    /// True once the row that finishes the sequence has been accepted.
    var acceptedLast = false
    /// The sequence number of the last accepted row 0 (nil: unnumbered): rows of any other
    /// sequence never touch this stream.
    var acceptedSequence: UInt32?
    /// The sequence number the state belongs to (that of the last applied row).
    var appliedSequence: UInt32?
    /// True for a stream restored from a snapshot until a row of its client reaches it: its
    /// sequence may have ended before the crash, so idleness ends it silently (no `evicted`).
    var awaitsItsClientAfterRestore = false
    var queuedRows = 0
    /// Queued rows 0 (restarts): while one waits, the state belongs to the previous sequence.
    var queuedRestarts = 0
    private var queueHead: Int32 = -1
    private var queueTail: Int32 = -1

    init(id: StreamID, generation: Int, slot: Int32, lastActivity: UInt64) {
        self.id = id
        self.generation = generation
        self.slot = slot
        self.lastActivity = lastActivity
    }

    mutating func appendQueued(_ entry: Int32, pool: inout RowPool) {
        if queueTail >= 0 { pool.link(queueTail, to: entry) } else { queueHead = entry }
        queueTail = entry
        queuedRows += 1
    }

    mutating func popQueued(pool: inout RowPool) -> Int32 {
        let entry = queueHead
        queueHead = pool.next(entry)
        if queueHead < 0 { queueTail = -1 }
        queuedRows -= 1
        return entry
    }

    mutating func discardQueued(pool: inout RowPool) {
        while queuedRows > 0 { pool.release(popQueued(pool: &pool)) }
    }
}
