import ArgumentParser
import Foundation
import WireProtocol
import ZeroMQ

/// Streams one digit row by row and shows the daemon's answer after every row.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream one digit row by row and watch the class probabilities change.",
        discussion: """
            Sends the digit's 28 rows as uint8 ROW messages (LAST on the last row) and waits for the \
            prediction of each row. On a terminal, draws the digit as its rows arrive and the ten \
            class probabilities as bars, redrawn after each row; with --plain, when standard \
            output is not a terminal, or with TERM=dumb or NO_COLOR set, prints one line per row (row, argmax, top probability) and \
            a final line `final class N  label "L"  p P  true T`.

            Examples:
              lstm-client classify --index 3
              lstm-client classify --file seven.pgm --plain
            """)

    @OptionGroup var endpoints: EndpointOptions
    @OptionGroup var source: DigitSourceOptions

    @Option(help: ArgumentHelp("Which test digit to send, from 0. (default: 0)", valueName: "n"))
    var index: Int?

    @Option(help: ArgumentHelp(
        "Send a 28 × 28 grey-scale PGM image (P2 or P5, maxval ≤ 255) instead of an MNIST digit. PNG is not read (no PNG decoder is available): convert with e.g. `convert digit.png -resize 28x28! digit.pgm`.",
        valueName: "image.pgm"))
    var file: String?

    @Flag(help: "Invert the --file image (for dark ink on a light background; MNIST digits are light on dark).")
    var invert = false

    @Option(help: ArgumentHelp("Stream id. (default: HOST/PID/classify)", valueName: "id"))
    var stream: String?

    @Flag(help: "One plain text line per row instead of drawing on the terminal.")
    var plain = false

    @Flag(help: "Use the lossless DEALER/ROUTER path (--results) instead of PUSH and PUB/SUB.")
    var router = false

    @Option(help: ArgumentHelp("Seconds to wait for each reply or prediction.", valueName: "seconds"))
    var timeout: Double = 5

    @Option(name: .customLong("row-delay"), help: ArgumentHelp(
        "Milliseconds to pause between rows, so that the digit can be watched. (default: 40 on a terminal, 0 otherwise)",
        valueName: "ms"))
    var rowDelay: Double?

    func validate() throws {
        if index != nil && file != nil { throw ValidationError("give --index or --file, not both") }
        if let index, index < 0 { throw ValidationError("--index must be 0 or more") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if let stream { _ = try streamID(stream, option: "--stream") }
    }

    func run() throws {
        let digit = try loadDigit()
        let id = try streamID(stream ?? "\(hostAndProcess)/classify", option: "--stream")
        let context = try zmq("cannot create a ZeroMQ context") { () throws(ZMQError) in try ZMQContext() }
        let curve = try endpoints.curve()
        let model = try ServingModel(status: ControlClient.probe(context, endpoint: endpoints.control, timeout: timeout, curve: curve).status())

        let receiver: ZMQSocket
        let sender: ZMQSocket
        let sendEndpoint: String
        if router {
            receiver = try StreamSockets.dealer(context, endpoint: endpoints.results, curve: curve)
            sender = receiver
            sendEndpoint = endpoints.results
        } else {
            receiver = try StreamSockets.subscriber(context, endpoint: endpoints.predictions, prefixes: [id.bytes], curve: curve)
            usleep(StreamSockets.subscriptionSettleMicroseconds)
            sender = try StreamSockets.pusher(context, endpoint: endpoints.ingest, curve: curve)
            sendEndpoint = endpoints.ingest
        }
        try zmq("cannot set a receive timeout") { () throws(ZMQError) in
            try receiver.set(.receiveTimeout, .milliseconds(100))
            try sender.set(.sendTimeout, .milliseconds(Int(timeout * 1000)))
        }

        let drawing = !plain && Terminal.allowsColor(STDOUT_FILENO)  // the drawing is in colour
        let delay = rowDelay ?? (drawing ? 40 : 0)
        let canvas = drawing ? TerminalCanvas() : nil
        let title = "\(digit.name)  →  stream \(id.string)"
        canvas?.draw(DigitRenderer.frame(title: title, pixels: digit.pixels, rowsShown: 0,
                                         probabilities: nil, labels: model.labels))
        var answer: PredictionMessage?
        // A fresh sequence number: answers about an earlier sequence on the same id are ignored.
        let sequence = UInt32.random(in: 0...UInt32.max)
        for row in 0..<Digits.rows {
            let isLast = row == Digits.rows - 1
            let pixels = Array(digit.pixels[(row * Digits.columns)..<((row + 1) * Digits.columns)])
            let message = IngestMessage.row(UInt32(row), of: id, sequence: sequence, pixels: pixels, last: isLast)
            let sent = try zmq("cannot send row \(row) to \(sendEndpoint)") { () throws(ZMQError) in try sender.send(message.frames) }
            guard sent else { throw ClientError.sendBlocked(endpoint: sendEndpoint, timeout: timeout) }
            guard model.publication == .partial || isLast else {
                canvas?.draw(DigitRenderer.frame(title: title, pixels: digit.pixels, rowsShown: row + 1,
                                                 probabilities: nil, labels: model.labels))
                continue
            }
            let prediction = try awaitPrediction(for: id, sequence: sequence, row: row, on: receiver,
                                                 endpoint: router ? endpoints.results : endpoints.predictions, sentTo: sendEndpoint)
            guard case .probabilities(let probabilities) = prediction.body else { continue }
            if let canvas {
                canvas.draw(DigitRenderer.frame(title: "\(title)  row \(row + 1)/\(Digits.rows)", pixels: digit.pixels,
                                                rowsShown: row + 1, probabilities: probabilities, labels: model.labels))
            } else {
                emit("row \(row)  argmax \(prediction.header.argmax)  p " + format(probabilities[Int(prediction.header.argmax)])
                     + (prediction.header.kind == .final ? "  FINAL" : ""))
            }
            answer = prediction
            if prediction.header.kind == .final { break }
            if delay > 0 && !isLast { usleep(UInt32(delay * 1000)) }
        }
        guard let answer, answer.header.kind == .final, case .probabilities(let probabilities) = answer.body else {
            throw ClientError.noPrediction(stream: id.string, row: Digits.rows - 1,
                                           endpoint: router ? endpoints.results : endpoints.predictions,
                                           sentTo: sendEndpoint, timeout: timeout)
        }
        let best = Int(answer.header.argmax)
        let truth = digit.label.map { "  true \($0)" } ?? ""
        if drawing {
            let verdict = digit.label.map { Int($0) == best ? "  \u{1B}[32m✓ correct\u{1B}[0m" : "  \u{1B}[31m✗ wrong\u{1B}[0m" } ?? ""
            emit("\u{1B}[1manswer: \(model.label(best))\u{1B}[0m  (class \(best), p \(format(probabilities[best])))\(truth)\(verdict)")
        } else {
            emit("final class \(best)  label \"\(model.label(best))\"  p \(format(probabilities[best]))\(truth)")
        }
    }

    /// Waits for the PARTIAL or FINAL of `row` of stream `id`, skipping other streams that share
    /// the subscription prefix. An ERROR for the stream is thrown.
    private func awaitPrediction(for id: StreamID, sequence: UInt32, row: Int, on socket: ZMQSocket,
                                 endpoint: String, sentTo: String) throws -> PredictionMessage {
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        while monotonicNanoseconds() < deadline {
            guard let frames = try zmq("cannot receive from \(endpoint)", { () throws(ZMQError) in try socket.receiveMultipart() }) else {
                continue
            }
            let message: PredictionMessage
            do { message = try PredictionMessage(frames: frames) } catch {
                note("skipping an undecodable prediction: \(error)")
                continue
            }
            guard message.topic == .stream(id), message.header.sequence == sequence else { continue }
            if case .error(let body) = message.body {
                throw ClientError.streamFailed(stream: id.string, row: message.header.row, error: body)
            }
            if message.header.row == UInt32(row) { return message }
        }
        throw ClientError.noPrediction(stream: id.string, row: row, endpoint: endpoint, sentTo: sentTo, timeout: timeout)
    }

    /// The digit to send: 784 pixels, its true label when known, and a name for the title.
    private func loadDigit() throws -> (pixels: [UInt8], label: UInt8?, name: String) {
        if let file {
            let image = try PGMImage(contentsOf: file, width: Digits.columns, height: Digits.rows)
            return (invert ? image.pixels.map { 255 - $0 } : image.pixels, nil, file)
        }
        let (digits, origin) = try source.load()
        let chosen = index ?? 0
        guard chosen < digits.count else {
            throw ClientError.invalidArgument("--index \(chosen) is past the end of the \(digits.count) \(origin)")
        }
        return (Array(digits.image(at: chosen)), digits.labels[chosen], "digit #\(chosen) of the \(origin)")
    }

    private func format(_ probability: Float) -> String { String(format: "%.4f", Double(probability)) }
}
