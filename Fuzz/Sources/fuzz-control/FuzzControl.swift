import FuzzSupport
import WireProtocol

/// A control request as the daemon's REP socket reads it. One that parses re-encodes to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    if let request = try? ControlRequest(jsonBytes: input) {
        guard (try? ControlRequest(jsonBytes: request.jsonBytes)) == request else {
            violated("request \(request) does not survive its own encoding")
        }
    }
    return 0
}
