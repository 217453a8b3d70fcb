import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol

/// Prints every prediction the daemon publishes (or those of some streams).
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's predictions as they are published, one line each.",
        discussion: """
            Subscribes to the predictions endpoint and prints each PARTIAL, FINAL and ERROR until \
            interrupted (Ctrl-C exits cleanly with status 0), until --count messages were printed, \
            or until --timeout seconds passed. ZeroMQ subscriptions match prefixes: --stream 7 also \
            shows streams 70 and 7/x; add --exact to show stream 7 only. Without --stream, every \
            stream and $errors are shown. PUB/SUB is best effort: a slow reader loses messages.
            A line `watching ...` on standard error says when the subscription is in place.

            Examples:
              lstm-client watch --stream host/42/ --count 28
              lstm-client watch --json --timeout 10
            """)

    @OptionGroup var endpoints: EndpointOptions

    @Option(help: ArgumentHelp("Show only streams whose id starts with this prefix.", valueName: "prefix"))
    var stream: String?

    @Flag(help: "Show only the stream whose id equals --stream.")
    var exact = false

    @Flag(help: "Print JSON lines: stream, kind, row, argmax, probabilities (or code and message for errors).")
    var json = false

    @Option(help: ArgumentHelp("Stop after this many messages; exit status 1 if --timeout passes first.", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if exact && stream == nil { throw ValidationError("--exact needs --stream") }
        if let stream, stream.isEmpty { throw ValidationError("--stream must not be empty; leave it out to see every stream") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let timeout { try checkTimeout(timeout) }
    }

    func run() throws {
        Interrupts.install()
        let prefix = stream.map { Array($0.utf8) } ?? []
        let subscriber = try PredictionSubscriber(endpoint: endpoints.predictions, prefix: prefix, curve: endpoints.curve())
        let what = stream.map { exact ? "stream \"\($0)\"" : "streams starting with \"\($0)\"" } ?? "every stream"
        note("watching \(endpoints.predictions) for \(what)")

        let deadline = timeout.map { monotonicNanoseconds() + UInt64($0 * 1e9) }
        var printed = 0
        var silence = SilenceNotice(since: monotonicNanoseconds())
        while !Interrupts.isRaised {
            if let count, printed >= count { return }
            if let deadline, monotonicNanoseconds() >= deadline { break }
            guard let published = try subscriber.next(timeout: 0.1) else {
                if let quiet = silence.check(now: monotonicNanoseconds()) {
                    note("nothing received from \(endpoints.predictions) for \(quiet) s; still watching "
                         + "(is lstmd publishing there, and is any client streaming?)")
                }
                continue
            }
            silence = SilenceNotice(since: monotonicNanoseconds())
            if exact, published.topic != prefix { continue }
            switch published.message {
            case .success(let message):
                emit(Self.line(for: message, json: json))
            case .failure(let error):
                emit(json ? Self.jsonLine(UndecodableLine(topic: String(decoding: published.topic, as: UTF8.self), error: error.description))
                     : "undecodable message: \(error)")
            }
            printed += 1
        }
        if let count, printed < count, !Interrupts.isRaised {
            throw CommandError.invalidArgument("watch: \(printed) of \(count) messages within \(formatSeconds(timeout ?? 0))")
        }
    }

    /// When to say that nothing arrives: after 3 s of silence, then after 6, 12, 24 … s.
    struct SilenceNotice {
        let since: UInt64
        private var nextSeconds = 3

        init(since: UInt64) { self.since = since }

        /// The whole seconds of silence to report now, or nil.
        mutating func check(now: UInt64) -> Int? {
            let quiet = Int((now &- since) / 1_000_000_000)
            guard quiet >= nextSeconds else { return nil }
            nextSeconds *= 2
            return quiet
        }
    }

    /// One output line for `message`.
    static func line(for message: PredictionMessage, json: Bool) -> String {
        let header = message.header
        let row: UInt32? = header.row == PredictionHeader.noRow ? nil : header.row
        switch message.body {
        case .probabilities(let probabilities):
            if json {
                return jsonLine(PredictionLine(stream: message.topic.description, kind: header.kind.description.lowercased(),
                                               row: row, argmax: Int(header.argmax), probabilities: probabilities))
            }
            let best = Int(header.argmax)
            let top = probabilities.indices.contains(best) ? String(format: "%.4f", Double(probabilities[best])) : "?"
            return "\(message.topic)  \(header.kind) row \(header.row)  argmax \(best)  p \(top)"
        case .error(let body):
            if json {
                return jsonLine(ErrorLine(stream: message.topic.description, kind: "error", row: row,
                                          code: body.code, message: body.message))
            }
            return "\(message.topic)  ERROR" + (row.map { " row \($0)" } ?? "") + "  \(body.code): \(body.message)"
        }
    }

    static func jsonLine(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    struct PredictionLine: Encodable {
        var stream: String
        var kind: String
        var row: UInt32?
        var argmax: Int
        var probabilities: [Float]
    }

    struct ErrorLine: Encodable {
        var stream: String
        var kind: String
        var row: UInt32?
        var code: String
        var message: String
    }

    struct UndecodableLine: Encodable {
        var topic: String
        var kind = "undecodable"
        var error: String
    }
}
