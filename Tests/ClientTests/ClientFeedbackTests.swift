import DaemonTestSupport
import Foundation
import LSTMCore
import Synchronization
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// What a client says when something does not answer, and what it says it measured.
@Suite struct ClientFeedbackTests {
    static func nobody() -> String { "ipc://\(NSTemporaryDirectory())lstmd-nobody-\(UUID().uuidString.prefix(8))" }

    @Test func aMissingDaemonIsReportedAfterTheOneSecondConnectionBoundNamingTheEndpoint() throws {
        let nobody = Self.nobody()
        let commands = [["classify", "--plain"], ["eval", "--limit", "2"], ["bench", "--duration", "1"],
                        ["ping"], ["status"], ["streams"], ["metrics"], ["reload"], ["drop", "some/stream"]]
        for command in commands {
            // The default --timeout (5 s) is for the reply; nobody takes the connection within 1 s.
            let run = try runClient(command + ["--control", nobody], seconds: 15)
            #expect(run.status != 0, "\(command)")
            #expect(run.stderr.contains("lstmd not reachable at \(nobody) (no connection within 1 s)"), "\(command): \(run.stderr)")
        }
    }

    @Test func aConnectedDaemonGetsTheWholeTimeoutForItsReply() throws {
        // A reply after 1.5 s (a reload of a large model takes that long) is still taken.
        let slow = try SlowControlEndpoint(replyAfter: 1.5)
        let answered = try runClient(["ping", "--control", slow.endpoint], seconds: 15)
        #expect(answered.status == 0, "\(answered.stderr)")
        #expect(answered.stdout.hasPrefix("pong from \(slow.endpoint)"), "\(answered.stdout)")
        // No reply at all: reported after --timeout, as a daemon that took the request.
        let silent = try SlowControlEndpoint(replyAfter: nil)
        let unanswered = try runClient(["ping", "--control", silent.endpoint, "--timeout", "2"], seconds: 15)
        #expect(unanswered.status != 0)
        #expect(unanswered.stderr.contains("lstmd at \(silent.endpoint) took the \"ping\" request but sent no reply within 2 s"),
                "\(unanswered.stderr)")
    }

    @Test func aWrongIngestEndpointIsNamedWhenNoPredictionComes() throws {
        let served = try ModelDaemon(try makeModel())
        let nowhere = "ipc://\(NSTemporaryDirectory())lstmd-nowhere-\(UUID().uuidString.prefix(8))"
        let run = try runClient(["classify", "--plain", "--timeout", "1"] + served.endpoints + ["--ingest", nowhere])
        #expect(run.status != 0)
        #expect(run.stderr.contains("on \(served.daemon.predictions) within 1 s (its rows went to \(nowhere)"), "\(run.stderr)")
    }

    @Test func evalAndBenchStopWhenNoPredictionComesAtAllNamingBothEndpoints() throws {
        let served = try ModelDaemon(try makeModel())
        let daemon = served.daemon
        let nowhere = Self.nobody()
        let pubsub = "no prediction at all on \(daemon.predictions) within 1 s of the first one due (the rows went to \(nowhere): check that endpoint too)"
        let runs: [([String], String)] = [
            // Without the check, eval waited --timeout for every row (28 s here) and blamed PUB/SUB.
            (["eval", "--pub", "--limit", "20"] + served.endpoints + ["--ingest", nowhere], pubsub),
            // Without it, bench sent for the whole --duration and reported 100 % lost, exit status 0.
            (["bench", "--duration", "60"] + served.endpoints + ["--ingest", nowhere], pubsub),
            (["bench", "--router", "--duration", "60"] + served.endpoints + ["--results", nowhere],
             "no prediction at all on \(nowhere) within 1 s of the first one due"),
        ]
        for (arguments, message) in runs {
            let run = try runClient(arguments + ["--timeout", "1"], seconds: 30)
            #expect(run.status != 0, "\(arguments)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
        // A run shorter than --timeout that got no prediction at all fails too.
        let short = try runClient(["bench", "--duration", "0.3", "--drain-timeout", "0.2", "--timeout", "5"]
                                  + served.endpoints + ["--ingest", nowhere], seconds: 30)
        #expect(short.status != 0)
        #expect(short.stderr.contains("no prediction at all on \(daemon.predictions) within "), "\(short.stderr)")
        #expect(short.stderr.contains("(the rows went to \(nowhere): check that endpoint too)"), "\(short.stderr)")
    }

    @Test func benchStopsWhenOneShardAnswersNothingAndNamesOnlyThatDaemon() throws {
        let served = try (0..<2).map { _ in try ModelDaemon(try makeModel()) }
        let nowhere = Self.nobody()
        let good = served[0].daemon, bad = served[1].daemon
        let shards = ["--shard", [good.ingest, good.predictions, good.control, good.results].joined(separator: ","),
                      "--shard", [nowhere, bad.predictions, bad.control, bad.results].joined(separator: ",")]
        let run = try runClient(["bench", "--streams", "8", "--duration", "60", "--timeout", "1"] + shards, seconds: 30)
        #expect(run.status != 0)
        #expect(run.stderr.contains("no prediction at all on \(bad.predictions) within 1 s of the first one due (the rows went to \(nowhere)"),
                "\(run.stderr)")
        #expect(!run.stderr.contains(good.predictions), "\(run.stderr)")
    }

    @Test func benchNamesTheModelItMeasured() throws {
        let models = [try makeModel(seed: 21), try makeModel(seed: 22)]
        let served = try models.map { try ModelDaemon($0) }
        let paths = try served.map { try #require(try $0.daemon.status().model.path) }
        #expect(paths[0].hasSuffix("model.safetensors"))

        let text = try runClient(["bench", "--streams", "2", "--duration", "0.3"] + served[0].endpoints)
        #expect(text.status == 0, "\(text.stderr)")
        let modelLines = text.lines.filter { $0.hasPrefix("model:") }.map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) }
        #expect(modelLines == ["\(models[0].sha256.prefix(12)) \(paths[0])"], "\(text.stdout)")

        let json = try runClient(["bench", "--json", "--streams", "2", "--duration", "0.3"] + served[0].endpoints)
        #expect(json.status == 0, "\(json.stderr)")
        let report = try jsonObject(try #require(json.lines.last))
        let measured = try #require(report["models"] as? [[String: Any]], "\(json.stdout)")
        #expect(measured.count == 1)
        #expect(measured.first?["daemon"] as? String == served[0].daemon.control)
        #expect(measured.first?["sha256"] as? String == models[0].sha256)
        #expect(measured.first?["path"] as? String == paths[0])

        // Sharded over two daemons serving different models: one entry, one line, per daemon.
        let shards = served.flatMap { ["--shard", [$0.daemon.ingest, $0.daemon.predictions, $0.daemon.control, $0.daemon.results].joined(separator: ",")] }
        let sharded = try runClient(["bench", "--json", "--streams", "4", "--duration", "0.3"] + shards)
        #expect(sharded.status == 0, "\(sharded.stderr)")
        let shardedReport = try jsonObject(try #require(sharded.lines.last))
        let each = try #require(shardedReport["models"] as? [[String: Any]], "\(sharded.stdout)")
        #expect(each.map { $0["daemon"] as? String } == served.map { $0.daemon.control })
        #expect(each.map { $0["sha256"] as? String } == models.map(\.sha256))
        #expect(each.map { $0["path"] as? String } == paths)
        let shardedText = try runClient(["bench", "--streams", "4", "--duration", "0.3"] + shards)
        #expect(shardedText.lines.filter { $0.hasPrefix("model:") }.count == 2, "\(shardedText.stdout)")
        for (index, daemon) in served.enumerated() {
            #expect(shardedText.lines.contains { $0.hasPrefix("model:") && $0.hasSuffix("\(models[index].sha256.prefix(12)) \(paths[index]) at \(daemon.daemon.control)") },
                    "\(shardedText.stdout)")
        }
    }

    @Test func watchSaysWhenNothingArrives() throws {
        let served = try ModelDaemon(try makeModel())
        let run = try runClient(["watch", "--timeout", "4"] + served.endpoints, seconds: 30)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("nothing received from \(served.daemon.predictions) for 3 s; still watching"), "\(run.stderr)")
    }
}

/// A control endpoint (REP) that answers every request with a ping reply after `replyAfter`
/// seconds, or never (nil): a daemon that is there but slow, or stuck.
final class SlowControlEndpoint: Sendable {
    let endpoint: String
    private let directory: URL
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// 0 while starting, 1 once bound, -1 when binding failed.
    private let ready = Atomic<Int>(0)

    init(replyAfter delay: Double?) throws {
        directory = try DaemonProcess.makeTemporaryDirectory()
        endpoint = "ipc://\(directory.path)/control"
        let thread = Thread { [self] in
            do {
                let rep = try ZMQSocket(try ZMQContext(), type: .rep)
                try rep.set(.linger, .zero)
                try rep.bind(endpoint)
                ready.store(1, ordering: .releasing)
                serve(rep, delay: delay)
            } catch {
                ready.store(-1, ordering: .releasing)
            }
            stopped.store(true, ordering: .releasing)
        }
        thread.start()
        while ready.load(ordering: .acquiring) == 0 { usleep(1000) }
        if ready.load(ordering: .acquiring) < 0 { throw HarnessError("the slow control endpoint could not bind") }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        while !stopped.load(ordering: .acquiring) { usleep(1000) }
        try? FileManager.default.removeItem(at: directory)
    }

    private func serve(_ rep: ZMQSocket, delay: Double?) {
        let poller = ZMQPoller()
        guard let entry = try? poller.add(rep) else { return }
        while !stopping.load(ordering: .acquiring) {
            guard let ready = try? poller.poll(timeout: .milliseconds(20)), ready > 0, poller.isReadable(entry),
                  (try? rep.receiveMultipart(dontWait: true)) != nil else { continue }
            guard let delay else {
                // Holds the request unanswered until the test is done.
                while !stopping.load(ordering: .acquiring) { usleep(10_000) }
                return
            }
            let replyAt = Date().addingTimeInterval(delay)
            while Date() < replyAt && !stopping.load(ordering: .acquiring) { usleep(10_000) }
            _ = try? rep.send([ControlReply.ping(PingReply(uptimeSeconds: 1)).jsonBytes])
        }
    }
}
