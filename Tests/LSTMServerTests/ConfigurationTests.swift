import Foundation
import LSTMServer
import Testing
import WireProtocol

@Suite struct ConfigurationTests {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "lstmd-config-\(UUID().uuidString.prefix(8)).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func fileValuesOverrideDefaultsAndSettingsOverrideTheFile() throws {
        let path = try write("""
            # a comment
            ingest = "ipc:///run/lstmd/ingest"
            max-batch = 64
            idle-timeout = 2.5
            publish = "final"
            results = "none"
            """)
        let fromFile = try DaemonConfiguration.load(fileAt: path)
        #expect(fromFile.ingest == "ipc:///run/lstmd/ingest")
        #expect(fromFile.maxBatch == 64)
        #expect(fromFile.idleTimeoutSeconds == 2.5)
        #expect(fromFile.publish == .final)
        #expect(fromFile.results == nil)
        #expect(fromFile.control == DaemonConfiguration().control)
        let overridden = fromFile.overlaid(with: DaemonSettings(maxBatch: 8))
        #expect(overridden.maxBatch == 8)
        #expect(overridden.ingest == "ipc:///run/lstmd/ingest")
    }

    @Test func unknownKeysWrongTypesAndBadValuesAreNamed() throws {
        let typo = try write("max-bacth = 3")
        #expect(throws: ConfigurationError.unknownKeys(path: typo, keys: "max-bacth")) {
            try DaemonConfiguration.load(fileAt: typo)
        }
        do {
            _ = try DaemonConfiguration.load(fileAt: try write("max-batch = \"many\""))
            Issue.record("a string for max-batch must be refused")
        } catch {
            #expect(String(describing: error).contains("max-batch"))
        }
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.load(fileAt: "/nonexistent/lstmd.toml") }
        var bad = DaemonConfiguration()
        bad.maxBatch = 0
        #expect(throws: ConfigurationError.invalidValue(key: "max-batch", message: "must be between 1 and 65536, got 0")) {
            try bad.validate()
        }
        bad = DaemonConfiguration()
        bad.ingest = "127.0.0.1:5555"
        #expect(throws: ConfigurationError.self) { try bad.validate() }
    }
}
