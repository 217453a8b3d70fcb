import DaemonTestSupport
import Foundation
import LSTMDRelease
import TestSupport
import Testing

/// One version for the three executables, the same that `status` reports.
@Suite struct VersionTests {
    @Test func everyExecutablePrintsTheOneVersion() throws {
        for executable in ["lstmd", "lstm-train", "lstm-client"] {
            let result = try runProcess(Fixtures.productsDirectory.appendingPathComponent(executable).path, ["--version"])
            #expect(result.status == 0 && result.stdout == LSTMDVersion.current + "\n", "\(executable): \(result.output)")
        }
        let served = try ModelDaemon(try makeModel())
        #expect(try served.daemon.status().version == LSTMDVersion.current)
    }
}
