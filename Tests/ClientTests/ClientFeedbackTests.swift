import DaemonTestSupport
import Foundation
import Testing

/// What a client says when something does not answer.
@Suite struct ClientFeedbackTests {
    @Test func aMissingDaemonIsReportedAfterTheOneSecondProbeNamingTheEndpoint() throws {
        let nobody = "ipc://\(NSTemporaryDirectory())lstmd-nobody-\(UUID().uuidString.prefix(8))"
        for command in [["classify", "--plain"], ["eval", "--limit", "2"], ["bench", "--duration", "1"]] {
            let run = try runClient(command + ["--control", nobody], seconds: 30)
            #expect(run.status != 0)
            #expect(run.stderr.contains("lstmd not reachable at \(nobody) (no reply within 1 s)"), "\(command): \(run.stderr)")
        }
    }

    @Test func aWrongIngestEndpointIsNamedWhenNoPredictionComes() throws {
        let served = try ModelDaemon(try makeModel())
        let nowhere = "ipc://\(NSTemporaryDirectory())lstmd-nowhere-\(UUID().uuidString.prefix(8))"
        let run = try runClient(["classify", "--plain", "--timeout", "1"] + served.endpoints + ["--ingest", nowhere])
        #expect(run.status != 0)
        #expect(run.stderr.contains("on \(served.daemon.predictions) within 1 s (its rows went to \(nowhere)"), "\(run.stderr)")
    }

    @Test func watchSaysWhenNothingArrives() throws {
        let served = try ModelDaemon(try makeModel())
        let run = try runClient(["watch", "--timeout", "4"] + served.endpoints, seconds: 30)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("nothing received from \(served.daemon.predictions) for 3 s; still watching"), "\(run.stderr)")
    }
}
