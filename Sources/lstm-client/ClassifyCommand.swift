import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol

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
        try checkTimeout(timeout)
        if let stream { _ = try streamID(stream, option: "--stream") }
    }

    func run() throws {
        let digit = try loadDigit()
        let id = try streamID(stream ?? "\(DaemonClient.hostAndProcess)/classify", option: "--stream")
        let curve = try endpoints.curve()
        let model = try ServingModel.probe(endpoints.control, timeout: timeout, curve: curve)
        let client = try DaemonClient(endpoints.daemon, options: ClientOptions(
            lossless: router, timeout: timeout, recoveryDelay: min(1, timeout / 2), curve: curve))
        defer { client.close() }
        let receiveEndpoint = router ? endpoints.results : endpoints.predictions
        let sendEndpoint = router ? endpoints.results : endpoints.ingest

        let drawing = !plain && Terminal.allowsColor(STDOUT_FILENO)  // the drawing is in colour
        let delay = rowDelay ?? (drawing ? 40 : 0)
        let canvas = drawing ? TerminalCanvas() : nil
        let title = "\(digit.name)  →  stream \(id.string)"
        canvas?.draw(DigitRenderer.frame(title: title, pixels: digit.pixels, rowsShown: 0,
                                         probabilities: nil, labels: model.labels))
        var answer: Prediction?
        // A new sequence number: answers about an earlier sequence on the same id are ignored.
        let handle = try client.stream(id: id)
        for row in 0..<Digits.rows {
            let isLast = row == Digits.rows - 1
            try handle.send(pixels: digit.pixels[(row * Digits.columns)..<((row + 1) * Digits.columns)], last: isLast)
            guard model.publication == .partial || isLast else {
                canvas?.draw(DigitRenderer.frame(title: title, pixels: digit.pixels, rowsShown: row + 1,
                                                 probabilities: nil, labels: model.labels))
                continue
            }
            let prediction: Prediction
            let event = handle.next()
            switch event {
            case .partial(let p), .final(let p): prediction = p
            case .failed(.daemon(let code, let message, let failedRow)):
                throw CommandError.streamFailed(stream: id.string, row: failedRow, code: code, message: message)
            case .failed(.sendBlocked(let seconds, _)):
                throw CommandError.sendBlocked(endpoint: sendEndpoint, timeout: seconds)
            case .failed, nil:
                throw CommandError.noPrediction(stream: id.string, row: row, endpoint: receiveEndpoint,
                                                sentTo: sendEndpoint, timeout: timeout)
            }
            if let canvas {
                canvas.draw(DigitRenderer.frame(title: "\(title)  row \(row + 1)/\(Digits.rows)", pixels: digit.pixels,
                                                rowsShown: row + 1, probabilities: prediction.probabilities, labels: model.labels))
            } else {
                emit("row \(prediction.row)  argmax \(prediction.argmax)  p " + format(prediction.probabilities[prediction.argmax])
                     + (event?.isTerminal == true ? "  FINAL" : ""))
            }
            answer = prediction
            if event?.isTerminal == true { break }
            if delay > 0 && !isLast { usleep(UInt32(delay * 1000)) }
        }
        guard let answer else {
            throw CommandError.noPrediction(stream: id.string, row: Digits.rows - 1, endpoint: receiveEndpoint,
                                            sentTo: sendEndpoint, timeout: timeout)
        }
        let best = answer.argmax
        let probabilities = answer.probabilities
        let truth = digit.label.map { "  true \($0)" } ?? ""
        if drawing {
            let verdict = digit.label.map { Int($0) == best ? "  \u{1B}[32m✓ correct\u{1B}[0m" : "  \u{1B}[31m✗ wrong\u{1B}[0m" } ?? ""
            emit("\u{1B}[1manswer: \(model.label(best))\u{1B}[0m  (class \(best), p \(format(probabilities[best])))\(truth)\(verdict)")
        } else {
            emit("final class \(best)  label \"\(model.label(best))\"  p \(format(probabilities[best]))\(truth)")
        }
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
            throw CommandError.invalidArgument("--index \(chosen) is past the end of the \(digits.count) \(origin)")
        }
        return (Array(digits.image(at: chosen)), digits.labels[chosen], "digit #\(chosen) of the \(origin)")
    }

    private func format(_ probability: Float) -> String { String(format: "%.4f", Double(probability)) }
}
