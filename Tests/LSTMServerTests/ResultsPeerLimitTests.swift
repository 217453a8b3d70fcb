import DaemonTestSupport
import Foundation
import TestSupport
import Testing
import WireProtocol

/// Issue 13: `max-results-peers` bounds the DEALER clients of the results path, so its memory is
/// bounded in total, not only per peer (120 DEALERs that never read took RSS from 27 to 361 MiB).
@Suite(.serialized) struct ResultsPeerLimitTests {
    @Test func aDealerPastTheLimitGetsNothingAndOneThatLeavesFreesItsPlace() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--max-results-peers", "3"], directory: directory)
        let digits = try fixtureDigits(1)
        func served(_ client: ResultsClient, _ stream: String, row r: Int, milliseconds: Int = 5000) throws -> Bool {
            try client.send(try row(r, of: stream, pixels: digits.image(at: 0)))
            guard let answer = try client.receive(timeoutMilliseconds: milliseconds) else { return false }
            return answer.topic == stream && Int(answer.header.row) == r
        }
        var clients = try (0..<3).map { _ in try ResultsClient(daemon) }
        for (i, client) in clients.enumerated() { #expect(try served(client, "peer-\(i)", row: 0), "DEALER \(i) is served") }

        let extra = try ResultsClient(daemon)
        #expect(try !served(extra, "extra", row: 0, milliseconds: 1500), "a fourth DEALER gets nothing")
        #expect(daemon.logContains("results client refused: max-results-peers reached"), "\(daemon.log)")
        #expect(daemon.log.contains("max_results_peers=3"))
        for (i, client) in clients.enumerated() { #expect(try served(client, "peer-\(i)", row: 1), "DEALER \(i) is still served") }

        // One leaves: a client that connects again takes its place (each attempt that gets nothing
        // within a second is closed and a new one made, as libzmq does not retry a refused one).
        clients.removeFirst().dealer.close()
        var newcomer: ResultsClient?
        for attempt in 0..<10 where newcomer == nil {
            let client = try ResultsClient(daemon)
            if try served(client, "newcomer-\(attempt)", row: 0, milliseconds: 1000) { newcomer = client } else { client.dealer.close() }
        }
        #expect(newcomer != nil, "a DEALER that disconnects frees its place")
        for (i, client) in clients.enumerated() { #expect(try served(client, "peer-\(i + 1)", row: 2), "DEALER \(i + 1) is still served") }
        #expect(try extra.receive(timeoutMilliseconds: 500) == nil, "the refused DEALER still gets nothing")
        #expect(daemon.stop() == 0)
    }
}
