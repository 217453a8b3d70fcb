import DaemonTestSupport
import Foundation
import LSTMCore
import MNIST
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// `lstm-client` run as a real process against a real `lstmd` on ipc endpoints.
@Suite(.serialized) struct ClientTests {
    /// Gaps between the two top probabilities below this are treated as ties that float rounding
    /// (batched vs single-stream steps) may break either way.
    static let tieMargin: Float = 1e-4

    @Test func classifyPlainPrintsEveryRowAndTheEnginesFinalClass() throws {
        let model = try makeModel()
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let digits = try fixtureDigits()
        let index = 3
        let expected = offlineAnswers(model, digits: digits.prefix(index + 1))[index]
        try #require(expected.finalMargin > Self.tieMargin)

        let run = try runClient(["classify", "--plain", "--index", "\(index)", "--stream", "test/classify"]
                                + daemon.clientEndpoints)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let rowLines = run.lines.filter { $0.hasPrefix("row ") }
        #expect(rowLines.count == 28)
        for (row, line) in rowLines.enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(fields.count >= 6 && fields[1] == "\(row)" && fields[2] == "argmax", "\(line)")
            if expected.margin[row] > Self.tieMargin, fields.count > 3 {
                #expect(fields[3] == "\(expected.argmax[row])", "row \(row): \(line)")
            }
        }
        #expect(rowLines.last?.hasSuffix("FINAL") == true)
        let final = try #require(run.lines.first { $0.hasPrefix("final class ") })
        #expect(final.hasPrefix("final class \(expected.finalClass) "), "\(final)")
        #expect(final.hasSuffix("true \(digits.labels[index])"), "\(final)")
    }

    @Test func classifySendsAPGMFileAndRejectsBadOnes() throws {
        let model = try makeModel(seed: 11)
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let digits = try fixtureDigits()
        let index = 60   // not among the built-in digits
        let expected = offlineAnswers(model, digits: digits)[index]
        try #require(expected.finalMargin > Self.tieMargin)
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        // P5 (raw) with a comment in the header, maxval 255.
        let good = directory.appendingPathComponent("digit.pgm")
        try (Data("P5\n# MNIST test digit 60\n28 28\n255\n".utf8) + Data(digits.image(at: index))).write(to: good)
        let run = try runClient(["classify", "--plain", "--file", good.path] + daemon.clientEndpoints)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let final = try #require(run.lines.first { $0.hasPrefix("final class ") })
        #expect(final.hasPrefix("final class \(expected.finalClass) "), "\(final)")

        // P2 (plain) 27 × 28: wrong size.
        let narrow = directory.appendingPathComponent("narrow.pgm")
        try ("P2\n27 28\n255\n" + Array(repeating: "0", count: 27 * 28).joined(separator: " ")).write(to: narrow, atomically: true, encoding: .utf8)
        let wrongSize = try runClient(["classify", "--plain", "--file", narrow.path] + daemon.clientEndpoints)
        #expect(wrongSize.status != 0)
        #expect(wrongSize.stderr.contains("the image is 27 × 28 pixels; a digit must be 28 × 28"), "\(wrongSize.stderr)")

        // PNG signature: wrong magic.
        let png = directory.appendingPathComponent("digit.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]).write(to: png)
        let wrongMagic = try runClient(["classify", "--plain", "--file", png.path] + daemon.clientEndpoints)
        #expect(wrongMagic.status != 0)
        #expect(wrongMagic.stderr.contains("not a PGM image"), "\(wrongMagic.stderr)")

        // P5 with half of its raster.
        let short = directory.appendingPathComponent("short.pgm")
        try (Data("P5 28 28 255\n".utf8) + Data(repeating: 0, count: 392)).write(to: short)
        let truncated = try runClient(["classify", "--plain", "--file", short.path] + daemon.clientEndpoints)
        #expect(truncated.status != 0)
        #expect(truncated.stderr.contains("truncated: 392 of 784 samples"), "\(truncated.stderr)")
    }

    @Test func evalAccuracyEqualsTheEnginesOfflineResult() throws {
        let model = try makeModel(seed: 3)
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let digits = try fixtureDigits()
        let expected = offlineAnswers(model, digits: digits)
        let expectedCorrect = (0..<digits.count).filter { expected[$0].finalClass == Int(digits.labels[$0]) }.count

        let run = try runClient(["eval", "--json", "--streams", "16",
                                 "--images", Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz").path,
                                 "--labels", Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz").path]
                                + daemon.clientEndpoints)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let report = try jsonObject(try #require(run.lines.last))
        #expect(report["digits"] as? Int == 100)
        #expect(report["model_sha256"] as? String == model.sha256, "the report names the model it measured")
        #expect((report["model_path"] as? String)?.hasSuffix("model.safetensors") == true)
        #expect(report["missing_finals"] as? Int == 0)
        #expect(report["duplicated_finals"] as? Int == 0)
        #expect(report["finals"] as? Int == 100)
        let predictions = try #require(report["predictions"] as? [Any])
        #expect(predictions.count == 100)
        for (index, answer) in expected.enumerated() where answer.finalMargin > Self.tieMargin {
            #expect(predictions[index] as? Int == answer.finalClass, "digit \(index)")
        }
        // Near-ties may go either way; every other digit must agree.
        let ties = expected.filter { $0.finalMargin <= Self.tieMargin }.count
        let correct = try #require(report["correct"] as? Int)
        #expect(abs(correct - expectedCorrect) <= ties, "eval \(correct) correct, offline \(expectedCorrect), \(ties) near-ties")
        // The daemon saw each digit's 28 rows exactly once.
        let counters = try daemon.status().counters
        #expect(counters[.rowsApplied] == 100 * 28)
        #expect(counters[.streamsFinished] == 100)
    }

    @Test(arguments: [[String](), ["--rate", "3000"]])
    func benchAccountsForEveryRow(pacing: [String]) throws {
        let model = try makeModel(seed: 5)
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let run = try runClient(["bench", "--json", "--streams", "8", "--connections", "2", "--duration", "1",
                                 "--drain-timeout", "5"] + pacing + daemon.clientEndpoints)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let report = try jsonObject(try #require(run.lines.last))
        let sent = try #require(report["rows_sent"] as? Int)
        let expected = try #require(report["answers_expected"] as? Int)
        let predictions = try #require(report["predictions"] as? Int)
        let errors = try #require(report["error_answers"] as? Int)
        let lost = try #require(report["lost"] as? Int)
        #expect(sent > 0)
        #expect(expected == sent, "publication partial: one answer per row")
        #expect(sent == predictions + errors + lost)
        #expect(report["accounting_holds"] as? Bool == true)
        let latency = try #require(report["latency_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == predictions + errors)
        // The daemon's own counters agree with the client's.
        let ended = try #require(report["streams_ended"] as? Int)
        let counters = try daemon.status().counters
        #expect(counters[.rowsReceived] == UInt64(sent + ended), "every ingest message, ROW or END")
        #expect(counters[.predictionsPublished] >= UInt64(predictions))
        #expect(counters[.predictionsPublished] == counters[.rowsApplied], "one PARTIAL or FINAL per row; ERRORs apart")
        #expect(counters[.rowsApplied] == UInt64(predictions + lost))
    }

    @Test(arguments: [[String](), ["--router"]])
    func benchShardsStreamsOverSeveralDaemons(transport: [String]) throws {
        let model = try makeModel(seed: 6)
        let served = try (0..<2).map { _ in try ModelDaemon(model) }
        let shards = served.flatMap { ["--shard", [$0.daemon.ingest, $0.daemon.predictions, $0.daemon.control, $0.daemon.results].joined(separator: ",")] }
        let run = try runClient(["bench", "--json", "--streams", "16", "--duration", "1", "--drain-timeout", "5"]
                                + transport + shards)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let report = try jsonObject(try #require(run.lines.last))
        #expect(report["daemons"] as? Int == 2)
        #expect(report["accounting_holds"] as? Bool == true)
        let sent = try #require(report["rows_sent"] as? Int)
        let ended = try #require(report["streams_ended"] as? Int)
        let predictions = try #require(report["predictions"] as? Int)
        // Both daemons took streams (16 × many digits hashed over 2), and between them every message.
        let counters = try served.map { try $0.daemon.status().counters }
        for (n, daemon) in counters.enumerated() { #expect(daemon[.streamsStarted] > 0, "daemon \(n) got no stream") }
        #expect(counters.map { $0[.rowsReceived] }.reduce(0, +) == UInt64(sent + ended))
        #expect(counters.map { $0[.predictionsPublished] }.reduce(0, +) >= UInt64(predictions))
        // A stream's rows all reached one daemon: no stream was refused (not_started, gap) on either.
        for daemon in counters { #expect(daemon.errors.isEmpty, "\(daemon.errors)") }

        let bad = try runClient(["bench", "--shard", "tcp://127.0.0.1", "--duration", "1"])
        #expect(bad.status != 0 && bad.stderr.contains("--shard"), "\(bad.stderr)")
    }

    @Test func watchFiltersByPrefixOrExactStream() throws {
        let model = try makeModel(seed: 9)
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let common = ["watch", "--json", "--timeout", "60"] + daemon.clientEndpoints
        let prefix = try clientProcess(common + ["--stream", "7", "--count", "56"])
        let exact = try clientProcess(common + ["--stream", "7", "--exact", "--count", "28"])
        let everything = try clientProcess(common + ["--count", "84"])
        for watcher in [prefix, exact, everything] { try watcher.waitForStderr(containing: "watching ") }

        for id in ["7", "70", "8"] {
            let run = try runClient(["classify", "--plain", "--stream", id, "--index", "1"] + daemon.clientEndpoints)
            #expect(run.status == 0, "classify \(id): \(run.stderr)")
        }

        func messages(_ watcher: ChildProcess) throws -> [(stream: String, kind: String, row: Int)] {
            let run = try watcher.finish(seconds: 60)
            #expect(run.status == 0, "stderr: \(run.stderr)")
            return try run.lines.map { line in
                let object = try jsonObject(line)
                return (object["stream"] as? String ?? "?", object["kind"] as? String ?? "?", object["row"] as? Int ?? -1)
            }
        }
        let seenByPrefix = try messages(prefix)
        #expect(Set(seenByPrefix.map(\.stream)) == ["7", "70"])
        #expect(seenByPrefix.filter { $0.stream == "70" }.count == 28)
        let seenExactly = try messages(exact)
        #expect(seenExactly.count == 28)
        #expect(Set(seenExactly.map(\.stream)) == ["7"])
        #expect(seenExactly.map(\.row) == Array(0..<28))
        #expect(seenExactly.map(\.kind) == Array(repeating: "partial", count: 27) + ["final"])
        let seenByAll = try messages(everything)
        #expect(Set(seenByAll.map(\.stream)) == ["7", "70", "8"])
    }

    @Test func watchExitsCleanlyOnSIGINT() throws {
        let served = try ModelDaemon(try makeModel())
        let watcher = try clientProcess(["watch", "--timeout", "60"] + served.endpoints)
        try watcher.waitForStderr(containing: "watching ")
        kill(watcher.process.processIdentifier, SIGINT)
        let run = try watcher.finish(seconds: 20)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.exitedNormally)
    }

    @Test func routerPathCarriesClassifyEvalAndBench() throws {
        let fake = try FakeRouterDaemon()
        let digits = try fixtureDigits()
        func lastRowAnswer(_ index: Int) -> Int {
            Int(FakeRouterDaemon.argmax(of: Array(digits.image(at: index).suffix(28))))
        }

        let classify = try runClient(["classify", "--plain", "--router", "--index", "4"] + fake.clientEndpoints)
        #expect(classify.status == 0, "stderr: \(classify.stderr)")
        #expect(classify.lines.filter { $0.hasPrefix("row ") }.count == 28)
        #expect(classify.lines.last?.hasPrefix("final class \(lastRowAnswer(4)) ") == true, "\(classify.stdout)")

        // No --router: eval finds the lossless path by probing it.
        let eval = try runClient(["eval", "--json", "--streams", "8", "--limit", "20"] + fake.clientEndpoints)
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        let report = try jsonObject(try #require(eval.lines.last))
        #expect(report["transport"] as? String == "router")
        #expect(report["finals"] as? Int == 20)
        #expect(report["missing_finals"] as? Int == 0)
        let predictions = try #require(report["predictions"] as? [Any])
        #expect(predictions.compactMap { $0 as? Int } == (0..<20).map(lastRowAnswer))

        let bench = try runClient(["bench", "--json", "--router", "--streams", "4", "--connections", "2",
                                   "--duration", "0.5"] + fake.clientEndpoints)
        #expect(bench.status == 0, "stderr: \(bench.stderr)")
        let benchReport = try jsonObject(try #require(bench.lines.last))
        let sent = try #require(benchReport["rows_sent"] as? Int)
        #expect(sent > 0)
        #expect(benchReport["predictions"] as? Int == sent)
        #expect(benchReport["lost"] as? Int == 0)
    }

    @Test func controlCommandsPrintTheDaemonsState() throws {
        let model = try makeModel()
        let served = try ModelDaemon(model)
        let daemon = served.daemon
        let status = try runClient(["status"] + daemon.clientEndpoints)
        #expect(status.status == 0, "stderr: \(status.stderr)")
        #expect(status.lines.contains { $0.hasPrefix("publication:") && $0.hasSuffix("partial") })
        #expect(status.lines.contains { $0.contains("sha256:") && $0.hasSuffix(model.sha256) })
        #expect(status.lines.contains { $0.contains("shape:") && $0.contains("hidden 16") && $0.contains("classes 10") })

        let json = try runClient(["status", "--json"] + daemon.clientEndpoints)
        let object = try jsonObject(try #require(json.lines.first))
        #expect(object["ok"] as? Bool == true)
        #expect((object["model"] as? [String: Any])?["sha256"] as? String == model.sha256)

        let ping = try runClient(["ping"] + daemon.clientEndpoints)
        #expect(ping.status == 0)
        #expect(ping.stdout.hasPrefix("pong from \(daemon.control): protocol 2"), "\(ping.stdout)")
        #expect(ping.stdout.contains("round trip"))

        let streams = try runClient(["streams"] + daemon.clientEndpoints)
        #expect(streams.lines.last == "(0 live streams)")
        // Each stream's sequence number; "-" for a version 1 stream, which has none.
        let context = try ZMQContext()
        let push = try ZMQSocket(context, type: .push)
        try push.set(.linger, .zero)
        try push.connect(daemon.ingest)
        let pixels = [UInt8](repeating: 9, count: 28)
        _ = try push.send(IngestMessage.row(0, of: try StreamID("numbered"), sequence: 4_000_000_001, pixels: pixels).frames)
        _ = try push.send(IngestMessage.row(0, of: try StreamID("v1-stream"), sequence: nil, pixels: pixels).frames)
        var listed = try runClient(["streams"] + daemon.clientEndpoints)
        for _ in 0..<50 where listed.lines.last != "(2 live streams)" {
            usleep(20_000)
            listed = try runClient(["streams"] + daemon.clientEndpoints)
        }
        let columns = listed.lines.map { $0.split(separator: " ").map(String.init) }
        #expect(columns.first == ["STREAM", "NEXT", "ROW", "SEQUENCE", "IDLE", "S", "MODEL"], "\(listed.stdout)")
        #expect(columns.dropFirst().first?.prefix(3) == ["numbered", "1", "4000000001"], "\(listed.stdout)")
        #expect(columns.dropFirst(2).first?.prefix(3) == ["v1-stream", "1", "-"], "\(listed.stdout)")

        let drop = try runClient(["drop", "nobody"] + daemon.clientEndpoints)
        #expect(drop.status != 0)
        #expect(drop.stderr.contains("lstmd refused \"drop\": unknown_stream"), "\(drop.stderr)")

        let metrics = try runClient(["metrics"] + daemon.clientEndpoints)
        #expect(metrics.status == 0)
        #expect(metrics.stdout.contains("lstmd_rows_received_total"))
    }

    @Test func unreachableDaemonAndBadEndpointsAreClearErrors() throws {
        let nobody = "ipc://\(NSTemporaryDirectory())lstmd-nobody-\(UUID().uuidString.prefix(8))"
        for command in [["ping"], ["status"], ["classify", "--plain"], ["eval", "--limit", "2"]] {
            let run = try runClient(command + ["--control", nobody, "--timeout", "0.3"], seconds: 30)
            #expect(run.status != 0, "\(command)")
            #expect(run.stderr.contains("lstmd not reachable at \(nobody) (no connection within 0.3 s)"), "\(command): \(run.stderr)")
        }
        let badSyntax = try runClient(["ping", "--control", "tcp://127.0.0.1"])
        #expect(badSyntax.status != 0)
        #expect(badSyntax.stderr.contains("invalid endpoint 'tcp://127.0.0.1' for --control: no port"), "\(badSyntax.stderr)")
        // A --timeout past a day (or not a number) is refused, not turned into a crash.
        for command in [["watch"], ["eval"], ["ping"]] {
            for value in ["1e300", "nan"] {
                let run = try runClient(command + ["--timeout", value])
                #expect(run.status != 0 && run.exitedNormally, "\(command) --timeout \(value)")
                #expect(run.stderr.contains("--timeout must be more than 0 and at most 86400 seconds"), "\(command): \(run.stderr)")
            }
        }
        let badTransport = try runClient(["status", "--ingest", "udp://x:1"])
        #expect(badTransport.status != 0)
        #expect(badTransport.stderr.contains("transport 'udp' is not supported"), "\(badTransport.stderr)")
    }
}
