import DaemonTestSupport
import Foundation
import TestSupport
import Testing
import WireProtocol
import ZeroMQ

/// Issue 14: control requests of any plausible size get a reply. Above 1 MiB lstmd's REP socket used
/// to close the connection unread, so the client waited out its timeout with no answer.
@Suite struct ControlRequestSizeTests {
    @Test func anOversizedRequestGetsBadRequestAndTheNextOneIsServed() throws {
        let daemon = try DaemonProcess()
        let context = try ZMQContext()
        for size in [70_000, 1_100_000, 5_000_000] {
            let socket = try ZMQSocket(context, type: .req)
            try socket.set(.linger, .zero)
            try socket.set(.receiveTimeout, .milliseconds(10_000))
            try socket.connect(daemon.control)
            // A valid JSON object, padded with spaces to `size` bytes.
            var request = Array(#"{"command": "ping"}"#.utf8)
            request += [UInt8](repeating: 0x20, count: size - request.count)
            try socket.send([request])
            let frames = try #require(try socket.receiveMultipart(), "no reply to a request of \(size) bytes")
            let reply = String(decoding: frames[0], as: UTF8.self)
            #expect(reply.contains(#""code":"bad_request""#) && reply.contains("at most 65536 bytes; got \(size)"), "\(reply)")
            socket.close()
        }
        guard case .ping = try daemon.request(.ping) else { Issue.record("no ping after the oversized requests"); return }
    }
}
