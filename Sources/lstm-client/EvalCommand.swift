import ArgumentParser
import Foundation
import LSTMClientKit
import WireProtocol

/// Classifies test digits through the daemon with many concurrent streams.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify MNIST test digits through the daemon: accuracy, lost FINALs, throughput.",
        discussion: """
            Streams the digits with --streams concurrent streams, their rows interleaved, each \
            stream sending its next row when the previous row's prediction arrived. Reports \
            accuracy, FINALs missing or duplicated (both must be 0; the exit status is 1 \
            otherwise), and throughput.

            Transport: the lossless DEALER/ROUTER path (--results) when --router is given or when \
            the daemon answers on it (probed with an END for a stream that does not exist); \
            otherwise PUSH + PUB/SUB, which is best effort: FINALs it drops are listed. No \
            prediction at all within --timeout of the first row (a wrong --ingest, say) stops the \
            run with an error naming the endpoints.

            Examples:
              lstm-client eval --limit 1000 --streams 64
              lstm-client eval --data /srv/mnist --json
            """)

    @OptionGroup var endpoints: EndpointOptions
    @OptionGroup var source: DigitSourceOptions

    @Option(help: ArgumentHelp("Streams in flight at once.", valueName: "n"))
    var streams = 64

    @Option(help: ArgumentHelp("Classify only the first N digits. (default: all)", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Sockets to spread the streams over.", valueName: "k"))
    var connections = 1

    @Flag(help: "Use the lossless DEALER/ROUTER path (--results).")
    var router = false

    @Flag(help: "Use PUSH + PUB/SUB without probing for the DEALER/ROUTER path.")
    var pub = false

    @Option(help: ArgumentHelp("Seconds to wait for a control reply, and for a row's prediction before it counts as lost.", valueName: "seconds"))
    var timeout: Double = 5

    @Flag(help: "Print the report as one JSON object (with every digit's predicted class).")
    var json = false

    func validate() throws {
        if streams < 1 { throw ValidationError("--streams must be at least 1") }
        if connections < 1 { throw ValidationError("--connections must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if router && pub { throw ValidationError("give --router or --pub, not both") }
        try checkTimeout(timeout)
    }

    func run() throws {
        Interrupts.install()
        let curve = try endpoints.curve()
        let model = try ServingModel.probe(endpoints.control, timeout: timeout, curve: curve)
        let (digits, origin) = try source.load()
        let count = min(limit ?? digits.count, digits.count)
        let transport: Transport = router ? .router
            : pub ? .pubsub
            : DaemonClient.answersOnLosslessPath(endpoints.daemon, curve: curve, timeout: 0.5) ? .router : .pubsub
        let prefix = "\(DaemonClient.hostAndProcess)/eval-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))/"
        _ = try streamID(prefix, option: "the stream prefix")
        let plan = TrafficPlan(
            transport: transport, daemons: [endpoints.daemon], curve: curve, concurrentStreams: min(streams, count), connections: connections,
            pacing: .closedLoop, publication: model.publication, digits: digits, imageCount: count, duration: nil,
            drainTimeout: timeout, stallTimeout: timeout, streamPrefix: prefix)
        let result = try TrafficRunner(plan: plan).run()

        let correct = (0..<count).filter { result.finalArgmax[$0].map { Int($0) } == Int(digits.labels[$0]) }.count
        let missing = (0..<count).filter { result.finalArgmax[$0] == nil }
        let finals = count - missing.count
        let report = EvalReport(
            model: model.name, modelSHA256: model.sha256, modelPath: model.path, digits: count, source: origin, transport: transport, streams: plan.concurrentStreams, connections: connections,
            correct: correct, accuracy: finals > 0 ? Double(correct) / Double(finals) : 0,
            finals: finals, missingFinals: missing.count, duplicatedFinals: result.duplicateFinals,
            errors: result.errorsByCode, rowsSent: result.rowsSent, lostPredictions: result.lost,
            seconds: result.elapsedSeconds,
            digitsPerSecond: Double(finals) / max(result.elapsedSeconds, 1e-9),
            rowsPerSecond: Double(result.rowsSent) / max(result.elapsedSeconds, 1e-9),
            interrupted: result.interrupted,
            predictions: result.finalArgmax.map { $0.map(Int.init) }, missingDigits: missing)
        if json {
            emit(Watch.jsonLine(report))
        } else {
            report.lines.forEach(emit)
        }
        if !missing.isEmpty || result.duplicateFinals > 0 || !result.errorsByCode.isEmpty || result.interrupted {
            throw ExitCode.failure
        }
    }
}

/// The outcome of `eval`, printed for people or as JSON.
struct EvalReport: Encodable {
    /// The model measured, as `status` named it when the run began.
    var model: String
    var modelSHA256: String
    var modelPath: String?
    var digits: Int
    var source: String
    var transport: Transport
    var streams: Int
    var connections: Int
    var correct: Int
    /// Correct FINALs over FINALs received.
    var accuracy: Double
    var finals: Int
    var missingFinals: Int
    var duplicatedFinals: Int
    var errors: [String: Int]
    var rowsSent: Int
    var lostPredictions: Int
    var seconds: Double
    var digitsPerSecond: Double
    var rowsPerSecond: Double
    var interrupted: Bool
    /// The FINAL's argmax per digit; null where none came.
    var predictions: [Int?]
    var missingDigits: [Int]

    enum CodingKeys: String, CodingKey {
        case modelSHA256 = "model_sha256", modelPath = "model_path"
        case digits, source, transport, streams, connections, correct, accuracy, finals, errors, seconds
        case interrupted, predictions
        case missingFinals = "missing_finals", duplicatedFinals = "duplicated_finals", rowsSent = "rows_sent"
        case lostPredictions = "lost_predictions", digitsPerSecond = "digits_per_second"
        case rowsPerSecond = "rows_per_second", missingDigits = "missing_digits"
    }

    var lines: [String] {
        var lines = ["eval: \(digits) digits (\(source)), \(streams) streams over \(connections) connection\(connections == 1 ? "" : "s"), \(transport.name)"]
        let errorList = errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines += aligned([
            ("model", model),
            ("accuracy", String(format: "%.2f%% (%d of %d FINALs correct)", accuracy * 100, correct, finals)),
            ("finals", "\(finals) received, \(missingFinals) missing, \(duplicatedFinals) duplicated"),
            ("errors", errorList.isEmpty ? "none" : errorList.joined(separator: ", ")),
            ("throughput", String(format: "%.1f digits/s, %.0f rows/s (%d rows in %.3f s)", digitsPerSecond, rowsPerSecond, rowsSent, seconds)),
        ])
        if !missingDigits.isEmpty {
            let shown = missingDigits.prefix(20).map(String.init).joined(separator: ", ")
            let why = transport == .pubsub ? "dropped on PUB/SUB or by the daemon" : "not answered by the daemon"
            lines.append("missing FINALs (\(why)): digits \(shown)" + (missingDigits.count > 20 ? ", …" : ""))
        }
        if interrupted { lines.append("interrupted: the report covers the digits sent before the signal") }
        return lines
    }
}
