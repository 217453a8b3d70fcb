import Logging
import LSTMStreaming
import WireProtocol
import ZeroMQ

/// Where predictions and errors leave the daemon: encoded once, published on PUB under the stream's
/// topic and, for a stream bound to a ROUTER peer, sent to that peer too. Counts what it sends, and
/// how long each published prediction's row took from its arrival.
final class PredictionOutput {
    private let publisher: ZMQSocket
    let results: ResultsRouter?
    private let mode: PublicationMode
    private let counters: DaemonCounters
    private let logger: Logger
    /// Frames 2 and 3 of the prediction being published: 8 or 12 header bytes, then up to 255 float32s.
    private let predictionBytes = UnsafeMutableRawBufferPointer.allocate(
        byteCount: headerSize(sequence: 0) + 4 * 255, alignment: MemoryLayout<UInt32>.alignment)

    init(publisher: ZMQSocket, results: ResultsRouter?, mode: PublicationMode, counters: DaemonCounters, logger: Logger) {
        self.publisher = publisher
        self.results = results
        self.mode = mode
        self.counters = counters
        self.logger = logger
    }

    deinit { predictionBytes.deallocate() }

    /// Encodes a prediction and delivers it (PARTIAL only in `partial` mode); a FINAL that ends its
    /// stream unbinds it from its ROUTER peer (a restart queued behind it keeps the binding).
    func publish(_ prediction: Prediction) {
        if mode == .final && !prediction.isFinal { return }
        let headerSize = headerSize(sequence: prediction.sequence)
        let header = UnsafeMutableRawBufferPointer(rebasing: predictionBytes[..<headerSize])
        let body = UnsafeMutableRawBufferPointer(rebasing: predictionBytes[headerSize...]
            .prefix(4 * prediction.probabilities.count))
        encodePrediction(kind: prediction.isFinal ? .final : .partial, row: UInt32(prediction.row),
                         sequence: prediction.sequence, probabilities: prediction.probabilities, header: header, body: body)
        var topic = prediction.stream.string
        let published = topic.withUTF8 { topic in
            deliver(topic: UnsafeRawBufferPointer(topic), header: UnsafeRawBufferPointer(header),
                    body: UnsafeRawBufferPointer(body), to: results?.peer(of: prediction.stream))
        }
        if published {
            counters.value[.predictionsPublished] += 1
            counters.histograms.publishLatency.record(monotonicNanoseconds() &- prediction.submittedAt)
        }
        if prediction.endsStream { results?.unbind(prediction.stream) }
        if prediction.isFinal {
            logger.trace("stream finished", metadata: ["stream": "\(prediction.stream)", "rows": "\(prediction.row + 1)"])
        }
    }

    /// Answers a failure on the stream's topic (or `$errors`), and to the ROUTER peer concerned
    /// (`peer`, else the one the stream is bound to).
    func deliverError(_ error: WireError, to peer: ResultsRouter.Peer?) {
        counters.value.errors[error.code.rawValue, default: 0] += 1
        logger.debug("rejected", metadata: [
            "stream": "\(error.streamID?.string ?? errorsTopic)", "code": "\(error.code)",
            "row": "\(error.row.map(String.init) ?? "-")", "message": "\(error.message)",
        ])
        var topic = error.topic
        let recipient = peer ?? error.streamID.flatMap { results?.peer(of: $0) }
        let header = error.header.bytes, body = error.body.jsonBytes
        topic.withUTF8 { bytes in
            header.withUnsafeBytes { header in
                body.withUnsafeBytes { body in
                    _ = deliver(topic: UnsafeRawBufferPointer(bytes), header: header, body: body, to: recipient)
                }
            }
        }
    }

    /// Tells a stream's clients that the daemon ended it, then forgets its ROUTER binding.
    func endedByDaemon(_ stream: StreamID, _ code: ErrorCode, _ message: String, nextRow: Int?, sequence: UInt32?) {
        deliverError(WireError(code, message, streamID: stream, row: nextRow.map { UInt32(clamping: $0) }, sequence: sequence), to: nil)
        results?.unbind(stream)
    }

    /// Publishes a message on PUB (true when PUB took it) and, to a ROUTER peer, sends it there.
    private func deliver(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                         to peer: ResultsRouter.Peer?) -> Bool {
        var published = false
        do {
            _ = try publisher.sendFrame(topic, more: true, dontWait: true)
            _ = try publisher.sendFrame(header, more: true, dontWait: true)
            _ = try publisher.sendFrame(body, dontWait: true)
            published = true
        } catch {
            logger.error("publish failed", metadata: ["error": "\(error)"])
        }
        if let peer { results?.send(topic, header, body, to: peer) }
        return published
    }
}
