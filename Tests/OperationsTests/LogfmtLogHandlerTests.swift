import DaemonTestSupport
import Foundation
import Logging
import LSTMServer
import Synchronization
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

@Suite struct LogfmtLogHandlerTests {
    @Test func valuesAreQuotedOnlyWhenTheyMustBe() {
        #expect(LogfmtLogHandler.quoted("serving") == "serving")
        #expect(LogfmtLogHandler.quoted("/var/lib/lstmd/m.safetensors") == "/var/lib/lstmd/m.safetensors")
        #expect(LogfmtLogHandler.quoted("model reloaded") == "\"model reloaded\"")
        #expect(LogfmtLogHandler.quoted("") == "\"\"")
        #expect(LogfmtLogHandler.quoted("a=b") == "\"a=b\"")
        #expect(LogfmtLogHandler.quoted(#"say "hi"\now"#) == #""say \"hi\"\\now""#)
        #expect(LogfmtLogHandler.quoted("two\nlines\tand\u{1}") == #""two\nlines\tand\u0001""#)
    }

    @Test func journalLinesHaveAPriorityAndNoTimestamp() throws {
        let metadata: Logger.Metadata = ["model": "/m x.safetensors", "live_streams": "3"]
        let journal = LogfmtLogHandler.format(level: .warning, message: "reload refused", metadata: metadata, journal: true,
                                              date: Date(timeIntervalSince1970: 0))
        #expect(journal == #"<4>level=warning msg="reload refused" live_streams=3 model="/m x.safetensors""# + "\n")
        let terminal = LogfmtLogHandler.format(level: .info, message: "serving", metadata: [:], journal: false,
                                               date: Date(timeIntervalSince1970: 1_700_000_000.25))
        #expect(terminal == "ts=2023-11-14T22:13:20.250Z level=info msg=serving\n")
        #expect([Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map(LogfmtLogHandler.syslogPriority)
                == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test func journalIsDetectedOnlyWhenJournalStreamNamesStandardError() throws {
        #expect(LogfmtLogHandler.journalStream("64769:1234", matchesDevice: 64769, inode: 1234))
        #expect(!LogfmtLogHandler.journalStream("64769:1234", matchesDevice: 64769, inode: 1235))
        #expect(!LogfmtLogHandler.journalStream("garbage", matchesDevice: 0, inode: 0))
        #expect(!LogfmtLogHandler.standardErrorIsJournal(environment: [:]))
        var info = stat()
        try #require(fstat(2, &info) == 0)
        #expect(LogfmtLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"]))
        #expect(!LogfmtLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino + 1)"]))
    }

    @Test func theHandlerMergesMetadataAndFiltersByLevel() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "t") { _ in LogfmtLogHandler(level: .info, journal: true) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "instance"] = "a"
        logger.debug("hidden")
        logger.notice("model reloaded", metadata: ["sha256": "abc"])
        #expect(lines.withLock { $0 } == [#"<5>level=notice msg="model reloaded" instance=a sha256=abc"# + "\n"])
    }

    @Test func lstmdUnderJournaldWritesPriorityPrefixedLines() throws {
        // lstmd fails to start (no such model): its one critical line, with and without the journal.
        func startFailure(journal: Bool) throws -> String {
            // Standard error is a file here, so the test knows its device and inode as journald would.
            let log = try DaemonProcess.makeTemporaryDirectory().appendingPathComponent("stderr")
            let errors = open(log.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            try #require(errors >= 0)
            let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(errors); close(nothing) }
            var info = stat()
            try #require(fstat(errors, &info) == 0)
            var environment = ProcessInfo.processInfo.environment
            environment["JOURNAL_STREAM"] = journal ? "\(info.st_dev):\(info.st_ino)" : nil
            let process = try SpawnedProcess(Fixtures.productsDirectory.appendingPathComponent("lstmd").path,
                                             ["--model", "/nonexistent/m.safetensors", "--control", "ipc://@lstmd-log-test-\(UUID())"],
                                             environment: environment, standardInput: nothing, standardOutput: errors,
                                             standardError: errors)
            process.waitUntilExit()
            #expect(process.terminationStatus == 1)
            return try String(contentsOf: log, encoding: .utf8)
        }
        let journal = try startFailure(journal: true)
        #expect(journal.hasPrefix(#"<2>level=critical msg="cannot start" error="cannot load model /nonexistent/m.safetensors"#), "\(journal)")
        let plain = try startFailure(journal: false)
        #expect(plain.hasPrefix("ts=") && plain.contains(#"level=critical msg="cannot start""#), "\(plain)")
    }

    @Test func traceLevelLogsEachControlRequestAndStream() throws {
        let daemon = try DaemonProcess(arguments: ["--log-level", "trace"])
        _ = try daemon.request(.status)
        let context = try ZMQContext()
        let push = try ZMQSocket(context, type: .push)
        try push.set(.linger, .milliseconds(1000))
        try push.connect(daemon.ingest)
        let id = try StreamID("traced")
        for row in 0..<28 { try push.send(IngestMessage.row(UInt32(row), of: id, sequence: 1, pixels: [UInt8](repeating: 9, count: 28), last: row == 27).frames) }
        var finished = false
        for _ in 0..<200 where !finished {
            finished = daemon.log.contains(#"msg="stream finished" rows=28 stream=traced"#)
            usleep(10_000)
        }
        push.close()
        #expect(daemon.stop() == 0)
        #expect(finished, "\(daemon.log)")
        #expect(daemon.log.contains(#"msg="stream started" sequence=1 stream=traced via=ingest"#), "\(daemon.log)")
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("ts=") && $0.contains(#"level=info msg=serving"#) }, "\(daemon.log)")
        #expect(lines.contains { $0.contains(#"level=debug msg="control request" command=status role=plain"#) }, "\(daemon.log)")
    }
}
