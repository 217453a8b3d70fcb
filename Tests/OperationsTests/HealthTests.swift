import DaemonTestSupport
import Foundation
import Logging
import LSTMServer
import Testing

@Suite struct HealthTests {
    @Test func readinessFollowsThePhasesAndAStalledLoopIsDead() {
        let readiness = Readiness(stallSeconds: 10)
        let second: UInt64 = 1_000_000_000
        #expect(HealthEndpoints.response(path: "/healthz", readiness: readiness, now: 5 * second)! == (200, "ok\n"))
        #expect(HealthEndpoints.response(path: "/readyz", readiness: readiness, now: 5 * second)!.status == 503)
        readiness.enter(.serving, now: 10 * second)
        #expect(HealthEndpoints.response(path: "/readyz", readiness: readiness, now: 11 * second)! == (200, "ok\n"))
        readiness.beat(now: 15 * second)
        #expect(HealthEndpoints.response(path: "/healthz", readiness: readiness, now: 24 * second)!.status == 200)
        let stalled = HealthEndpoints.response(path: "/healthz", readiness: readiness, now: 40 * second)!
        #expect(stalled == (503, "the serving loop has not turned for 25 s\n"))
        #expect(HealthEndpoints.response(path: "/readyz", readiness: readiness, now: 40 * second)!.status == 503)
        readiness.enter(.draining, now: 41 * second)
        #expect(HealthEndpoints.response(path: "/readyz", readiness: readiness, now: 41 * second)! == (503, "draining: stopping\n"))
        #expect(HealthEndpoints.response(path: "/healthz", readiness: readiness, now: 90 * second)!.status == 200,
                "a draining loop is not watched for stalls")
        #expect(HealthEndpoints.response(path: "/metrics", readiness: readiness) == nil)
    }

    @Test func aServingDaemonAnswersBothProbes() throws {
        // A port apart from the other daemon tests' (20000 + pid % 20000); another one if it is taken.
        var started: (DaemonProcess, Int)?
        for attempt in 0..<5 where started == nil {
            let port = 40_000 + (Int(getpid()) + attempt * 7_919) % 20_000
            started = (try? DaemonProcess(arguments: ["--metrics", "127.0.0.1:\(port)"])).map { ($0, port) }
        }
        let (daemon, port) = try #require(started, "no free port for the metrics listener")
        for path in ["/healthz", "/readyz"] {
            let answer = try httpRequest(port: port, path: path)
            #expect(answer.status == 200 && answer.body == "ok\n", "\(path): \(answer)")
        }
        #expect(try httpRequest(port: port, path: "/health").status == 404)
        #expect(daemon.stop() == 0)
    }
}
