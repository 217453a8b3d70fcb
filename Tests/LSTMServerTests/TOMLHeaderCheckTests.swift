import Foundation
import LSTMServer
import Testing
import TestSupport

/// fuzz-config found that a config file of two bytes, `[#`, aborts lstmd at start: toml++ (inside
/// TOMLKit) asserts on a table name that starts with a character no key can start with.
@Suite struct TOMLHeaderCheckTests {
    @Test func headersTomlPlusPlusCannotSurviveAreFound() {
        for (text, line) in [("[#", 1), ("publish = \"final\"\n[ =x]", 2), ("[[\n", 1), ("  [\t", 1), ("[\r\n", 1),
                             ("a = 1\r\n[[ .b]]", 2), ("[\u{e9}t\u{e9}]", 1)] {
            let problem = TOMLHeaderCheck.problem(in: text)
            #expect(problem?.hasPrefix("line \(line): ") == true, "\(text.debugDescription): \(String(describing: problem))")
        }
        for text in ["", "[server]\nport = 1", "[[ 'x' ]]", "[\"a b\".c]", "  [ -x ]", "[]", "a = [1,\n 2]\n# [#",
                     "metrics = \"127.0.0.1:9464\"\n"] {
            #expect(TOMLHeaderCheck.problem(in: text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func theShippedConfigPasses() throws {
        let text = try String(contentsOf: Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Systemd/lstmd.toml"), encoding: .utf8)
        #expect(TOMLHeaderCheck.problem(in: text) == nil)
    }

    /// toml++ aborts the process on a malformed table header such as `[#`: lstmd must refuse the file
    /// with an error instead (found by fuzz-config).
    @Test func aConfigOfTwoBytesDoesNotAbortTheDaemon() throws {
        let lstmd = Fixtures.productsDirectory.appendingPathComponent("lstmd")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-bad-header-\(getpid()).toml")
        try Data("[#".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try ChildProcess(lstmd, ["--config", file.path, "--ingest", "inproc://i", "--predictions", "inproc://p",
                                              "--control", "inproc://c", "--results", "none"],
                                      setting: ["SWIFT_BACKTRACE": "enable=no"]).finish(seconds: 30)
        #expect(result.exitedNormally && result.status != 0, "lstmd must exit with an error, not a signal")
        #expect(result.stderr.contains("is not valid"), "\(result.stderr)")
    }
}
