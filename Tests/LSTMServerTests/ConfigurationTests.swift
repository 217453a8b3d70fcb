import Foundation
import Logging
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
        var overridden = fromFile
        try DaemonSetting.apply(arguments: ["--max-batch", "8", "--idle-timeout=7", "--results", "tcp://127.0.0.1:9"], to: &overridden)
        #expect(overridden.maxBatch == 8)
        #expect(overridden.idleTimeoutSeconds == 7)
        #expect(overridden.results == "tcp://127.0.0.1:9")
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

    @Test func aWrongTypeNamesTheKeyAndTheTypeExpected() throws {
        let cases: [(String, String, String)] = [
            ("max-batch = \"many\"", "max-batch", "an integer"),
            ("max-batch = 2.5", "max-batch", "an integer"),
            ("idle-timeout = \"soon\"", "idle-timeout", "a number of seconds"),
            ("ingest = 5555", "ingest", "a string"),
            ("publish = \"sometimes\"", "publish", "one of \"partial\", \"final\""),
            ("log-level = true", "log-level", "a string"),
        ]
        for (text, key, expected) in cases {
            let path = try write(text)
            do {
                _ = try DaemonConfiguration.load(fileAt: path)
                Issue.record("\(text) was accepted")
            } catch {
                guard case let .wrongType(errorPath, errorKey, errorExpected, _) = error else {
                    Issue.record("\(text): \(error)")
                    continue
                }
                #expect(errorPath == path && errorKey == key && errorExpected == expected, "\(error)")
                #expect(error.description.contains("'\(key)' must be \(expected)"), "\(error)")
            }
        }
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.load(fileAt: try write("max-batch = ")) }
    }

    @Test func anIntegerIsANumberOfSeconds() throws {
        let configuration = try DaemonConfiguration.load(fileAt: try write("idle-timeout = 5\nsnapshot-interval = 0\ndrain-timeout = 3"))
        #expect(configuration.idleTimeoutSeconds == 5)
        #expect(configuration.snapshotIntervalSeconds == 0)
        #expect(configuration.drainTimeoutSeconds == 3)
        try configuration.validate()
    }

    @Test func commandLineSettingsAreCheckedLikeTheFile() throws {
        var configuration = DaemonConfiguration()
        #expect(throws: ConfigurationError.unknownOption("--max-bacth")) {
            try DaemonSetting.apply(arguments: ["--max-bacth", "3"], to: &configuration)
        }
        #expect(throws: ConfigurationError.missingValue(option: "--max-batch")) {
            try DaemonSetting.apply(arguments: ["--max-batch"], to: &configuration)
        }
        #expect(throws: ConfigurationError.self) { try DaemonSetting.apply(arguments: ["--max-batch", "x"], to: &configuration) }
        #expect(throws: ConfigurationError.self) { try DaemonSetting.apply(arguments: ["--publish", "often"], to: &configuration) }
        try DaemonSetting.apply(arguments: ["--publish", "final", "--results=none", "--state-dir", "/tmp/s"], to: &configuration)
        #expect(configuration.publish == .final && configuration.results == nil && configuration.stateDirectory == "/tmp/s")
        try DaemonSetting.apply(arguments: ["--drain-timeout", "0"], to: &configuration)
        #expect(throws: ConfigurationError.invalidValue(key: "drain-timeout", message: "must be a positive number of seconds at most 31536000 (a year), got 0.0")) {
            try configuration.validate()
        }
    }

    /// Values that used to be accepted and then trapped or misbehaved (issue 14): durations beyond
    /// the nanosecond clock, ports libzmq silently replaces, high-water marks beyond a C int.
    @Test(arguments: [
        (["--idle-timeout", "1e11"], "idle-timeout"), (["--snapshot-interval", "1e11"], "snapshot-interval"),
        (["--drain-timeout", "1e11"], "drain-timeout"), (["--drain-timeout", "inf"], "drain-timeout"),
        (["--ingest", "tcp://127.0.0.1:99999"], "ingest"), (["--control", "tcp://127.0.0.1:0"], "control"),
        (["--predictions", "tcp://:5556"], "predictions"), (["--results", "udp://127.0.0.1:5"], "results"),
        (["--ingest", "ipc://" + String(repeating: "x", count: 108)], "ingest"), (["--control", "inproc://"], "control"),
        (["--results-hwm", "99999999999"], "results-hwm"), (["--pub-hwm", "2147483648"], "pub-hwm"),
    ])
    func absurdValuesAreRefusedNamingTheKey(arguments: [String], key: String) throws {
        var configuration = DaemonConfiguration()
        try DaemonSetting.apply(arguments: arguments, to: &configuration)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        do { try configuration.validate() } catch {
            guard case let .invalidValue(named, _) = error else { Issue.record("\(error)"); return }
            #expect(named == key)
        }
    }

    @Test func endpointsLstmdCanBindAreAccepted() throws {
        var configuration = DaemonConfiguration()
        try DaemonSetting.apply(arguments: ["--ingest", "tcp://*:5555", "--predictions", "tcp://[::1]:5556",
                                            "--control", "ipc:///run/lstmd/control", "--results", "inproc://r",
                                            "--idle-timeout", "31536000"], to: &configuration)
        try configuration.validate()
    }

    /// A state directory that cannot hold snapshots is refused at start, not at the first stop
    /// (when every stream would be lost); a missing one is created.
    /// A config path that is not a regular file is refused by what it is, without blocking (a FIFO
    /// used to wait for a writer; a directory gave "NSCocoaErrorDomain error 256").
    @Test func aConfigFileThatIsNotARegularFileIsRefusedByWhatItIs() throws {
        let base = NSTemporaryDirectory() + "lstmd-config-kinds-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(mkfifo(base + "/fifo", 0o600) == 0)
        let binary = base + "/binary.toml"
        try Data([0x6D, 0x61, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: binary))
        for (path, reason) in [(base, "it is a directory, not a regular file"), (base + "/fifo", "it is a FIFO, not a regular file"),
                               ("/dev/zero", "it is a character device, not a regular file"),
                               (base + "/missing.toml", "No such file or directory"), (binary, "it is not UTF-8 text")] {
            #expect(throws: ConfigurationError.unreadableFile(path: path, reason: reason)) {
                _ = try DaemonConfiguration.load(fileAt: path)
            }
        }
    }

    @Test func anUnusableStateDirectoryIsRefusedAtStart() throws {
        let base = NSTemporaryDirectory() + "lstmd-state-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        var configuration = DaemonConfiguration()
        configuration.stateDirectory = base + "/new"
        // No model is given, so the daemon stops there (`noModel`), after the state directory's check.
        #expect(throws: DaemonError.self) { _ = try Daemon(configuration: configuration, defaultModel: nil, logger: Logger(label: "t")) }
        #expect(FileManager.default.fileExists(atPath: base + "/new"), "a missing state directory is created")
        try Data("x".utf8).write(to: URL(fileURLWithPath: base + "/file"))
        for directory in [base + "/file", "/proc/lstmd-none"] {
            configuration.stateDirectory = directory
            #expect(throws: ConfigurationError.self) {
                _ = try Daemon(configuration: configuration, defaultModel: nil, logger: Logger(label: "t"))
            }
        }
    }

    @Test func aFlagIsGivenAloneOrAsTrueOrFalse() throws {
        var configuration = DaemonConfiguration()
        try DaemonSetting.apply(arguments: ["--insecure", "--max-batch", "8"], to: &configuration)
        #expect(configuration.insecure && configuration.maxBatch == 8, "a flag takes no value of its own")
        try DaemonSetting.apply(arguments: ["--insecure=false"], to: &configuration)
        #expect(!configuration.insecure)
        #expect(throws: ConfigurationError.invalidValue(key: "--insecure", message: "must be true or false, got 'yes'")) {
            try DaemonSetting.apply(arguments: ["--insecure=yes"], to: &configuration)
        }
        let path = try write("insecure = \"true\"")
        #expect(throws: ConfigurationError.wrongType(path: path, key: "insecure", expected: "true or false", found: "string \"true\"")) {
            try DaemonConfiguration.load(fileAt: path)
        }
        #expect(DaemonSetting.helpText.contains("--insecure (default: false)\n"))
    }

    @Test func theHelpListsEverySettingWithItsDefault() {
        let help = DaemonSetting.helpText
        let defaults = DaemonConfiguration()
        for setting in DaemonSetting.all {
            #expect(help.contains("\(setting.usage) (default: \(setting.value(in: defaults)))\n    \(setting.help)"))
        }
        #expect(help.contains("--max-batch <n> (default: 256)\n    Most streams advanced in one batched step."))
        #expect(help.contains("--results <endpoint> (default: tcp://127.0.0.1:5558)"))
    }
}
