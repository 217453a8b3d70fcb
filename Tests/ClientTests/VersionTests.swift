import DaemonTestSupport
import Foundation
import LSTMDVersion
import TestSupport
import Testing

/// One version for the three executables, the same that `status` reports.
@Suite struct VersionTests {
    @Test func everyExecutablePrintsTheOneVersion() throws {
        for executable in ["lstmd", "lstm-train", "lstm-client"] {
            let process = Process()
            process.executableURL = Fixtures.productsDirectory.appendingPathComponent(executable)
            process.arguments = ["--version"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            process.waitUntilExit()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0 && printed == LSTMDVersion.current + "\n", "\(executable): \(printed)")
        }
        let served = try ModelDaemon(try makeModel())
        #expect(try served.daemon.status().version == LSTMDVersion.current)
    }
}
