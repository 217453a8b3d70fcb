import Foundation
import Glibc
import LSTMServer
import Testing
import DaemonTestSupport

@Suite struct SystemdNotifierTests {
    @Test(arguments: [false, true])
    func everyMessageArrivesAsOneDatagramWithExactBytes(abstract: Bool) throws {
        let listener = try DatagramListener(abstract: abstract)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
        #expect(notifier.isEnabled)

        try notifier.ready()
        #expect(listener.receive() == Array("READY=1".utf8))
        try notifier.status("serving 3 streams\nmodel 9f2c")
        #expect(listener.receive() == Array("STATUS=serving 3 streams model 9f2c".utf8))
        try notifier.watchdog()
        #expect(listener.receive() == Array("WATCHDOG=1".utf8))
        try notifier.reloading(monotonicMicroseconds: 123_456_789)
        #expect(listener.receive() == Array("RELOADING=1\nMONOTONIC_USEC=123456789".utf8))
        try notifier.stopping()
        #expect(listener.receive() == Array("STOPPING=1".utf8))
        #expect(listener.isEmpty())
    }

    @Test func reloadingDefaultsToTheCurrentMonotonicTime() throws {
        let listener = try DatagramListener(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
        let before = SystemdNotifier.monotonicMicroseconds()
        try notifier.reloading()
        let after = SystemdNotifier.monotonicMicroseconds()
        let text = String(decoding: try #require(listener.receive()), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "RELOADING=1")
        let stamp = try #require(lines.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
        #expect(lines.last?.hasPrefix("MONOTONIC_USEC=") == true)
        #expect((before...after).contains(stamp))
    }

    @Test func unsetOrEmptySocketIsANoOp() throws {
        for environment in [[:], ["NOTIFY_SOCKET": ""]] {
            let notifier = SystemdNotifier(environment: environment)
            #expect(!notifier.isEnabled)
            #expect(notifier.socketAddress == nil)
            try notifier.ready()
            try notifier.status("x")
            try notifier.watchdog()
            try notifier.stopping()
            try notifier.reloading()
        }
    }

    @Test func unreachableOrInvalidSocketsAreTypedErrors() throws {
        let missing = NSTemporaryDirectory() + "lstmd-no-such-socket-\(UUID().uuidString)"
        #expect(throws: SystemdNotifierError.send(socket: missing, errno: ENOENT)) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": missing]).ready()
        }
        #expect(throws: SystemdNotifierError.unsupportedAddress("relative/path")) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]).ready()
        }
        // sun_path holds 108 bytes: a path needs one for its NUL, an abstract name one for the lead NUL.
        let longest = "/" + String(repeating: "a", count: 106)
        #expect(throws: SystemdNotifierError.send(socket: longest, errno: ENOENT)) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": longest]).ready()
        }
        let tooLong = longest + "a"
        #expect(throws: SystemdNotifierError.addressTooLong(tooLong, limit: 108)) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": tooLong]).ready()
        }
        let abstractTooLong = "@" + String(repeating: "b", count: 108)
        #expect(throws: SystemdNotifierError.addressTooLong(abstractTooLong, limit: 108)) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": abstractTooLong]).ready()
        }
        let error = SystemdNotifierError.send(socket: missing, errno: ENOENT)
        #expect(error.description.contains(missing) && error.description.contains("No such file"))
    }

    @Test func abstractNameOfTheLongestLengthIsDelivered() throws {
        // 107 name bytes + the leading NUL fill sun_path exactly; the listener binds the same name.
        let name = String(repeating: "c", count: 80) + "-\(getpid())-\(UUID().uuidString.prefix(8))"
        let padded = name + String(repeating: "d", count: 107 - name.utf8.count)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [0] + Array(padded.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let bound = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        try SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + padded]).watchdog()
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        #expect(count == 10 && Array(buffer[..<max(count, 0)]) == Array("WATCHDOG=1".utf8))
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsecForThisProcess() {
        let pid: Int32 = 4242
        func interval(_ environment: [String: String]) -> Duration? {
            SystemdNotifier(environment: environment, processID: pid).watchdogInterval
        }
        #expect(interval(["WATCHDOG_USEC": "30000000"]) == .seconds(15))
        #expect(interval(["WATCHDOG_USEC": "3"]) == .microseconds(1))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"]) == .seconds(15))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": ""]) == .seconds(15))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "0"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "soon"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "-5"]) == nil)
        #expect(interval([:]) == nil)
        // The default process id is this process's.
        let mine = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"])
        #expect(mine.watchdogInterval == .seconds(1))
    }
}
