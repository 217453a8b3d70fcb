import DaemonTestSupport
import Foundation
import Testing

/// `lstm-client keygen` and the client's --server-key/--key against a real lstmd with CURVE.
@Suite struct CurveClientTests {
    @Test func keygenKeysServeTheClientAndOnlyTheAdminReloads() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        var publicKeys: [String: String] = [:]
        for name in ["lstmd", "admin", "alice"] {
            let run = try runClient(["keygen", "--out", directory.appendingPathComponent(name).path])
            #expect(run.status == 0, "\(run.stderr)")
            publicKeys[name] = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let pub = try String(contentsOf: directory.appendingPathComponent("\(name).pub"), encoding: .utf8)
            #expect(publicKeys[name]?.count == 40 && pub.hasPrefix(publicKeys[name]!), "\(pub)")
        }
        let again = try runClient(["keygen", "--out", directory.appendingPathComponent("alice").path])
        #expect(again.status != 0 && again.stderr.contains("refusing to overwrite"), "\(again.stderr)")

        let file = directory.appendingPathComponent("model.safetensors")
        try makeModel().write(to: file)
        let path = { (name: String) in directory.appendingPathComponent(name).path }
        let daemon = try DaemonProcess(arguments: [
            "--model", file.path, "--curve-secret-key", path("lstmd.key"),
            "--curve-authorized-keys", path("alice.pub"), "--curve-admin-keys", path("admin.pub"),
        ], directory: directory, waitUntilReady: false)
        defer { daemon.stop() }
        func client(_ name: String?) -> [String] {
            daemon.clientEndpoints + (name.map { ["--server-key", path("lstmd.pub"), "--key", path("\($0).key")] } ?? [])
        }
        var ready = false
        for _ in 0..<50 where !ready && daemon.process.isRunning {
            ready = try runClient(["ping", "--timeout", "0.3"] + client("admin")).status == 0
        }
        try #require(ready, "lstmd with CURVE never answered:\n\(daemon.log)")

        let alice = try runClient(["status"] + client("alice"))
        #expect(alice.status == 0, "\(alice.stderr)")
        let forbidden = try runClient(["reload"] + client("alice"))
        #expect(forbidden.status != 0 && forbidden.stderr.contains("forbidden"), "\(forbidden.stderr)")
        let admin = try runClient(["reload"] + client("admin"))
        #expect(admin.status == 0, "\(admin.stderr)")
        let plain = try runClient(["ping", "--timeout", "0.5"] + client(nil))
        #expect(plain.status != 0 && plain.stderr.contains("not reachable"), "\(plain.stderr)")
        let halfConfigured = try runClient(["ping", "--server-key", path("lstmd.pub")] + daemon.clientEndpoints)
        #expect(halfConfigured.status != 0 && halfConfigured.stderr.contains("--server-key and --key go together"))
        // Rows and predictions cross CURVE sockets: PUSH + SUB (classify, bench), DEALER (eval finds
        // the results path), and a watcher's SUB hears classify's stream; a stranger's hears nothing.
        let watcher = try clientProcess(["watch", "--json", "--stream", "curve/", "--count", "28", "--timeout", "60"] + client("alice"))
        let eavesdropper = try clientProcess(["watch", "--timeout", "8"] + daemon.clientEndpoints)
        for watching in [watcher, eavesdropper] { try watching.waitForStderr(containing: "watching ") }
        let classify = try runClient(["classify", "--plain", "--index", "0", "--stream", "curve/0"] + client("alice"))
        #expect(classify.status == 0 && classify.stdout.contains("final class"), "\(classify.stderr)")
        let watched = try watcher.finish(seconds: 60)
        #expect(watched.status == 0 && watched.lines.count == 28, "\(watched.stderr)")
        #expect(watched.lines.last.map { (try? jsonObject($0))?["kind"] as? String } == "final", "\(watched.stdout)")
        let eval = try runClient(["eval", "--limit", "5", "--streams", "2"] + client("alice"))
        #expect(eval.status == 0, "\(eval.stderr)")
        let bench = try runClient(["bench", "--json", "--streams", "4", "--duration", "0.5"] + client("alice"))
        let report = try jsonObject(try #require(bench.lines.last, "\(bench.stderr)"))
        #expect(bench.status == 0 && report["accounting_holds"] as? Bool == true && report["lost"] as? Int == 0, "\(bench.stdout)")
        #expect((report["predictions"] as? Int ?? 0) > 0)
        let overheard = try eavesdropper.finish(seconds: 30)
        #expect(overheard.status == 0 && overheard.stdout.isEmpty, "a plain SUB heard: \(overheard.stdout)")
    }
}

