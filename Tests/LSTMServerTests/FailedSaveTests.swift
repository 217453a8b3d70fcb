import DaemonTestSupport
import Foundation
import LSTMCore
import TestSupport
import Testing
import WireProtocol

/// Issue 13 #9, the failed save, with a real daemon: its final snapshot cannot be written because it
/// has run out of file descriptors (the way a full disk or a broken state directory would stop it;
/// unlike a read-only directory, this stops root too). The older snapshot must go, so that it never
/// brings back streams whose clients were told `shutting_down`.
@Suite(.serialized) struct FailedSaveTests {
    @Test func aStopThatCannotWriteItsSnapshotRemovesTheOlderOneAndExitsWithStatus2() throws {
        let directory = try DaemonProcess.makeTemporaryDirectory()
        let (_, path) = try writeTestModel(in: directory)
        let state = directory.appendingPathComponent("state")
        let snapshot = state.appendingPathComponent("streams.safetensors")
        // The results endpoint on tcp: what the descriptors are filled through (libzmq 4.3.4 aborts
        // when an ipc listener runs out of descriptors; its tcp listener waits).
        let port = try CurveDaemonTests.freePorts(1)[0]
        let arguments = ["--model", path, "--state-dir", state.path, "--snapshot-interval", "0", "--idle-timeout", "0",
                         "--results", "tcp://127.0.0.1:\(port)"]
        let digits = try fixtureDigits(3)
        let ids = (0..<3).map { "saved-\($0)" }

        // A first run leaves a snapshot of the streams at row 5.
        var daemon = try DaemonProcess(arguments: arguments, directory: directory)
        var client = try TestClient(daemon)
        for (k, id) in ids.enumerated() { for r in 0..<5 { try client.send(try row(r, of: id, sequence: 50, pixels: digits.image(at: k))) } }
        _ = try client.collect { $0.filter { ids.contains($0.topic) }.count == 15 }
        #expect(daemon.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: snapshot.path))

        // The second run restores them, and they move on to row 10.
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        #expect(daemon.logContains("streams restored"), "\(daemon.log)")
        client = try TestClient(daemon)
        for (k, id) in ids.enumerated() { for r in 5..<10 { try client.send(try row(r, of: id, sequence: 50, pixels: digits.image(at: k))) } }
        _ = try client.collect { $0.filter { ids.contains($0.topic) }.count == 15 }

        // Every descriptor the daemon may open is taken: its limit is lowered to just above what it
        // holds and connections to its ingest endpoint fill the rest.
        let pid = daemon.process.processIdentifier
        let held = try openDescriptors(of: pid)
        let limit = try #require(held.max()) + 1 + 4
        let prlimit = try ChildProcess(URL(fileURLWithPath: "/usr/bin/prlimit"), ["--pid", "\(pid)", "--nofile=\(limit):\(limit)"])
        let set = try prlimit.finish(seconds: 10)
        #expect(set.status == 0, "prlimit: \(set.output)")
        var fillers: [Int32] = []
        defer { for fd in fillers { close(fd) } }
        for _ in 0..<(limit - held.count + 4) { fillers.append(try connectTCP(port: port)) }
        var full = false
        for _ in 0..<250 where !full {
            full = Set(try openDescriptors(of: pid)).isSuperset(of: 0..<limit)
            if !full { usleep(20_000) }
        }
        #expect(full, "every descriptor below \(limit) is in use")

        let status = daemon.stop()
        #expect(status == 2, "the documented exit status of a stop whose snapshot was not written:\n\(daemon.log)")
        #expect(daemon.log.contains("cannot save stream snapshot") && daemon.log.contains("Too many open files"), "\(daemon.log)")
        #expect(daemon.log.contains("older stream snapshot removed after the failed save"), "\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: snapshot.path), "the older snapshot would resurrect the streams")
        #expect(try FileManager.default.contentsOfDirectory(atPath: state.path).isEmpty, "no temporary file is left")
        let told = try client.collect(quietMilliseconds: 1000) { $0.filter { $0.errorCode == "shutting_down" }.count == 3 }
            .filter { $0.errorCode == "shutting_down" }
        #expect(told.map(\.topic).sorted() == ids && told.allSatisfy { $0.header.row == 10 && $0.header.sequence == 50 },
                "\(told.map { "\($0.topic) \($0.header)" })")
        for fd in fillers { close(fd) }
        fillers = []

        // The next start finds nothing to restore: the streams stay ended.
        daemon = try DaemonProcess(arguments: arguments, directory: directory)
        #expect(daemon.logContains("no stream snapshot to restore"), "\(daemon.log)")
        let restarted = try daemon.status()
        #expect(restarted.liveStreams == 0 && restarted.counters[.streamsRestored] == 0)
        client = try TestClient(daemon)
        try client.send(try row(10, of: ids[0], sequence: 50, pixels: digits.image(at: 0)))
        #expect(try client.next(on: ids[0]).errorCode == "not_started")
        #expect(daemon.stop() == 0)
    }
}

/// The file descriptors process `pid` has open (`/proc/PID/fd`).
func openDescriptors(of pid: Int32) throws -> [Int] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) }
}

/// A plain TCP connection to 127.0.0.1:`port` (no ZeroMQ handshake): it holds one descriptor of
/// the listening process once accepted.
func connectTCP(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw HarnessError("connect to 127.0.0.1:\(port): \(reason)")
    }
    return fd
}
