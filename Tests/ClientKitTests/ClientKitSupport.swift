import DaemonTestSupport
import Foundation
import LSTMClientKit
import LSTMCore
import MNIST
import Synchronization
import TestSupport
import WireProtocol
import ZeroMQ

/// A random MNIST-shaped model written to `directory` and read back: the daemon and the offline
/// stepper then use the very same weights.
func servedModel(in directory: URL, seed: UInt64) throws -> (model: LSTMModel, path: String) {
    let model = try makeRandomModel(inputSize: 28, hidden: 16, layers: 1, classes: 10, sequenceLength: 28,
                                    inputScale: 1 / 255, seed: seed)
    let file = directory.appendingPathComponent("model-\(seed).safetensors")
    try model.write(to: file)
    return (try LSTMModel.load(contentsOf: file), file.path)
}

/// The 28 rows of digit `index`.
func rows(of digits: MNISTDataset, _ index: Int) -> [ArraySlice<UInt8>] {
    let image = Array(digits.image(at: index))
    return (0..<28).map { image[($0 * 28)..<($0 * 28 + 28)] }
}


/// Equal bit patterns (not merely equal values).
func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

extension DaemonProcess {
    var endpoints: DaemonEndpoints {
        DaemonEndpoints(ingest: ingest, predictions: predictions, control: control, results: results)
    }
}

/// A PUB/SUB relay between a daemon and a client that drops the first message about `row` of
/// every stream: what a subscriber's full queue does to a PARTIAL (stream-protocol.md §10).
final class LossyRelay: Sendable {
    let endpoint: String
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Messages it dropped.
    let dropped = Atomic<Int>(0)

    init(from upstream: String, in directory: URL, droppingRow row: UInt32) throws {
        let endpoint = "ipc://\(directory.path)/lossy-predictions"
        self.endpoint = endpoint
        let context = try ZMQContext()
        let ready = Atomic<Int>(0)
        let thread = Thread { [self] in
            do {
                let sub = try ZMQSocket(context, type: .sub)
                let pub = try ZMQSocket(context, type: .pub)
                for socket in [sub, pub] { try socket.set(.linger, .zero) }
                try sub.subscribe()
                try sub.connect(upstream)
                try pub.bind(endpoint)
                try sub.set(.receiveTimeout, .milliseconds(20))
                ready.store(1, ordering: .releasing)
                var seen: Set<[UInt8]> = []
                while !stopping.load(ordering: .acquiring) {
                    guard let frames = try sub.receiveMultipart() else { continue }
                    if let message = try? PredictionMessage(frames: frames), message.header.row == row,
                       seen.insert(frames[0]).inserted {
                        dropped.add(1, ordering: .relaxed)
                        continue
                    }
                    try pub.send(frames)
                }
            } catch {
                ready.store(-1, ordering: .releasing)
            }
            stopped.store(true, ordering: .releasing)
        }
        thread.start()
        while ready.load(ordering: .acquiring) == 0 { usleep(1000) }
        if ready.load(ordering: .acquiring) < 0 { throw HarnessError("the relay could not set up its sockets") }
        usleep(200_000)   // its subscription reaches the daemon before rows are sent
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
    }
}
