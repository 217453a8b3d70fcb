import DaemonTestSupport
import Foundation
import LSTMServer
import Testing

@Suite struct IPCEndpointLockTests {
    func directory() throws -> String { try DaemonProcess.makeTemporaryDirectory().path }

    @Test func aLockedPathIsRefusedUntilItsHolderGoesAway() throws {
        let dir = try directory()
        let endpoints = [(socket: "ingest", endpoint: "ipc://\(dir)/ingest"), (socket: "control", endpoint: "tcp://127.0.0.1:1")]
        var first: IPCEndpointLock? = try IPCEndpointLock(endpoints)
        #expect(throws: IPCEndpointError.inUse(socket: "ingest", endpoint: "ipc://\(dir)/ingest", holder: getpid())) {
            try IPCEndpointLock(endpoints)
        }
        withExtendedLifetime(first) {}
        first = nil
        _ = try IPCEndpointLock(endpoints)
    }

    @Test func aDeadDaemonsSocketIsRemovedAndAnythingElseIsKept() throws {
        let dir = try directory()
        // A unix socket file nobody listens on any more, as a killed daemon leaves it.
        let stale = dir + "/stale"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(stale.utf8) + [0]) }
        let bound = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: stale))
        _ = try IPCEndpointLock([(socket: "ingest", endpoint: "ipc://\(stale)")])
        #expect(!FileManager.default.fileExists(atPath: stale))

        let precious = dir + "/precious"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: precious))
        #expect(throws: IPCEndpointError.self) { try IPCEndpointLock([(socket: "control", endpoint: "ipc://\(precious)")]) }
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me")
    }

    @Test func aSecondDaemonOnTheSameIpcEndpointsExitsAndTheFirstKeepsServing() throws {
        let dir = try DaemonProcess.makeTemporaryDirectory()
        let first = try DaemonProcess(directory: dir)
        let second = try DaemonProcess(directory: dir, waitUntilReady: false)
        #expect(second.stop(signal: 0, seconds: 20) == 1, "\(second.log)")
        #expect(second.log.contains("is served by a running lstmd (pid \(first.process.processIdentifier))"), "\(second.log)")
        _ = try first.request(.ping, timeoutMilliseconds: 2000)
        #expect(first.stop() == 0)
        // A stopped daemon's endpoints are free again.
        let third = try DaemonProcess(directory: dir)
        #expect(third.stop() == 0)
    }
}
