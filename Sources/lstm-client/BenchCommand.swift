import ArgumentParser
import Foundation
import Histogram
import LSTMClientKit
import WireProtocol

/// A load generator: many streams of digits, closed or open loop, for a bounded time.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the daemon with concurrent streams and measure throughput and latency.",
        discussion: """
            Closed loop by default: each stream sends its next row when the previous row's \
            prediction arrived. With --rate, open loop: rows leave at that total rate, round robin \
            over the streams, whatever the replies; latency is then measured from each row's \
            scheduled time. Sends for --duration seconds, then waits up to --drain-timeout for the \
            answers still due; streams cut off are ENDed. Every answer due is accounted for: \
            answers due = predictions + errors + lost (in 'partial' publication mode one answer is \
            due per row sent). Latency (row sent → its prediction) is recorded in an HdrHistogram. \
            A daemon that answers nothing at all within --timeout of its first answer due (a wrong \
            --ingest, say) stops the run with an error naming its endpoints (exit status 1). The \
            report names the model each daemon served.

            K --connections are K PUSH sockets and one SUB, or K DEALERs with --router.

            --shard (repeated) spreads the streams over several daemons instead of the one of the \
            endpoint options: each stream goes to the daemon that rendezvous hashing of its id \
            picks (Protocols/rendezvous.md), with K connections (and a SUB) per daemon.

            Examples:
              lstm-client bench --streams 64 --duration 10
              lstm-client bench --streams 1024 --router --rate 200000
            """)

    @OptionGroup var endpoints: EndpointOptions
    @OptionGroup var source: DigitSourceOptions

    @Option(help: ArgumentHelp("Streams in flight at once.", valueName: "n"))
    var streams = 64

    @Option(name: .customLong("shard"), help: ArgumentHelp(
        "A daemon to spread streams over (repeat for each): INGEST,PREDICTIONS,CONTROL,RESULTS, or tcp://HOST:PORT for its endpoints on PORT…PORT+3. Replaces the endpoint options.",
        valueName: "endpoints"))
    var shards: [String] = []

    @Option(help: ArgumentHelp("Open loop: rows per second, in total. (default: closed loop)", valueName: "rows/s"))
    var rate: Double?

    @Option(help: ArgumentHelp("Seconds of sending.", valueName: "seconds"))
    var duration: Double = 10

    @Option(help: ArgumentHelp("Sockets to spread the streams over.", valueName: "k"))
    var connections = 1

    @Flag(help: "Use the lossless DEALER/ROUTER path (--results).")
    var router = false

    @Option(name: .customLong("drain-timeout"), help: ArgumentHelp("Seconds to wait for answers after sending stops.", valueName: "seconds"))
    var drainTimeout: Double = 5

    @Option(help: ArgumentHelp("Seconds to wait for a control reply, and for a daemon's first prediction; closed loop: for a row's prediction before it counts as lost.", valueName: "seconds"))
    var timeout: Double = 5

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        if streams < 1 { throw ValidationError("--streams must be at least 1") }
        if connections < 1 { throw ValidationError("--connections must be at least 1") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number of rows per second") }
        if !(duration > 0 && duration <= 86_400) { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        if !(drainTimeout >= 0 && drainTimeout <= 3600) { throw ValidationError("--drain-timeout must be 0 to 3600 seconds") }
        try checkTimeout(timeout)
        let names = try shards.map { try shardDaemon($0).name }
        if Set(names).count != names.count { throw ValidationError("--shard names a daemon twice") }
    }

    func run() throws {
        Interrupts.install()
        let curve = try endpoints.curve()
        let daemons = shards.isEmpty ? [endpoints.daemon] : try shards.map(shardDaemon)
        let models = try daemons.map { daemon in try ServingModel.probe(daemon.control, timeout: timeout, curve: curve) }
        let model = models[0]
        if let other = models.firstIndex(where: { $0.publication != model.publication }) {
            throw CommandError.invalidArgument("the daemons publish differently: \(daemons[0].control) '\(model.publication)', \(daemons[other].control) '\(models[other].publication)'")
        }
        let (digits, _) = try source.load()
        let prefix = "\(DaemonClient.hostAndProcess)/bench-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))/"
        _ = try streamID(prefix, option: "the stream prefix")
        let plan = TrafficPlan(
            transport: router ? .router : .pubsub, daemons: daemons, curve: curve, concurrentStreams: streams,
            connections: connections, pacing: rate.map { .openLoop(rowsPerSecond: $0) } ?? .closedLoop,
            publication: model.publication, digits: digits, imageCount: nil, duration: duration,
            drainTimeout: drainTimeout, stallTimeout: timeout, streamPrefix: prefix)
        let serverSide = ServerSideSplit.Recorder(clients: try daemons.map {
            try ControlClient(endpoint: $0.control, timeout: timeout, curve: curve)
        })
        let result = try TrafficRunner(plan: plan).run()
        var report = BenchReport(plan: plan, result: result, models: zip(daemons, models).map { daemon, model in
            BenchReport.MeasuredModel(daemon: daemon.control, sha256: model.sha256, path: model.path, name: model.name)
        })
        report.serverSide = serverSide.finish()
        if json {
            emit(Watch.jsonLine(report))
        } else {
            report.lines.forEach(emit)
        }
        if !report.accountingHolds { throw ExitCode.failure }
    }
}

/// The outcome of `bench`.
struct BenchReport: Encodable {
    var transport: Transport
    var mode: String
    var targetRowsPerSecond: Double?
    var streams: Int
    var connections: Int
    /// Daemons the streams were spread over (`--shard`), 1 without.
    var daemons: Int
    /// The model each daemon served, as `status` named it when the run began: one per daemon.
    var models: [MeasuredModel]
    var publication: String
    var seconds: Double
    var rowsSent: Int
    var answersExpected: Int
    var predictions: Int
    var errorAnswers: Int
    var errors: [String: Int]
    var lost: Int
    var unexpected: Int
    var undecodable: Int
    var digitsFinished: Int
    var streamsEnded: Int
    var rowsPerSecond: Double
    var digitsPerSecond: Double
    var latencyMilliseconds: Latency?
    var interrupted: Bool
    /// `answersExpected == predictions + errorAnswers + lost`.
    var accountingHolds: Bool
    /// The daemons' histograms over the run, or why they could not be read.
    var serverSide: ServerSide?

    struct MeasuredModel: Encodable {
        /// The daemon's control endpoint.
        var daemon: String
        var sha256: String
        /// The model's file; nil (left out) for the daemon's embedded model.
        var path: String?
        /// `sha256-prefix path`, as reports name a model (`ServingModel.name`).
        var name: String

        enum CodingKeys: String, CodingKey { case daemon, sha256, path }
    }

    struct Latency: Encodable {
        var count: UInt64
        var mean: Double
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double

        enum CodingKeys: String, CodingKey {
            case count, mean, p50, p90, p99, max
            case p999 = "p99_9"
        }
    }

    init(plan: TrafficPlan, result: TrafficResult, models: [MeasuredModel]) {
        self.models = models
        transport = plan.transport
        if case .openLoop(let rate) = plan.pacing {
            mode = "open"
            targetRowsPerSecond = rate
        } else {
            mode = "closed"
        }
        streams = plan.concurrentStreams
        connections = plan.connections
        daemons = plan.daemons.count
        publication = plan.publication.rawValue
        seconds = result.elapsedSeconds
        rowsSent = result.rowsSent
        answersExpected = result.answersExpected
        predictions = result.predictions
        errorAnswers = result.errorAnswers
        errors = result.errorsByCode
        lost = result.lost
        unexpected = result.unexpected
        undecodable = result.undecodable
        digitsFinished = result.digitsFinished
        streamsEnded = result.streamsEnded
        let elapsed = max(result.elapsedSeconds, 1e-9)
        rowsPerSecond = Double(result.rowsSent) / elapsed
        digitsPerSecond = Double(result.digitsFinished) / elapsed
        let histogram = result.latency
        if histogram.totalCount > 0 {
            func ms(_ microseconds: UInt64) -> Double { Double(microseconds) / 1000 }
            latencyMilliseconds = Latency(
                count: histogram.totalCount, mean: histogram.mean / 1000,
                p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                p99: ms(histogram.valueAtPercentile(99)), p999: ms(histogram.valueAtPercentile(99.9)),
                max: ms(histogram.max))
        }
        interrupted = result.interrupted
        accountingHolds = result.answersExpected == result.predictions + result.errorAnswers + result.lost
    }

    enum CodingKeys: String, CodingKey {
        case transport, mode, streams, connections, daemons, models, publication, seconds, predictions, errors, lost, unexpected
        case undecodable, interrupted
        case targetRowsPerSecond = "target_rows_per_second", rowsSent = "rows_sent"
        case answersExpected = "answers_expected", errorAnswers = "error_answers"
        case digitsFinished = "digits_finished", streamsEnded = "streams_ended"
        case rowsPerSecond = "rows_per_second", digitsPerSecond = "digits_per_second"
        case latencyMilliseconds = "latency_ms", accountingHolds = "accounting_holds"
        case serverSide = "server_side"
    }

    var lines: [String] {
        let pacing = targetRowsPerSecond.map { String(format: "open loop at %.0f rows/s", $0) } ?? "closed loop"
        var lines = ["bench: \(streams) streams over \(connections) connection\(connections == 1 ? "" : "s")\(daemons > 1 ? " to each of \(daemons) daemons" : ""), \(transport.name), \(pacing), publication \(publication)"]
        let errorList = errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let due = publication == "partial" ? "one per row" : "one per digit whose last row was sent"
        let modelPairs = Set(models.map(\.name)).count == 1
            ? [("model", models[0].name + (models.count > 1 ? " (on each of the \(models.count) daemons)" : ""))]
            : models.map { ("model", "\($0.name) at \($0.daemon)") }
        var pairs = modelPairs + [
            ("rows sent", "\(rowsSent)"),
            ("answers due", "\(answersExpected) (\(due))"),
            ("  predictions", "\(predictions)"),
            ("  errors", "\(errorAnswers)"),
            ("  lost", "\(lost)"),
            ("accounting", "\(answersExpected) = \(predictions) + \(errorAnswers) + \(lost) " + (accountingHolds ? "holds" : "DOES NOT HOLD")),
            ("error codes", errorList.isEmpty ? "none" : errorList.joined(separator: ", ")),
            ("unexpected", "\(unexpected) late or unmatched, \(undecodable) undecodable"),
            ("throughput", String(format: "%.0f rows/s, %.1f digits/s over %.3f s", rowsPerSecond, digitsPerSecond, seconds)),
        ]
        if let latency = latencyMilliseconds {
            pairs.append((
                "latency ms",
                String(format: "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f, %llu samples)",
                       latency.p50, latency.p90, latency.p99, latency.p999, latency.max, latency.mean, latency.count)))
        }
        lines += aligned(pairs)
        if let serverSide { lines += serverSide.lines(clientMeanMilliseconds: latencyMilliseconds?.mean) }
        if streamsEnded > 0 { lines.append("\(streamsEnded) streams cut off by the duration were ENDed") }
        if interrupted { lines.append("interrupted: sending stopped early") }
        return lines
    }
}
