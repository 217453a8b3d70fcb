import FuzzSupport
import WireProtocol

/// A control reply as `lstm-client` reads it, as the answer to the request its first byte picks
/// (one decode per input, so that ten million inputs take minutes). One that parses re-encodes to
/// a reply that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlReply(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    let request = requests[Int(first) % requests.count]
    if let reply = try? ControlReply(jsonBytes: Array(input.dropFirst()), for: request) {
        guard (try? ControlReply(jsonBytes: reply.jsonBytes, for: request)) == reply else {
            fatalError("a reply to \(request.command) does not survive re-encoding")
        }
    }
    return 0
}

private let requests: [ControlRequest] = [.status, .streams(), .streams(StreamsPage(cursor: 3, limit: 2)), .drop(stream: try! StreamID("s")), .ping,
                                          .reload(model: nil), .metrics]
