// engine-bench: the StreamEngine alone (no sockets), for the daemon's end-to-end comparison.
//
//   engine-bench rate [--streams 1,64,1024] [--seconds 2]   rows/s through submitRow + step with N
//                                                           streams each sending one row per step
//   engine-bench memory [--streams 100000]                  resident memory per live stream
//
// Model: I=28, H=128, L=1, C=10 (the default model's shape), random weights. The engine uses no
// BLAS; the JSON names the OpenBLAS kernel the machine picked anyway, for the record.
// Prints JSON.
import CBLAS
import Foundation
import LSTMCore
import LSTMStreaming
import WireProtocol

func randomModel(hidden: Int = 128) throws -> LSTMModel {
    var seed: UInt64 = 42
    func next() -> Float {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Float(seed >> 40) / Float(1 << 24) * 0.2 - 0.1
    }
    let layer = LSTMLayerParameters(
        weightIH: (0..<(4 * hidden * 28)).map { _ in next() }, weightHH: (0..<(4 * hidden * hidden)).map { _ in next() },
        biasIH: (0..<(4 * hidden)).map { _ in next() }, biasHH: (0..<(4 * hidden)).map { _ in next() })
    let parameters = try LSTMParameters(
        shape: LSTMShape(inputSize: 28, hiddenSize: hidden, layers: 1, classes: 10), layers: [layer],
        fcWeight: (0..<(10 * hidden)).map { _ in next() }, fcBias: (0..<10).map { _ in next() })
    return LSTMModel(parameters: parameters, metadata: ModelMetadata(sequenceLength: 28, inputScale: 1 / 255,
                                                                     labels: ModelMetadata.defaultLabels(classes: 10)))
}

func residentBytes() -> Int {
    let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// This thread's CPU time in seconds: a rate per CPU-second is not inflated while other processes
/// hold the core (as step-bench's).
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func option(_ name: String, in arguments: [String]) -> String? {
    arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
}

func json(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let model = try randomModel()
let row = [Float](repeating: 0.5, count: 28)

switch arguments.first {
case "rate":
    let counts = (option("--streams", in: arguments) ?? "1,64,1024").split(separator: ",").compactMap { Int($0) }
    let seconds = Double(option("--seconds", in: arguments) ?? "2") ?? 2
    var results: [[String: Any]] = []
    for streams in counts {
        let engine = StreamEngine(model: model, configuration: EngineConfiguration(
            maxBatch: 256, maxStreams: streams, idleTimeoutSeconds: nil))
        let ids = try (0..<streams).map { try StreamID("bench-\($0)") }
        var applied = 0
        let start = now()
        let cpuStart = threadCPUSeconds()
        let deadline = start + UInt64(seconds * 1e9)
        var position = 0
        // Every stream sends its next row, then the engine steps until those rows are applied:
        // the same work the daemon does per row, minus decoding and sockets.
        while now() < deadline {
            try row.withUnsafeBufferPointer { values in
                for id in ids {
                    try engine.submitRow(stream: id, index: position, row: .floats(values), isLast: false, now: 0)
                }
            }
            while engine.hasQueuedRows { applied += engine.step(now: 0) { _ in } }
            position = (position + 1) % 28
        }
        let elapsed = Double(now() - start) / 1e9
        let cpu = threadCPUSeconds() - cpuStart
        results.append(["streams": streams, "rows_per_s": Double(applied) / elapsed,
                        "rows_per_cpu_s": Double(applied) / cpu,
                        "images_per_s": Double(applied) / elapsed / 28])
    }
    json(["benchmark": "engine_rate", "hidden": 128, "max_batch": 256, "results": results,
          "openblas_corename": String(cString: openblas_get_corename())])
case "memory":
    let streams = Int(option("--streams", in: arguments) ?? "100000") ?? 100_000
    let engine = StreamEngine(model: model, configuration: EngineConfiguration(
        maxBatch: 256, maxStreams: streams, idleTimeoutSeconds: nil))
    let ids = try (0..<streams).map { try StreamID("client-\($0 % 97)/stream-\($0)") }   // typical ids, ~20 bytes
    let before = residentBytes()
    try row.withUnsafeBufferPointer { values in
        for id in ids { try engine.submitRow(stream: id, index: 0, row: .floats(values), isLast: false, now: 0) }
    }
    while engine.hasQueuedRows { engine.step(now: 0) { _ in } }
    let after = residentBytes()
    let state = model.shape.stateCount * 4
    let perStream = Double(after - before) / Double(streams)
    json(["benchmark": "engine_memory", "streams": streams, "live_streams": engine.liveStreamCount,
          "resident_bytes_before": before, "resident_bytes_after": after,
          "bytes_per_stream": perStream, "state_bytes_per_stream": state,
          "ratio_to_state": perStream / Double(state)])
default:
    FileHandle.standardError.write(Data("usage: engine-bench rate [--streams 1,64,1024] [--seconds 2] | memory [--streams 100000]\n".utf8))
    exit(2)
}
