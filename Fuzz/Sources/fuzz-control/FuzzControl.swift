import FuzzSupport
import WireProtocol

/// Control JSON: a request as the daemon's REP socket reads it, and the same bytes as a reply to
/// every kind of request as a client reads them. A request that parses re-encodes to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    if let request = try? ControlRequest(jsonBytes: input) {
        guard (try? ControlRequest(jsonBytes: request.jsonBytes)) == request else {
            violated("request \(request) does not survive its own encoding")
        }
    }
    let stream = try! StreamID("s")
    for request: ControlRequest in [.status, .streams, .drop(stream: stream), .ping, .reload(model: nil), .metrics] {
        if let reply = try? ControlReply(jsonBytes: input, for: request) {
            _ = reply.jsonBytes
        }
    }
    return 0
}
