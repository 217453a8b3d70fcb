import ArgumentParser
import Foundation
import LSTMTraining
import MNIST
import TerminalOutput

/// Failures of the command line, each naming the problem.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Checks before any training that `path` can be written: its directory exists and is writable,
/// and an existing file there is writable.
func checkWritable(_ path: String, what: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CommandError("cannot write \(what) \(path): directory \(directory) does not exist")
    }
    guard access(directory, W_OK) == 0 else {
        throw CommandError("cannot write \(what) \(path): directory \(directory) is not writable")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        guard !isDirectory.boolValue else { throw CommandError("cannot write \(what) \(path): it is a directory") }
        guard access(path, W_OK) == 0 else { throw CommandError("cannot write \(what) \(path): the file is not writable") }
    }
}

/// Loads a split from `--data` (or $LSTMD_MNIST_DIR), verifying the canonical checksums.
func loadMNIST(_ data: String?, split: MNISTSplit) throws -> MNISTDataset {
    let directory = try MNISTDirectory.resolve(explicit: data)
    return try MNISTDirectory.load(directory, split: split)
}

/// Parses "1/255", "0.00392156862745098" or "1" into a positive finite scale.
func parseScale(_ text: String) -> Double? {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    let value: Double?
    switch parts.count {
    case 1: value = Double(parts[0].trimmingCharacters(in: .whitespaces))
    case 2:
        if let n = Double(parts[0].trimmingCharacters(in: .whitespaces)), let d = Double(parts[1].trimmingCharacters(in: .whitespaces)), d != 0 {
            value = n / d
        } else { value = nil }
    default: value = nil
    }
    guard let value, value.isFinite, value > 0 else { return nil }
    return value
}

/// A model's Float input scale as the Double used for pixel tables: 1/255 stored as Float is taken
/// as exactly 1/255, so that pixels become p/255 rounded once, as PyTorch's x / 255.
func pixelScale(_ scale: Float) -> Double {
    scale == Float(1.0 / 255.0) ? 1.0 / 255.0 : Double(scale)
}

/// Live progress of `train`: a redrawn bar on a terminal that moves the cursor, occasional plain
/// lines otherwise (a pipe, a file, `TERM=dumb`).
final class ProgressPrinter {
    let isTerminal = Terminal.isCapable(STDOUT_FILENO)
    private var lastDraw = Date.distantPast
    private var lastPlainBatch = 0

    func report(_ p: BatchProgress, totalEpochs: Int) {
        let rate = Double(p.examples) / max(p.elapsedSeconds, 1e-9)
        let remaining = Double(p.batchCount - p.batch) * p.elapsedSeconds / Double(max(p.batch, 1))
        let stats = String(format: "%d/%d  %6.0f ex/s  loss %.4f  acc %.2f%%  ETA %@", p.batch, p.batchCount, rate,
                           p.meanLoss, 100 * p.accuracy, formatDuration(remaining))
        if isTerminal {
            let now = Date()
            guard p.batch == p.batchCount || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 24, filled = width * p.batch / p.batchCount
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print("\r\u{1B}[2Kepoch \(p.epoch)/\(totalEpochs) \(bar) \(stats)", terminator: "")
            if p.batch == p.batchCount { print("") }
            fflush(nil)
        } else if p.batch == p.batchCount || p.batch - lastPlainBatch >= max(p.batchCount / 10, 1) {
            lastPlainBatch = p.batch == p.batchCount ? 0 : p.batch
            print("epoch \(p.epoch)/\(totalEpochs) batch \(stats)")
            fflush(nil)
        }
    }

    /// Ends a partly drawn bar line.
    func finishLine() { if isTerminal { print(""); fflush(nil) } }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

func percent(_ fraction: Double) -> String { String(format: "%.2f %%", 100 * fraction) }
