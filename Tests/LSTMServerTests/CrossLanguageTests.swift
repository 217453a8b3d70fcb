import DaemonTestSupport
import Foundation
import TestSupport
import Testing

/// The Python example client of `Protocols/examples` against a real daemon: the protocol as
/// written is enough for another language. Needs python3 with pyzmq, which `Scripts/setup-debian.sh`
/// (part of the README's test command) installs.
@Suite struct CrossLanguageTests {
    static let script = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/examples/stream_digit.py")

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try runProcess("/usr/bin/env", ["python3"] + arguments)
        return (result.status, result.output)
    }

    static var pyzmqAvailable: Bool { (try? run(["-c", "import zmq"]).status) == 0 }

    @Test func thePythonExampleStreamsADigitAndReadsItsFinal() throws {
        try #require(Self.pyzmqAvailable, "python3 with pyzmq is needed: run Scripts/setup-debian.sh")
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let daemon = try DaemonProcess(arguments: ["--model", path], directory: directory)
        for mode in [[], ["--router"]] {
            let result = try Self.run([Self.script.path, "--ingest", daemon.ingest, "--predictions", daemon.predictions,
                                       "--control", daemon.control, "--results", daemon.results,
                                       "--stream", "python-\(mode.count)", "--timeout", "20"] + mode)
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("FINAL   row 27"), "\(result.output)")
            #expect(result.output.components(separatedBy: "PARTIAL").count - 1 == 27)
        }
        #expect(daemon.stop() == 0)
    }
}
