import DaemonTestSupport
import Foundation
import TestSupport
import Testing
import WireProtocol

/// One notify datagram as the daemon sent it, with when it arrived.
struct Notification {
    let text: String
    let at: Date
}

func collectNotifications(_ listener: DatagramListener, until done: ([Notification]) -> Bool,
                          seconds: Double = 15) -> [Notification] {
    var all: [Notification] = []
    let deadline = Date().addingTimeInterval(seconds)
    while !done(all) && Date() < deadline {
        if let bytes = listener.receive() { all.append(Notification(text: String(decoding: bytes, as: UTF8.self), at: Date())) }
    }
    return all
}

@Suite(.serialized) struct ReadinessTests {
    @Test func notifyMessagesInOrderWithWatchdogAtHalfTheInterval() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let listener = try DatagramListener(abstract: true)
        let daemon = try DaemonProcess(
            arguments: ["--model", path],
            environment: ["NOTIFY_SOCKET": listener.notifySocket, "WATCHDOG_USEC": "400000"],
            directory: directory)
        // READY once sockets are bound and the model loaded, then STATUS and watchdog pings.
        var seen = collectNotifications(listener) { all in all.filter { $0.text == "WATCHDOG=1" }.count >= 6 }
        let texts = seen.map(\.text)
        #expect(texts.first == "READY=1", "READY comes first: \(texts.prefix(3))")
        #expect(texts.contains { $0.hasPrefix("STATUS=") && $0.contains("live streams") })
        let pings = seen.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 6)
        let gaps = zip(pings.dropFirst(), pings).map { $0.timeIntervalSince($1) }.sorted()
        let median = gaps[gaps.count / 2]
        #expect(median > 0.12 && median < 0.35, "pings every half of WATCHDOG_USEC (0.2 s), median \(median)")
        // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        kill(daemon.process.processIdentifier, SIGHUP)
        seen = collectNotifications(listener) { all in
            guard let reloading = all.firstIndex(where: { $0.text.hasPrefix("RELOADING=1") }) else { return false }
            return all[reloading...].contains { $0.text == "READY=1" }
        }
        let reloading = try #require(seen.first { $0.text.hasPrefix("RELOADING=1") })
        let lines = reloading.text.split(separator: "\n")
        #expect(lines.count == 2 && lines[1].hasPrefix("MONOTONIC_USEC="))
        #expect(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)).map { $0 > 0 } == true)
        // SIGTERM: STOPPING=1, and a clean exit.
        kill(daemon.process.processIdentifier, SIGTERM)
        seen = collectNotifications(listener) { all in all.contains { $0.text == "STOPPING=1" } }
        #expect(seen.contains { $0.text == "STOPPING=1" })
        #expect(daemon.stop() == 0)
    }

    @Test func metricsEndpointCountersMoveAsRowsAreSent() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let port = 20_000 + Int(getpid() % 20_000)
        let daemon = try DaemonProcess(arguments: ["--model", path, "--metrics", "127.0.0.1:\(port)"], directory: directory)
        func scrape() throws -> [String: Double] {
            let response = try httpRequest(port: port, path: "/metrics")
            #expect(response.status == 200)
            var values: [String: Double] = [:]
            for line in response.body.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
            }
            return values
        }
        let before = try scrape()
        let client = try TestClient(daemon)
        let digit = try fixtureDigits(1).image(at: 0)
        for r in 0..<28 { try client.send(try row(r, of: "scraped", pixels: digit)) }
        while try client.next(on: "scraped").header.kind != .final {}
        // The HTTP view is refreshed once a second by the loop.
        var after = try scrape()
        for _ in 0..<30 where (after["lstmd_rows_applied_total"] ?? 0) < 28 {
            usleep(100_000)
            after = try scrape()
        }
        #expect((before["lstmd_rows_applied_total"] ?? 0) < 28)
        #expect(after["lstmd_rows_applied_total"] ?? 0 >= 28)
        #expect(after["lstmd_streams_finished_total"] ?? 0 >= 1)
        // The control protocol's `metrics` command gives the same exposition.
        guard case let .metrics(reply) = try daemon.request(.metrics) else {
            Issue.record("metrics reply expected")
            return
        }
        #expect(reply.metrics.contains("lstmd_rows_applied_total"))
        #expect(daemon.stop() == 0)
    }
}
