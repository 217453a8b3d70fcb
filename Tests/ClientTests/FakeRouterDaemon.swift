import DaemonTestSupport
import Foundation
import Synchronization
import TestSupport
import WireProtocol
import ZeroMQ

/// A stand-in for the daemon's lossless path (stream protocol §11) while lstmd's ROUTER is being
/// written: a REP control socket answering `status`, and a ROUTER socket answering every ROW with
/// a PARTIAL, or a FINAL for a LAST row, and every END with ERROR `unknown_stream`, to the DEALER
/// that sent it. Its "model" is a rule the test can recompute: the argmax is the sum of the row's
/// pixels modulo 10, with probability 1.
final class FakeRouterDaemon: Sendable {
    let directory: URL
    let control: String
    let results: String
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// 0 while starting, 1 once bound, -1 when binding failed.
    private let ready = Atomic<Int>(0)

    init() throws {
        directory = try DaemonProcess.makeTemporaryDirectory()
        control = "ipc://\(directory.path)/control"
        results = "ipc://\(directory.path)/results"
        let thread = Thread { [self] in
            do {
                let context = try ZMQContext()
                let rep = try ZMQSocket(context, type: .rep)
                let router = try ZMQSocket(context, type: .router)
                for socket in [rep, router] { try socket.set(.linger, .zero) }
                try rep.bind(control)
                try router.bind(results)
                ready.store(1, ordering: .releasing)
                serve(rep: rep, router: router)
            } catch {
                ready.store(-1, ordering: .releasing)
            }
            stopped.store(true, ordering: .releasing)
        }
        thread.start()
        while ready.load(ordering: .acquiring) == 0 { usleep(1000) }
        if ready.load(ordering: .acquiring) < 0 { throw HarnessError("the fake ROUTER daemon could not bind its sockets") }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The argmax the fake answers for a row.
    static func argmax(of pixels: [UInt8]) -> UInt8 { UInt8(pixels.reduce(0) { $0 + Int($1) } % 10) }

    /// Endpoint options for `lstm-client`: control and results here, the PUB/PUSH ones nowhere.
    var clientEndpoints: [String] {
        ["--control", control, "--results", results,
         "--ingest", "ipc://\(directory.path)/no-ingest", "--predictions", "ipc://\(directory.path)/no-predictions"]
    }

    private func serve(rep: ZMQSocket, router: ZMQSocket) {
        let poller = ZMQPoller()
        guard let repEntry = try? poller.add(rep), let routerEntry = try? poller.add(router) else { return }
        while !stopping.load(ordering: .acquiring) {
            guard let ready = try? poller.poll(timeout: .milliseconds(20)), ready > 0 else { continue }
            if poller.isReadable(repEntry), let request = try? rep.receiveMultipart(dontWait: true) {
                _ = try? rep.send([Self.reply(to: request)])
            }
            if poller.isReadable(routerEntry) {
                while let frames = try? router.receiveMultipart(dontWait: true), frames.count >= 2 {
                    guard let message = try? decodeIngest(frames: Array(frames.dropFirst())) else { continue }
                    let answer: [[UInt8]]
                    switch message.header.kind {
                    case .row:
                        let best = Self.argmax(of: message.row)
                        var probabilities = [Float](repeating: 0, count: 10)
                        probabilities[Int(best)] = 1
                        let kind: PredictionKind = message.header.flags.contains(.last) ? .final : .partial
                        answer = PredictionMessage(topic: .stream(message.streamID),
                                                   header: PredictionHeader(kind: kind, argmax: best, row: message.header.row,
                                                                            sequence: message.header.sequence),
                                                   body: .probabilities(probabilities)).frames
                    case .end:
                        answer = WireError(.unknownStream, "no live stream has this id", streamID: message.streamID,
                                           row: message.header.row, sequence: message.header.sequence).predictionFrames
                    }
                    _ = try? router.send([frames[0]] + answer)
                }
            }
        }
    }

    private static func reply(to request: [[UInt8]]) -> [UInt8] {
        let shape = ModelShapeInfo(inputSize: 28, hiddenSize: 1, layers: 1, classes: 10)
        let model = ModelInfo(path: nil, sha256: String(repeating: "0", count: 64), shape: shape, sequenceLength: 28,
                              inputScale: 1 / 255, labels: (0..<10).map(String.init), loadedAt: "2026-11-29T00:00:00Z",
                              liveStreams: 0)
        guard request.count == 1, let parsed = try? ControlRequest(jsonBytes: request[0]) else {
            return ControlReply(WireError(.badRequest, "not a request")).jsonBytes
        }
        switch parsed {
        case .status:
            return ControlReply.status(StatusReply(version: "fake", uptimeSeconds: 1, publication: .partial, model: model,
                                                   previousModels: [], counters: Counters(), liveStreams: 0,
                                                   maxStreams: 1000, idleTimeoutSeconds: 60)).jsonBytes
        default:
            return ControlReply.ping(PingReply(uptimeSeconds: 1)).jsonBytes
        }
    }
}
