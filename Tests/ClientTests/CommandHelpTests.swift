import DaemonTestSupport
import Foundation
import TestSupport
import Testing

/// Every command of the three executables explains itself with an example (`--help`).
@Suite struct CommandHelpTests {
    static func help(_ executable: String, _ arguments: [String]) throws -> String {
        let run = try runProcess(Fixtures.productsDirectory.appendingPathComponent(executable).path, arguments + ["--help"])
        #expect(run.status == 0, "\(executable) \(arguments) --help: \(run.stderr)")
        return run.stdout
    }

    /// The subcommands a help text lists: the first word of each line of its SUBCOMMANDS section
    /// indented by two spaces (deeper lines continue an abstract).
    static func subcommands(in help: String) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: "SUBCOMMANDS:") else { return [] }
        return lines[(start + 1)...].prefix { !$0.isEmpty }
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && !$0.hasPrefix("  See ") }
            .map { String($0.dropFirst(2).prefix { $0 != " " }) }
    }

    @Test func everyCommandAndSubcommandHasAnExample() throws {
        for executable in ["lstm-client", "lstm-train"] {
            let top = try Self.help(executable, [])
            #expect(top.contains("Example"), "\(executable) --help:\n\(top)")
            let subcommands = Self.subcommands(in: top)
            #expect(subcommands.count >= 5, "\(executable) lists its subcommands: \(subcommands)")
            for subcommand in subcommands {
                let text = try Self.help(executable, [subcommand])
                #expect(text.contains("Example"), "\(executable) \(subcommand) --help:\n\(text)")
            }
        }
        let daemon = try Self.help("lstmd", [])
        #expect(daemon.contains("Example"), "lstmd --help:\n\(daemon)")
    }
}
