import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol

/// Options of every control command.
struct ControlOptions: ParsableArguments {
    @OptionGroup var endpoints: EndpointOptions

    @Option(help: ArgumentHelp("Seconds to wait for the reply before giving up. A daemon that does not take the connection within 1 s (or --timeout, if shorter) is reported not reachable then.", valueName: "seconds"))
    var timeout: Double = 5

    @Flag(help: "Print the daemon's reply as it came: one JSON object.")
    var json = false

    func validate() throws {
        try checkTimeout(timeout)
    }

    /// Sends `request` and returns the reply; a failure reply is thrown.
    func client() throws -> ControlClient {
        try ControlClient(endpoint: endpoints.control, timeout: timeout, curve: endpoints.curve())
    }

    func send(_ request: ControlRequest) throws -> ControlClient.Exchange {
        try client().exchange(request)
    }

    /// Sends `request` and prints the raw reply with --json, or hands it to `show`.
    func perform(_ request: ControlRequest, show: (ControlClient.Exchange) -> Void) throws {
        let exchange = try send(request)
        if json {
            emit(String(decoding: exchange.json, as: UTF8.self))
        } else {
            show(exchange)
        }
    }
}

/// `key: value` lines with the values aligned.
func aligned(_ pairs: [(String, String)], indent: String = "") -> [String] {
    let width = (pairs.map(\.0.count).max() ?? 0) + 1
    return pairs.map { key, value in
        indent + (key + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + value
    }
}

/// A number of seconds for people: `0.25 s`, `12.3 s`, `2 h 3 min`.
func formatDuration(_ seconds: Double) -> String {
    if seconds < 60 { return String(format: seconds < 10 ? "%.2f s" : "%.1f s", seconds) }
    let whole = Int(seconds)
    if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
    return "\(whole / 3600) h \(whole % 3600 / 60) min"
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon's model, limits and counters.",
        discussion: "Example: lstm-client status --control tcp://127.0.0.1:5557 --json")

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.perform(.status) { exchange in
            guard case .status(let status) = exchange.reply else { return }
            for line in Self.lines(status) { emit(line) }
        }
    }

    static func lines(_ status: StatusReply) -> [String] {
        var lines = aligned([
            ("lstmd", "\(status.version) (protocol \(status.protocolVersion))"),
            ("uptime", formatDuration(status.uptimeSeconds)),
            ("publication", status.publication.rawValue),
            ("live streams", "\(status.liveStreams) of at most \(status.maxStreams)"),
            ("idle timeout", status.idleTimeoutSeconds > 0 ? formatDuration(status.idleTimeoutSeconds) : "never"),
        ])
        lines.append("model:")
        lines += modelLines(status.model)
        for (index, model) in status.previousModels.enumerated() {
            lines.append("previous model \(index + 1):")
            lines += modelLines(model)
        }
        let counters = status.counters
        lines.append("counters:")
        let errors = counters.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines += aligned(Counters.Total.allCases.map { total in
            (total.rawValue.replacingOccurrences(of: "_", with: " "), "\(counters[total])")
        } + [("errors", errors.isEmpty ? "none" : errors.joined(separator: ", "))], indent: "  ")
        return lines
    }

    static func modelLines(_ model: ModelInfo) -> [String] {
        let shape = model.shape
        return aligned([
            ("sha256", model.sha256),
            ("path", model.path ?? "(the model embedded in lstmd)"),
            ("shape", "input \(shape.inputSize), hidden \(shape.hiddenSize), layers \(shape.layers), classes \(shape.classes)"),
            ("sequence", model.sequenceLength.map { "\($0) rows" } ?? "ends on LAST"),
            ("input scale", "\(model.inputScale)"),
            ("labels", model.labels.joined(separator: " ")),
            ("loaded at", model.loadedAt),
            ("live streams", "\(model.liveStreams)"),
        ], indent: "  ")
    }
}

struct Streams: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the daemon's live streams.",
        discussion: """
            Asks for the streams a page at a time (the control protocol's cursor) and prints them \
            sorted by id; with --json, each page's reply on a line of its own.

            Example: lstm-client streams --control tcp://127.0.0.1:5557
            """)

    @OptionGroup var options: ControlOptions

    func run() throws {
        if options.json {
            try options.client().forEachStreamsPage { _, json in emit(String(decoding: json, as: UTF8.self)) }
        } else {
            show(try options.client().allStreams())
        }
    }

    private func show(_ streams: [StreamInfo]) {
        let rows = streams.map { info in
            [info.id.string, "\(info.nextRow)", info.sequence.map(String.init) ?? "-",
             String(format: "%.2f", info.idleSeconds), String(info.model.prefix(12))]
        }
        let header = ["STREAM", "NEXT ROW", "SEQUENCE", "IDLE S", "MODEL"]
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            emit(row.enumerated().map { column, cell in
                column == 0 || column == 4
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  "))
        }
        emit("(\(streams.count) live stream\(streams.count == 1 ? "" : "s"))")
    }
}

struct Drop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drop a live stream; its subscribers get ERROR dropped.",
        discussion: "Under CURVE this needs an admin key. Example: lstm-client drop host/42/7")

    @OptionGroup var options: ControlOptions

    @Argument(help: ArgumentHelp("The stream id.", valueName: "id"))
    var id: String

    func validate() throws { _ = try streamID(id, option: "drop") }

    func run() throws {
        try options.perform(.drop(stream: try streamID(id, option: "drop"))) { exchange in
            guard case .drop(let reply) = exchange.reply else { return }
            emit("dropped \(reply.stream.debugDescription) (it expected row \(reply.nextRow))")
        }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a model for new streams; live streams finish on theirs.",
        discussion: "The path must be inside the daemon's model directory (model-dir; relative names are resolved there); without one the configured model is read again. Under CURVE this needs an admin key. Example: lstm-client reload mnist-256.safetensors")

    @OptionGroup var options: ControlOptions

    @Argument(help: ArgumentHelp("Model file as the daemon sees it. (default: the current model's file, again)", valueName: "model"))
    var model: String?

    func validate() throws {
        if let model, model.isEmpty { throw ValidationError("the model path must not be empty") }
    }

    func run() throws {
        try options.perform(.reload(model: model)) { exchange in
            guard case .reload(let reply) = exchange.reply else { return }
            emit("model:")
            Status.modelLines(reply.model).forEach(emit)
            emit("previous models: \(reply.previousModels.count)")
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the daemon answers, and how fast.",
        discussion: "Example: lstm-client ping --timeout 1 || echo \"lstmd is down\"")

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.perform(.ping) { exchange in
            guard case .ping(let reply) = exchange.reply else { return }
            let milliseconds = exchange.roundTripSeconds * 1000
            emit("pong from \(options.endpoints.control): protocol \(reply.protocolVersion), up \(formatDuration(reply.uptimeSeconds)), "
                 + "round trip \(String(format: "%.3f", milliseconds)) ms")
        }
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's counters in the Prometheus text format.",
        discussion: "Example: lstm-client metrics | grep lstmd_rows_applied_total")

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.perform(.metrics) { exchange in
            guard case .metrics(let reply) = exchange.reply else { return }
            FileHandle.standardOutput.write(Data(reply.metrics.utf8))
        }
    }
}
