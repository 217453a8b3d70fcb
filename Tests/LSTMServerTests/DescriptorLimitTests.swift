import DaemonTestSupport
import Foundation
import TestSupport
import WireProtocol
import Testing
import ZeroMQ

/// libzmq 4.3.4 aborts the process when an ipc listener's accept fails with EMFILE: lstmd raises
/// its soft descriptor limit to the hard one at start, so that local clients up to the hard limit
/// cannot kill it.
@Suite struct DescriptorLimitTests {
    @Test func manyLocalConnectionsDoNotKillADaemonStartedWithALowSoftLimit() throws {
        // Started as a shell with `ulimit -Sn 64` would: 200 connections killed it (SIGABRT).
        let daemon = try DaemonProcess(launcher: ["/usr/bin/prlimit", "--nofile=64:4096"])
        #expect(daemon.logContains(#"msg="descriptor limit raised""#), "\(daemon.log)")
        #expect(daemon.log.contains("soft=4096") && daemon.log.contains("was=64"), "\(daemon.log)")

        let context = try ZMQContext()
        var clients: [ZMQSocket] = []
        for _ in 0..<200 {
            let client = try ZMQSocket(context, type: .push)
            try client.set(.linger, .zero)
            try client.connect(daemon.ingest)
            clients.append(client)
        }
        // Every connection is accepted by lstmd's I/O thread while the test waits.
        var open = 0
        for _ in 0..<300 {
            open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.process.processIdentifier)/fd").count) ?? 0
            if open > 200 || !daemon.process.isRunning { break }
            usleep(10_000)
        }
        #expect(daemon.process.isRunning, "lstmd died with \(open) descriptors open:\n\(daemon.log)")
        #expect(open > 200, "lstmd holds \(open) descriptors")
        guard case .ping = try daemon.request(.ping) else { Issue.record("no ping reply:\n\(daemon.log)"); return }
        for client in clients { client.close() }
    }
}
