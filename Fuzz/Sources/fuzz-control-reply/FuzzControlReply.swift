import FuzzSupport
import WireProtocol

/// A control reply as `lstm-client` reads it, as the answer to every kind of request. One that
/// parses re-encodes to a reply that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlReply(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    for request in requests {
        if let reply = try? ControlReply(jsonBytes: input, for: request) {
            _ = reply.jsonBytes
        }
    }
    return 0
}

private let requests: [ControlRequest] = [.status, .streams(), .streams(StreamsPage(cursor: 3, limit: 2)), .drop(stream: try! StreamID("s")), .ping,
                                          .reload(model: nil), .metrics]
