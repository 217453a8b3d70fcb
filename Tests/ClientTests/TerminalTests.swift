import DaemonTestSupport
import Foundation
import TestSupport
import Testing

/// The clients on a real terminal (a pseudo-terminal): progress and colour where the terminal
/// allows them, nothing but text under `TERM=dumb`, no colour under `NO_COLOR` (no-color.org).
@Suite struct TerminalTests {
    static let client = Fixtures.productsDirectory.appendingPathComponent("lstm-client")
    static let trainer = Fixtures.productsDirectory.appendingPathComponent("lstm-train")
    /// A terminal that moves the cursor and shows colour, whatever this test process runs under.
    static let capable: [String: String?] = ["TERM": "xterm-256color", "NO_COLOR": nil, "LSTMD_MNIST_DIR": nil]

    @Test func benchShowsProgressOnATerminalAndOnlyTextUnderTermDumb() throws {
        let served = try ModelDaemon(try makeModel())
        let arguments = ["bench", "--streams", "2", "--duration", "1"] + served.endpoints
        let drawn = try runOnTerminal(Self.client, arguments, environment: Self.capable)
        #expect(drawn.status == 0, "\(drawn.text)")
        #expect(drawn.text.contains("\r\u{1B}[2K"), "a progress line drawn in place: \(drawn.text)")

        var dumb = Self.capable
        dumb["TERM"] = "dumb"
        let plain = try runOnTerminal(Self.client, arguments, environment: dumb)
        #expect(plain.status == 0 && plain.text.contains("rows sent:"), "\(plain.text)")
        #expect(!plain.hasEscapes, "escape sequences under TERM=dumb: \(plain.text.debugDescription)")
    }

    @Test func classifyDrawsInColourOnATerminalAndWritesPlainLinesUnderNoColor() throws {
        let served = try ModelDaemon(try makeModel())
        let arguments = ["classify", "--index", "1", "--row-delay", "0"] + served.endpoints
        let drawn = try runOnTerminal(Self.client, arguments, environment: Self.capable)
        #expect(drawn.status == 0 && drawn.hasColor, "the drawing in colour: \(drawn.text)")

        var noColor = Self.capable
        noColor["NO_COLOR"] = "1"
        let plain = try runOnTerminal(Self.client, arguments, environment: noColor)
        #expect(plain.status == 0 && plain.text.contains("final class"), "\(plain.text)")
        #expect(!plain.hasColor && !plain.hasEscapes, "escape sequences under NO_COLOR: \(plain.text.debugDescription)")

        var dumb = Self.capable
        dumb["TERM"] = "dumb"
        let dumbRun = try runOnTerminal(Self.client, arguments, environment: dumb)
        #expect(dumbRun.status == 0 && !dumbRun.hasEscapes, "escape sequences under TERM=dumb: \(dumbRun.text.debugDescription)")
    }

    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "full MNIST not found: set LSTMD_MNIST_DIR"))
    func sweepShowsWhichModelTrainsOnATerminalAndOnlyTextUnderTermDumb() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["sweep", "--units", "4", "--epochs", "1", "--limit", "512", "--batch-size", "64",
                         "--threads", "1", "--data", Fixtures.mnistDirectory!.path, "--out-dir", directory.path]
        let drawn = try runOnTerminal(Self.trainer, arguments, environment: Self.capable)
        #expect(drawn.status == 0, "\(drawn.text)")
        #expect(drawn.text.contains("\r\u{1B}[2KH = 4 (model 1 of 1): epoch 1/1, batch "), "progress: \(drawn.text.debugDescription)")
        #expect(drawn.text.contains("H =    4: "), "the result line: \(drawn.text)")

        var dumb = Self.capable
        dumb["TERM"] = "dumb"
        let plain = try runOnTerminal(Self.trainer, arguments, environment: dumb)
        #expect(plain.status == 0 && plain.text.contains("H =    4: "), "\(plain.text)")
        #expect(!plain.hasEscapes, "escape sequences under TERM=dumb: \(plain.text.debugDescription)")
    }

    /// `train` draws its bar on standard output (shown on a terminal since before this test); a
    /// dumb terminal gets the plain lines a pipe gets.
    @Test(.enabled(if: Fixtures.mnistDirectory != nil, "full MNIST not found: set LSTMD_MNIST_DIR"))
    func trainWritesPlainProgressLinesUnderTermDumb() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["train", "--data", Fixtures.mnistDirectory!.path, "--hidden-units", "4", "--epochs", "1", "--limit", "256",
                         "--batch-size", "64", "--threads", "1", "--out", directory.appendingPathComponent("m.safetensors").path]
        var dumb = Self.capable
        dumb["TERM"] = "dumb"
        let plain = try runOnTerminal(Self.trainer, arguments, environment: dumb)
        #expect(plain.status == 0 && plain.text.contains("epoch 1/1 batch 4/4"), "\(plain.text)")
        #expect(!plain.hasEscapes, "escape sequences under TERM=dumb: \(plain.text.debugDescription)")
    }
}
