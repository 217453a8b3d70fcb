import Foundation
import LSTMServer
import Testing
import TestSupport

/// fuzz-config found config files that abort lstmd at start: toml++ (inside TOMLKit) asserts on a
/// table name such as `[#` and on an array such as `[}`. lstmd's config is flat `key = value`
/// lines, and anything else is refused before TOMLKit sees it.
@Suite struct TOMLSubsetCheckTests {
    @Test func linesOutsideTheSubsetAreFound() {
        for (text, line) in [("[#", 1), ("publish = \"final\"\n[ =x]", 2), ("[[\n", 1), ("  [\t", 1), ("[server]\nport = 1", 1),
                             ("a = 1\r\nb = [}[[[", 2), ("a = { x = 1 }", 1), ("a = [1,\n 2]", 1), ("a = \"\"\"x\"\"\"", 1),
                             ("a =", 1), ("a = # none", 1), ("= 3", 1), ("just words", 1), ("\u{e9}t\u{e9} = 1", 1),
                             ("\"unterminated = 1", 1), ("a = @", 1)] {
            let problem = TOMLSubsetCheck.problem(in: text)
            #expect(problem?.hasPrefix("line \(line): ") == true, "\(text.debugDescription): \(String(describing: problem))")
        }
        for text in ["", "# [#\n", "a = 1", "  a-b_c = \"x # y\"  # comment", "\"quoted key\" = 'literal'", "a=true",
                     "a = -1.5e3\r\n", "a = inf", "a = nan", "a = +7", "metrics = \"127.0.0.1:9464\"\n\n", "\t\n"] {
            #expect(TOMLSubsetCheck.problem(in: text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func theShippedConfigPasses() throws {
        let text = try String(contentsOf: Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Systemd/lstmd.toml"), encoding: .utf8)
        #expect(TOMLSubsetCheck.problem(in: text) == nil)
    }

    /// toml++ aborts the process on such files: lstmd must refuse them with an error instead.
    @Test(arguments: ["[#", "publish = [}[[[[[[[[[[[[[[,"])
    func configsThatAbortedTOMLKitAreRefused(text: String) throws {
        let lstmd = Fixtures.productsDirectory.appendingPathComponent("lstmd")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lstmd-bad-config-\(getpid())-\(text.count).toml")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try ChildProcess(lstmd, ["--config", file.path, "--ingest", "inproc://i", "--predictions", "inproc://p",
                                              "--control", "inproc://c", "--results", "none"],
                                      setting: ["SWIFT_BACKTRACE": "enable=no"]).finish(seconds: 30)
        #expect(result.exitedNormally && result.status != 0, "lstmd must exit with an error, not a signal")
        #expect(result.stderr.contains("is not valid") && result.stderr.contains("line 1"), "\(result.stderr)")
    }
}
