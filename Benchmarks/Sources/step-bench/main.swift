// step-bench: rows/s of LSTMStepper (lstmd's own kernels, one thread), for the model shape of the
// PyTorch peer (../shared/peers/torch_lstm_stream.py): I=28, H=128, L=1, C=10, random weights.
// B=1 uses the single-row `step`, larger B `stepBatch`. Beside it, the same step through OpenBLAS
// on one thread (OpenBLASStep.swift, the path lstmd used before), the OpenBLAS kernel the machine
// picked, and one core's FP32 peak. Each configuration: calibrated repetitions of about
// --min-time seconds, median reported; state reset every 28 rows as in the peer. Like the peer,
// each configuration first waits (up to 30 s) for other processes to use < 10 % of the machine, and
// reports the share of CPU they used while it ran (0 = quiet, 0.5 = one of two cores busy).
//
//   step-bench [--batches 1,8,64,256,1024] [--min-time 1.0] [--reps 5] [--paths kernels,openblas] [--json]
//   step-bench --hash      a hash over the bits of many steps and streams (BitsHash.swift)
import Foundation
import CBLAS
import LSTMCore

struct Options {
    var batches = [1, 8, 64, 256, 1024]
    var minTime = 1.0
    var reps = 5
    var jsonOnly = false
    var paths = ["kernels", "openblas"]

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--batches": batches = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--min-time": minTime = Double(iterator.next() ?? "") ?? minTime
            case "--reps": reps = Int(iterator.next() ?? "") ?? reps
            case "--json": jsonOnly = true
            case "--paths": paths = (iterator.next() ?? "").split(separator: ",").map(String.init)
            default:
                FileHandle.standardError.write(Data("usage: step-bench [--batches 1,8,...] [--min-time s] [--reps n] [--paths kernels,openblas] [--json]\n".utf8))
                exit(2)
            }
        }
        precondition(!batches.isEmpty && batches.allSatisfy { $0 >= 1 } && reps >= 1 && minTime > 0
                     && !paths.isEmpty && paths.allSatisfy { ["kernels", "openblas"].contains($0) }, "bad options")
    }
}

struct Result: Encodable {
    var path: String
    var batch: Int
    var stepsPerRep: Int
    var reps: Int
    var rowsPerSecondMedian: Double
    var rowsPerCPUSecondMedian: Double
    var rowsPerSecondMin: Double
    var rowsPerSecondMax: Double
    var stepMicrosecondsMedian: Double
    var gflopsMedian: Double
    var foreignShareBefore: Double
    var foreignShare: Double

    enum CodingKeys: String, CodingKey {
        case path, batch, reps
        case foreignShareBefore = "foreign_cpu_share_before"
        case foreignShare = "foreign_cpu_share"
        case stepsPerRep = "steps_per_rep"
        case rowsPerSecondMedian = "rows_per_s_median"
        case rowsPerCPUSecondMedian = "rows_per_cpu_s_median"
        case rowsPerSecondMin = "rows_per_s_min"
        case rowsPerSecondMax = "rows_per_s_max"
        case stepMicrosecondsMedian = "step_us_median"
        case gflopsMedian = "gflops_median"
    }
}

struct Report: Encodable {
    var benchmark = "lstmd_step_bench"
    var inputSize: Int
    var hiddenSize: Int
    var classes: Int
    var blasThreads: Int
    var openBLASCore: String
    var peakGFLOPs: Double
    var flopsPerRowStep: Int
    var results: [Result]

    enum CodingKeys: String, CodingKey {
        case benchmark, results
        case inputSize = "I"
        case hiddenSize = "H"
        case classes
        case blasThreads = "blas_threads"
        case openBLASCore = "openblas_corename"
        case peakGFLOPs = "peak_gflops"
        case flopsPerRowStep = "flops_per_row_step"
    }
}

/// Weights uniform in ±1/√H, PyTorch's default initialisation range.
func randomModel(_ shape: LSTMShape) -> LSTMModel {
    var generator = SystemRandomNumberGenerator()
    let bound = 1 / Float(shape.hiddenSize).squareRoot()
    func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -bound...bound, using: &generator) } }
    let h = shape.hiddenSize
    let layers = (0..<shape.layers).map { k in
        LSTMLayerParameters(weightIH: values(4 * h * shape.layerInputSize(k)), weightHH: values(4 * h * h),
                            biasIH: values(4 * h), biasHH: values(4 * h))
    }
    let parameters = try! LSTMParameters(shape: shape, layers: layers, fcWeight: values(shape.classes * h),
                                         fcBias: values(shape.classes))
    return LSTMModel(parameters: parameters, metadata: ModelMetadata())
}

/// CPU seconds used by all processes (from /proc/stat) and by this one.
func busySeconds() -> (all: Double, own: Double) {
    var all = 0.0
    if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
       let line = stat.split(separator: "\n").first {
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        if ticks.count >= 5 {
            all = (ticks.prefix(8).reduce(0, +) - ticks[3] - ticks[4]) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    let own = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return (all, own)
}

/// Runs `body` and returns the share of the machine other processes used meanwhile.
func foreignShare(_ body: () -> Void) -> Double {
    let start = busySeconds()
    let wall = seconds(body)
    let end = busySeconds()
    let foreign = (end.all - start.all) - (end.own - start.own)
    return max(0, foreign) / max(wall * Double(ProcessInfo.processInfo.activeProcessorCount), 1e-9)
}

/// Waits until other processes use < 10 % of the machine over half a second, at most 30 s.
func waitQuiet() -> Double {
    let deadline = Date().addingTimeInterval(30)
    while true {
        let share = foreignShare { usleep(500_000) }
        if share < 0.1 || Date() > deadline { return share }
    }
}

/// CPU seconds this thread ran during `body`: unlike wall time, not inflated while other processes
/// hold the core (still slowed by whatever shares its caches or its other hyperthread).
func threadCPUSeconds(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
}

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func measure(model: LSTMModel, batch: Int, path: String, options: Options) -> Result {
    let shape = model.shape
    let rows = 28
    let stepper = model.makeStepper(maxBatch: batch)
    let reference = OpenBLASStep(model: model)
    let states = UnsafeMutablePointer<Float>.allocate(capacity: batch * shape.stateCount)
    let pointers = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: batch)
    let inputs = UnsafeMutablePointer<Float>.allocate(capacity: rows * batch * shape.inputSize)
    let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: batch * shape.classes)
    defer {
        states.deallocate(); pointers.deallocate(); inputs.deallocate(); probabilities.deallocate()
    }
    for b in 0..<batch { pointers[b] = states + b * shape.stateCount }
    for i in 0..<(rows * batch * shape.inputSize) { inputs[i] = Float.random(in: 0...1) }

    func run(_ steps: Int) {
        for k in 0..<steps {
            if k % rows == 0 {
                for b in 0..<batch { stepper.resetState(pointers[b]) }
            }
            let x = inputs + (k % rows) * batch * shape.inputSize
            if path == "openblas" {
                reference.step(count: batch, inputs: x, states: pointers, probabilities: probabilities)
            } else if batch == 1 {
                stepper.step(input: x, state: states, probabilities: probabilities)
            } else {
                stepper.stepBatch(count: batch, inputs: x, states: pointers, probabilities: probabilities)
            }
        }
    }

    run(50)
    var steps = 1
    var elapsed = seconds { run(steps) }
    while elapsed < options.minTime / 4 && steps < 1 << 24 {
        steps *= 2
        elapsed = seconds { run(steps) }
    }
    steps = max(1, Int(Double(steps) * options.minTime / max(elapsed, 1e-9)))
    let before = waitQuiet()
    var rates: [Double] = [], cpuRates: [Double] = []
    let during = foreignShare {
        for _ in 0..<options.reps {
            var cpu = 0.0
            rates.append(Double(batch * steps) / seconds { cpu = threadCPUSeconds { run(steps) } })
            cpuRates.append(Double(batch * steps) / cpu)
        }
        rates.sort()
        cpuRates.sort()
    }
    func median(_ values: [Double]) -> Double {
        values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
    }
    let medianRate = median(rates)
    return Result(path: path, batch: batch, stepsPerRep: steps, reps: options.reps, rowsPerSecondMedian: medianRate,
                  rowsPerCPUSecondMedian: median(cpuRates),
                  rowsPerSecondMin: rates.first!, rowsPerSecondMax: rates.last!,
                  stepMicrosecondsMedian: 1e6 * Double(batch) / medianRate,
                  gflopsMedian: medianRate * Double(shape.flopsPerRow) / 1e9,
                  foreignShareBefore: before, foreignShare: during)
}

if CommandLine.arguments.dropFirst().first == "--hash" {
    print(String(stepBitsHash(), radix: 16))
    exit(0)
}
let options = Options(Array(CommandLine.arguments.dropFirst()))
openblas_set_num_threads(1)
let model = randomModel(LSTMShape(inputSize: 28, hiddenSize: 128, layers: 1, classes: 10))
var report = Report(inputSize: 28, hiddenSize: 128, classes: 10, blasThreads: Int(openblas_get_num_threads()),
                    openBLASCore: openBLASCoreName(), peakGFLOPs: measurePeakGFLOPs(),
                    flopsPerRowStep: model.shape.flopsPerRow, results: [])
if !options.jsonOnly {
    print("OpenBLAS kernel \(report.openBLASCore), one core's FP32 peak (separate mul and add) "
          + String(format: "%.1f GFLOP/s", report.peakGFLOPs))
}
// Paths alternate per batch size, so that both see the machine in the same state.
for batch in options.batches {
    for path in options.paths {
        let result = measure(model: model, batch: batch, path: path, options: options)
        report.results.append(result)
        if !options.jsonOnly {
            print(path.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: "B=%-5d %12.0f rows/s  (min %.0f, max %.0f; %.0f per CPU-second)  %9.2f µs/step  %6.2f GFLOP/s  foreign CPU %.2f",
                         batch, result.rowsPerSecondMedian, result.rowsPerSecondMin, result.rowsPerSecondMax,
                         result.rowsPerCPUSecondMedian,
                         result.stepMicrosecondsMedian, result.gflopsMedian, result.foreignShare))
        }
    }
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
print(String(decoding: try! encoder.encode(report), as: UTF8.self))
