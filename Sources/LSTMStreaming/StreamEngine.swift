import DequeModule
import Foundation
import LSTMCore
import WireProtocol

/// The embeddable heart of lstmd: a table of live streams, each holding an LSTM's per-layer h and c,
/// advanced one row at a time and batched across streams.
///
/// The engine owns no sockets and no threads. A host (the `lstmd` daemon, or any Swift program)
/// feeds it rows with ``submitRow(stream:index:sequence:pixels:isLast:now:repeated:)`` (or the
/// zero-copy ``submitRow(stream:index:sequence:row:isLast:now:repeated:)``), calls
/// ``step(now:_:)`` or ``drain(now:_:)`` to advance every stream that has a row waiting, and
/// receives predictions and errors through the callback it passes. Times (`now:`) default to the
/// engine's ``EngineClock``. All methods must be called from one thread (or under one lock), and the
/// callbacks (`repeated`, `emit`, `evicted`) must not call back into the engine: they run while
/// the call holds the engine's state.
///
/// Sequencing rules, per stream:
/// - row 0 starts a stream, or restarts one that exists (queued rows of the old sequence are still
///   applied first, in order);
/// - the expected row is queued and will advance the stream;
/// - a row index already accepted is a duplicate: ignored, counted, no state change;
/// - a row beyond the expected one is a gap: an error, and the stream is dropped;
/// - the model's last row (its sequence length) or the LAST flag finishes the stream: its prediction
///   is FINAL and its state is freed.
///
/// Rows of different streams that are waiting are advanced together in one batched step of up to
/// ``EngineConfiguration/maxBatch`` streams, never two rows of one stream in the same step.
public final class StreamEngine {
    /// Its limits and batching policy, fixed at creation.
    public let configuration: EngineConfiguration
    /// Where `now: nil` reads the time (idle eviction, listings).
    public let clock: EngineClock
    /// Everything that changes, in one value, so that a call is one access to the engine's state
    /// and Swift's run-time exclusivity checks cost one check per call, not one per field touched.
    /// The callbacks a call takes run inside that access: they must not call back into the engine.
    private var core: Core

    /// What the engine counts: rows applied, duplicates and the streams' lifecycle (the totals a
    /// host counts itself, such as rows received or predictions published, stay 0 here).
    public var counters: Counters { core.counters }

    /// The model that new streams start on.
    public var currentModel: LSTMModel { core.generations[core.currentGeneration]!.model }

    /// Creates an engine serving `model` to new streams; `origin` says where it came from, `clock`
    /// what `now: nil` reads (a monotonic clock unless a test injects its own).
    public init(model: LSTMModel, origin: ModelOrigin = ModelOrigin(), configuration: EngineConfiguration = EngineConfiguration(),
                clock: EngineClock = .monotonic) {
        self.configuration = configuration
        self.clock = clock
        core = Core(model: model, origin: origin, configuration: configuration)
    }

    deinit { core.scratch.deallocate() }

    // MARK: Feeding rows

    /// Accepts one row of a stream, or tells why not.
    ///
    /// - Parameters:
    ///   - stream: the stream id.
    ///   - index: the row's position in its sequence, 0-based.
    ///   - sequence: the client's number for the sequence (nil: unnumbered). A row other than 0
    ///     whose sequence is not the stream's is a gap: the stream is dropped, its state untouched.
    ///   - row: `inputSize` values, decoded and checked here; uint8 values are scaled by the input
    ///     scale of the model the stream runs on.
    ///   - isLast: the client's LAST flag: this row finishes the stream.
    ///   - now: a monotonic time in nanoseconds, for idle eviction; nil reads ``clock``.
    ///   - repeated: called with the last applied row's prediction when the row is a resend of it.
    /// - Returns: `.queued`, `.duplicate` or `.repeated`; errors are thrown and, for `gap`, the
    ///   stream is gone.
    @discardableResult
    public func submitRow(
        stream: StreamID, index: Int, sequence: UInt32? = nil, row: RowValues, isLast: Bool, now: UInt64? = nil,
        repeated: (Prediction) -> Void = { _ in }
    ) throws(StreamError) -> SubmitOutcome {
        try core.submitRow(stream: stream, index: index, sequence: sequence, row: row, isLast: isLast,
                           now: now ?? clock.nanoseconds(), repeated: repeated)
    }

    /// Accepts one row of raw pixels (uint8, e.g. one row of an MNIST image): the engine scales
    /// them by the input scale of the model the stream runs on. The safe form of
    /// ``submitRow(stream:index:sequence:row:isLast:now:repeated:)`` with `.encoded(_, .uint8)`.
    @discardableResult
    public func submitRow(
        stream: StreamID, index: Int, sequence: UInt32? = nil, pixels: [UInt8], isLast: Bool = false,
        now: UInt64? = nil, repeated: (Prediction) -> Void = { _ in }
    ) throws(StreamError) -> SubmitOutcome {
        // The closure returns a Result: `withUnsafeBytes` rethrows untyped errors.
        try pixels.withUnsafeBytes { bytes in
            Result { () throws(StreamError) in
                try submitRow(stream: stream, index: index, sequence: sequence, row: .encoded(bytes, .uint8),
                              isLast: isLast, now: now, repeated: repeated)
            }
        }.get()
    }

    /// Accepts one row of floats, used as they are (already scaled): the safe form of
    /// ``submitRow(stream:index:sequence:row:isLast:now:repeated:)`` with `.floats`.
    @discardableResult
    public func submitRow(
        stream: StreamID, index: Int, sequence: UInt32? = nil, values: [Float], isLast: Bool = false,
        now: UInt64? = nil, repeated: (Prediction) -> Void = { _ in }
    ) throws(StreamError) -> SubmitOutcome {
        try values.withUnsafeBufferPointer { buffer in
            Result { () throws(StreamError) in
                try submitRow(stream: stream, index: index, sequence: sequence, row: .floats(buffer),
                              isLast: isLast, now: now, repeated: repeated)
            }
        }.get()
    }

    /// Abandons a stream at the client's request (protocol kind END). Queued rows are discarded.
    public func endStream(_ stream: StreamID) throws(StreamError) {
        try core.endStream(stream)
    }

    /// Drops a stream at the host's request (an operator's `drop`, a stop without saving it).
    /// Returns where the stream stood (the row it expected next, its sequence), or nil when no such
    /// stream is live.
    @discardableResult
    public func dropStream(_ stream: StreamID) -> StreamPosition? {
        core.dropStream(stream)
    }

    // MARK: Stepping

    /// True when some stream has a row waiting for a step.
    public var hasQueuedRows: Bool { !core.ready.isEmpty }
    /// How many streams have a row waiting (the size the next step would have, up to maxBatch).
    public var streamsWithQueuedRows: Int { core.ready.count }
    /// Rows accepted and not yet applied, over all streams: a host bounds its memory with it.
    public var queuedRowCount: Int { core.rowPool.liveCount }

    /// Advances up to `maxBatch` streams by one row each, in one batched step per model, and reports
    /// each resulting prediction through `emit`. Returns the number of rows applied.
    ///
    /// The probabilities buffer passed to `emit` is only valid during the call.
    @discardableResult
    public func step(now: UInt64? = nil, _ emit: (Prediction) -> Void) -> Int {
        core.step(now: now ?? clock.nanoseconds(), emit)
    }

    /// Steps until no row is queued (every stream's accepted rows applied), reporting each
    /// prediction through `emit`; returns the number of rows applied. Call it before
    /// ``snapshot()``, or whenever a host wants every accepted row answered.
    @discardableResult
    public func drain(now: UInt64? = nil, _ emit: (Prediction) -> Void) -> Int {
        var applied = 0
        // Every step applies at least one queued row and nothing is queued during it: bounded.
        while hasQueuedRows { applied += step(now: now, emit) }
        return applied
    }

    /// Evicts streams idle for longer than the configured timeout; each is reported through
    /// `evicted` before its state is freed. Streams with queued rows are never idle.
    ///
    /// A stream restored from a snapshot that no row has reached since the restore expires
    /// silently (counted as evicted, not reported): its sequence may have ended with a FINAL
    /// before the crash, and a FINAL is a stream's last message. Once a row of its client arrives
    /// (applied, queued or a duplicate) it is reported like any other stream.
    ///
    /// `scanning` bounds the work: it looks at that many stream records, continuing where the
    /// previous call stopped and wrapping around, so that a loop can sweep a million streams in
    /// slices without stalling (each stream is then evicted within the timeout plus one sweep).
    /// The default looks at every record once.
    public func evictIdle(now: UInt64? = nil, scanning limit: Int = .max, _ evicted: (StreamID, StreamError) -> Void) {
        core.evictIdle(now: now ?? clock.nanoseconds(), scanning: limit, evicted)
    }

    // MARK: Models

    /// Makes `model` the one new streams start on. Streams in progress finish on the model they
    /// started with (and their rows are scaled with its input scale); an old model is released when
    /// its last stream ends. A model whose SHA-256 equals the current one's changes nothing: returns
    /// false. A model an older generation still serves makes that generation current again (its
    /// streams and the new ones share it, with its origin): the engine holds at most one
    /// generation per model.
    @discardableResult
    public func replaceModel(with model: LSTMModel, origin: ModelOrigin = ModelOrigin()) throws(StreamError) -> Bool {
        try core.replaceModel(with: model, origin: origin)
    }

    /// The model generations holding streams, the current one first: the engine's only list of
    /// the models it serves.
    public var generations: [GenerationInfo] {
        core.generationsCurrentFirst.map {
            GenerationInfo(model: $0.model, origin: $0.origin, liveStreams: $0.liveStreams, isCurrent: $0.id == core.currentGeneration)
        }
    }

    // MARK: Inspection

    /// Number of live streams.
    public var liveStreamCount: Int { core.table.count }

    /// A snapshot of every live stream's bookkeeping (not its state), sorted by id.
    public func liveStreams(now: UInt64? = nil) -> [StreamSummary] {
        core.liveStreams(now: now ?? clock.nanoseconds())
    }

    /// One page of ``liveStreams(now:)``, in the engine's own order: the live streams among the
    /// next `limit` stream records from `cursor` (0 first, then the `next` of the previous page;
    /// nil when no record is left). It costs `limit` records, never every stream, so a listing of
    /// many streams cannot stall its caller's loop. A stream that stays live for the whole scan is
    /// listed exactly once (records do not move); one started or ended meanwhile may or may not be.
    public func liveStreams(cursor: Int, limit: Int, now: UInt64? = nil) -> (streams: [StreamSummary], next: Int?) {
        core.liveStreams(cursor: cursor, limit: limit, now: now ?? clock.nanoseconds())
    }

    // MARK: Snapshots

    /// Every numbered stream that has applied at least one row, at the position of its state, in
    /// one section per model (the caller makes sure no row is queued).
    func savedSections() -> [StreamSnapshot.Section] {
        core.savedSections()
    }

    /// The model of a generation the engine holds with this SHA-256, if any.
    func servedModel(sha256: String) -> LSTMModel? {
        core.generationID(sha256: sha256).map { core.generations[$0]!.model }
    }

    /// Inserts checked sections of a snapshot, each onto its model's generation (made when the
    /// engine holds none).
    func insertRestored(_ placements: [RestorePlacement], now: UInt64) {
        core.insertRestored(placements, now: now)
    }
}

/// The engine's state and the rules that change it (see `StreamEngine`).
private struct Core {
    let configuration: EngineConfiguration
    var counters = Counters()

    var generations: [Int: ModelGeneration] = [:]
    var currentGeneration = 0
    var nextGenerationID = 0

    var table: [StreamID: Int32] = [:]   // stream id -> record index
    var records: [StreamRecord] = []
    var freeRecords: [Int32] = []
    /// The record the next eviction slice looks at first.
    var evictionCursor = 0
    var rowPool: RowPool
    /// Streams with at least one queued row and not yet in a step, oldest first (fair across streams).
    var ready = Deque<Int32>()

    // Per-step scratch, sized for maxBatch once.
    var batchRecords: [Int32]
    var batchRows: [Int32]
    /// One row, decoded and checked before it is queued (freed by the engine's deinit).
    let scratch: UnsafeMutablePointer<Float>

    init(model: LSTMModel, origin: ModelOrigin, configuration: EngineConfiguration) {
        self.configuration = configuration
        rowPool = RowPool(rowWidth: model.shape.inputSize)
        scratch = .allocate(capacity: model.shape.inputSize)
        batchRecords = []
        batchRows = []
        batchRecords.reserveCapacity(configuration.maxBatch)
        batchRows.reserveCapacity(configuration.maxBatch)
        currentGeneration = addGeneration(model, origin: origin)
    }

    mutating func submitRow(
        stream: StreamID, index: Int, sequence: UInt32?, row: RowValues, isLast: Bool, now: UInt64,
        repeated: (Prediction) -> Void
    ) throws(StreamError) -> SubmitOutcome {
        let existing = table[stream]
        // The one check of a row's size and values, scaled for the generation it will run on.
        let generation = generations[existing.map { generationOfRow(index, record: $0) } ?? currentGeneration]!
        try row.decode(inputSize: rowPool.rowWidth, inputScale: generation.inputScale, into: scratch)
        let values = UnsafeBufferPointer(start: scratch, count: rowPool.rowWidth)
        if index == 0 {
            return try startOrRestart(stream: stream, sequence: sequence, values: values, isLast: isLast, now: now)
        }
        guard let recordIndex = existing else {
            throw .notStarted(row: index)
        }
        let live = records[Int(recordIndex)].acceptedSequence
        guard live == sequence else {
            removeStream(recordIndex, ended: .streamsDropped)
            throw .otherSequence(received: sequence, live: live, row: index)
        }
        let expected = records[Int(recordIndex)].nextAccepted
        if index < expected {
            counters[.duplicates] += 1
            records[Int(recordIndex)].lastActivity = now
            records[Int(recordIndex)].awaitsItsClientAfterRestore = false
            // The last applied row is this sequence's only when no restart waits behind it.
            if index == records[Int(recordIndex)].nextApplied - 1 && records[Int(recordIndex)].queuedRestarts == 0 {
                let record = records[Int(recordIndex)]
                let generation = generations[record.generation]!
                repeated(Prediction(stream: stream, row: index, sequence: sequence, isFinal: false, endsStream: false,
                                    submittedAt: now, probabilities: UnsafeBufferPointer(
                    start: generation.arena.lastProbabilities(record.slot), count: generation.arena.classes)))
                return .repeated
            }
            return .duplicate
        }
        if records[Int(recordIndex)].acceptedLast {
            throw .rowAfterLast(row: index, lastRow: expected - 1)
        }
        let sequenceLength = generations[records[Int(recordIndex)].generation]!.sequenceLength
        if let sequenceLength, index >= sequenceLength {
            throw .rowOutOfRange(row: index, sequenceLength: sequenceLength)
        }
        if index > expected {
            removeStream(recordIndex, ended: .streamsDropped)
            throw .gap(expected: expected, received: index)
        }
        enqueue(recordIndex, values: values, row: index, sequence: sequence, resets: false, isLast: isLast, now: now)
        return .queued
    }

    mutating func endStream(_ stream: StreamID) throws(StreamError) {
        guard let recordIndex = table[stream] else { throw .unknownStream }
        removeStream(recordIndex, ended: .streamsDropped)
    }

    mutating func dropStream(_ stream: StreamID) -> StreamPosition? {
        guard let recordIndex = table[stream] else { return nil }
        let record = records[Int(recordIndex)]
        removeStream(recordIndex, ended: .streamsDropped)
        return StreamPosition(nextRow: record.nextAccepted, sequence: record.acceptedSequence)
    }

    mutating func step(now: UInt64, _ emit: (Prediction) -> Void) -> Int {
        let count = min(ready.count, configuration.maxBatch)
        guard count > 0 else { return 0 }
        batchRecords.removeAll(keepingCapacity: true)
        for _ in 0..<count { batchRecords.append(ready.removeFirst()) }
        // One batched step per model generation present in this batch (usually exactly one).
        var start = 0
        if generationsInUse > 1 {
            batchRecords.sort { records[Int($0)].generation < records[Int($1)].generation }
        }
        while start < count {
            let generationID = records[Int(batchRecords[start])].generation
            var end = start + 1
            while end < count && records[Int(batchRecords[end])].generation == generationID { end += 1 }
            applyRows(batchRecords[start..<end], generation: generations[generationID]!, now: now, emit)
            start = end
        }
        counters[.rowsApplied] += UInt64(count)
        return count
    }

    mutating func evictIdle(now: UInt64, scanning limit: Int, _ evicted: (StreamID, StreamError) -> Void) {
        guard let timeout = configuration.idleTimeoutNanoseconds, !records.isEmpty else { return }
        var victims: [Int32] = []
        for _ in 0..<min(max(limit, 1), records.count) {
            if evictionCursor >= records.count { evictionCursor = 0 }
            let index = evictionCursor
            evictionCursor += 1
            let record = records[index]
            // A freed record keeps its last id; it is live only while the table points at it.
            if table[record.id] == Int32(index) && record.queuedRows == 0 && now &- record.lastActivity > timeout {
                victims.append(Int32(index))
            }
        }
        for recordIndex in victims {
            let record = records[Int(recordIndex)]
            if !record.awaitsItsClientAfterRestore {
                let idleSeconds = Double(now &- record.lastActivity) / 1e9
                evicted(record.id, .evicted(idleSeconds: idleSeconds, nextRow: record.nextAccepted,
                                            sequence: record.acceptedSequence))
            }
            removeStream(recordIndex, ended: .streamsEvicted)
        }
    }

    mutating func replaceModel(with model: LSTMModel, origin: ModelOrigin) throws(StreamError) -> Bool {
        guard model.shape.inputSize == rowPool.rowWidth else {
            throw .incompatibleModel(
                "input size \(model.shape.inputSize) differs from the serving model's \(rowPool.rowWidth)")
        }
        let served = generationID(sha256: model.sha256)
        if served == currentGeneration { return false }
        let previous = currentGeneration
        currentGeneration = served ?? addGeneration(model, origin: origin)
        releaseIfUnused(previous)
        return true
    }

    func liveStreams(now: UInt64) -> [StreamSummary] {
        table.values.map { summary(of: records[Int($0)], now: now) }.sorted { $0.id < $1.id }
    }

    func liveStreams(cursor: Int, limit: Int, now: UInt64) -> (streams: [StreamSummary], next: Int?) {
        let start = min(max(cursor, 0), records.count)
        let end = start + min(max(limit, 1), records.count - start)
        var page: [StreamSummary] = []
        // A freed record keeps its last id; it is live only while the table points at it.
        for index in start..<end where table[records[index].id] == Int32(index) {
            page.append(summary(of: records[index], now: now))
        }
        return (page, end < records.count ? end : nil)
    }

    private func summary(of record: StreamRecord, now: UInt64) -> StreamSummary {
        StreamSummary(id: record.id, nextRow: record.nextAccepted, sequence: record.acceptedSequence,
                      queuedRows: record.queuedRows, modelSHA256: generations[record.generation]!.model.sha256,
                      idleSeconds: Double(now &- record.lastActivity) / 1e9)
    }

    /// The generations, the current one first, then the others newest first.
    var generationsCurrentFirst: [ModelGeneration] {
        generations.values.sorted { ($0.id == currentGeneration ? 1 : 0, $0.id) > ($1.id == currentGeneration ? 1 : 0, $1.id) }
    }

    /// The generation holding the model with this SHA-256, the current one when it does.
    func generationID(sha256: String) -> Int? {
        generationsCurrentFirst.first { $0.model.sha256 == sha256 }?.id
    }

    func savedSections() -> [StreamSnapshot.Section] {
        var streams: [String: [StreamSnapshot.Stream]] = [:]
        for recordIndex in table.values {
            let record = records[Int(recordIndex)]
            // Only numbered sequences are saved: after a restore, a sequence number is what tells
            // the saved sequence from a later one on the same id.
            guard record.nextApplied > 0, let sequence = record.appliedSequence else { continue }
            let generation = generations[record.generation]!
            let state = UnsafeBufferPointer(start: generation.arena.state(record.slot), count: generation.arena.stateCount)
            let last = UnsafeBufferPointer(start: generation.arena.lastProbabilities(record.slot),
                                           count: generation.arena.classes)
            streams[generation.model.sha256, default: []].append(StreamSnapshot.Stream(
                id: record.id.string, sequence: sequence, nextRow: record.nextApplied,
                state: Array(state), lastProbabilities: Array(last)))
        }
        // One section per model (the engine holds one generation per model).
        var sections: [StreamSnapshot.Section] = []
        for generation in generationsCurrentFirst {
            guard let saved = streams.removeValue(forKey: generation.model.sha256) else { continue }
            sections.append(StreamSnapshot.Section(
                modelSHA256: generation.model.sha256, modelPath: generation.origin.path,
                stateCount: generation.arena.stateCount, classes: generation.arena.classes,
                streams: saved.sorted { $0.id < $1.id }))
        }
        return sections
    }

    mutating func insertRestored(_ placements: [RestorePlacement], now: UInt64) {
        // Replaced streams go first: removing one may release the generation a section needs.
        for placement in placements {
            for id in placement.ids { if let existing = table[id] { removeStream(existing, ended: .streamsDropped) } }
        }
        // Older models are added oldest first, so that generation ids keep their order.
        for placement in placements.reversed() {
            let generationID = generationID(sha256: placement.model.sha256)
                ?? addGeneration(placement.model, origin: ModelOrigin(path: placement.section.modelPath))
            let generation = generations[generationID]!
            for (stream, id) in zip(placement.section.streams, placement.ids) {
                var record = StreamRecord(id: id, generation: generationID, slot: generation.arena.allocate(), lastActivity: now)
                record.nextAccepted = stream.nextRow
                record.nextApplied = stream.nextRow
                record.acceptedSequence = stream.sequence
                record.appliedSequence = stream.sequence
                record.awaitsItsClientAfterRestore = true
                generation.arena.state(record.slot).update(from: stream.state, count: generation.arena.stateCount)
                generation.arena.lastProbabilities(record.slot).update(from: stream.lastProbabilities, count: generation.arena.classes)
                insert(record)
                counters[.streamsRestored] += 1
            }
        }
    }

    /// Adds a live stream's record (its slot already allocated in its generation's arena).
    @discardableResult
    mutating func insert(_ record: StreamRecord) -> Int32 {
        generations[record.generation]!.liveStreams += 1
        let recordIndex: Int32
        if let reused = freeRecords.popLast() {
            recordIndex = reused
            records[Int(reused)] = record
        } else {
            recordIndex = Int32(records.count)
            records.append(record)
        }
        table[record.id] = recordIndex
        return recordIndex
    }

    // MARK: Internals

    var generationsInUse: Int { generations.count }

    mutating func addGeneration(_ model: LSTMModel, origin: ModelOrigin) -> Int {
        let id = nextGenerationID
        nextGenerationID += 1
        generations[id] = ModelGeneration(id: id, model: model, origin: origin, maxBatch: configuration.maxBatch)
        return id
    }

    /// The generation a row of an existing stream will run on: its own, except a row 0 with nothing
    /// of the old sequence queued, which moves the stream to the current model.
    func generationOfRow(_ index: Int, record recordIndex: Int32) -> Int {
        let record = records[Int(recordIndex)]
        return index == 0 && record.queuedRows == 0 ? currentGeneration : record.generation
    }

    mutating func releaseIfUnused(_ id: Int) {
        if id != currentGeneration, let generation = generations[id], generation.liveStreams == 0 {
            generations[id] = nil
        }
    }

    mutating func startOrRestart(
        stream: StreamID, sequence: UInt32?, values: UnsafeBufferPointer<Float>, isLast: Bool, now: UInt64
    ) throws(StreamError) -> SubmitOutcome {
        if let recordIndex = table[stream] {
            counters[.streamsRestarted] += 1
            moveToCurrentModelIfIdle(recordIndex)
            enqueue(recordIndex, values: values, row: 0, sequence: sequence, resets: true, isLast: isLast, now: now)
            return .queued
        }
        guard table.count < configuration.maxStreams else {
            throw .capacity(maxStreams: configuration.maxStreams)
        }
        let generation = generations[currentGeneration]!
        let recordIndex = insert(StreamRecord(
            id: stream, generation: currentGeneration, slot: generation.arena.allocate(), lastActivity: now))
        counters[.streamsStarted] += 1
        enqueue(recordIndex, values: values, row: 0, sequence: sequence, resets: true, isLast: isLast, now: now)
        return .queued
    }

    /// A restarted stream is a new sequence: when nothing of its old one is queued, it moves to the
    /// current model, so that a client reusing one stream id does not pin an old model forever.
    mutating func moveToCurrentModelIfIdle(_ recordIndex: Int32) {
        let record = records[Int(recordIndex)]
        guard record.generation != currentGeneration, record.queuedRows == 0 else { return }
        let old = generations[record.generation]!
        old.arena.free(record.slot)
        old.liveStreams -= 1
        let current = generations[currentGeneration]!
        records[Int(recordIndex)].slot = current.arena.allocate()
        records[Int(recordIndex)].generation = currentGeneration
        current.liveStreams += 1
        releaseIfUnused(record.generation)
    }

    mutating func enqueue(
        _ recordIndex: Int32, values: UnsafeBufferPointer<Float>, row: Int, sequence: UInt32?, resets: Bool,
        isLast: Bool, now: UInt64
    ) {
        let generation = generations[records[Int(recordIndex)].generation]!
        let finishes = isLast || (generation.sequenceLength.map { row + 1 >= $0 } ?? false)
        let entry = rowPool.push(values, row: UInt32(row), sequence: sequence, resets: resets, finishes: finishes,
                                 submittedAt: now)
        records[Int(recordIndex)].appendQueued(entry, pool: &rowPool)
        if resets { records[Int(recordIndex)].queuedRestarts += 1 }
        records[Int(recordIndex)].acceptedSequence = sequence
        records[Int(recordIndex)].nextAccepted = row + 1
        records[Int(recordIndex)].acceptedLast = finishes
        records[Int(recordIndex)].lastActivity = now
        records[Int(recordIndex)].awaitsItsClientAfterRestore = false
        if records[Int(recordIndex)].queuedRows == 1 { ready.append(recordIndex) }
    }

    mutating func applyRows(
        _ batch: ArraySlice<Int32>, generation: ModelGeneration, now: UInt64, _ emit: (Prediction) -> Void
    ) {
        let stepper = generation.stepper
        let inputSize = rowPool.rowWidth
        let classes = generation.model.shape.classes
        batchRows.removeAll(keepingCapacity: true)
        for (b, recordIndex) in batch.enumerated() {
            let entry = records[Int(recordIndex)].popQueued(pool: &rowPool)
            batchRows.append(entry)
            let state = generation.arena.state(records[Int(recordIndex)].slot)
            if rowPool.resets(entry) {
                stepper.resetState(state)
                records[Int(recordIndex)].queuedRestarts -= 1
            }
            generation.statePointers[b] = state
            rowPool.copyValues(entry, to: generation.inputs + b * inputSize)
        }
        stepper.stepBatch(
            count: batch.count, inputs: generation.inputs,
            states: generation.statePointers, probabilities: generation.probabilities)
        for (b, recordIndex) in batch.enumerated() {
            let entry = batchRows[b]
            let row = Int(rowPool.row(entry))
            let sequence = rowPool.sequence(entry)
            let finishes = rowPool.finishes(entry)
            let submittedAt = rowPool.submittedAt(entry)
            rowPool.release(entry)
            let probabilities = UnsafeBufferPointer(start: generation.probabilities + b * classes, count: classes)
            records[Int(recordIndex)].nextApplied = row + 1
            records[Int(recordIndex)].appliedSequence = sequence
            generation.arena.lastProbabilities(records[Int(recordIndex)].slot)
                .update(from: probabilities.baseAddress!, count: classes)
            let record = records[Int(recordIndex)]
            emit(Prediction(stream: record.id, row: row, sequence: sequence, isFinal: finishes,
                            endsStream: finishes && record.queuedRows == 0, submittedAt: submittedAt,
                            probabilities: probabilities))
            // A FINAL with a restart queued behind it ends the sequence, not the stream.
            if record.queuedRows > 0 {
                ready.append(recordIndex)
            } else if finishes {
                removeStream(recordIndex, ended: .streamsFinished)
            }
        }
    }

    /// Removes a live stream, counting how it ended: every stream that was started or restored
    /// ends here exactly once (the counters' invariant).
    mutating func removeStream(_ recordIndex: Int32, ended: Counters.Total) {
        counters[ended] += 1
        var record = records[Int(recordIndex)]
        if record.queuedRows > 0, let position = ready.firstIndex(of: recordIndex) {
            ready.remove(at: position)
        }
        record.discardQueued(pool: &rowPool)
        let generation = generations[record.generation]!
        generation.arena.free(record.slot)
        generation.liveStreams -= 1
        table[record.id] = nil
        freeRecords.append(recordIndex)
        releaseIfUnused(record.generation)
    }
}
