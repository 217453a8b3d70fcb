import FuzzSupport
import MNIST

/// MNIST files as `lstm-train` and `lstm-client` read them: gzip (zlib inflate, multi-member)
/// or raw, then the IDX header and body of a label or an image file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    guard let stored = try? IDX.decoded(input, file: "fuzz") else { return 0 }
    if let labels = try? IDX.labels(from: stored, file: "fuzz"), labels.contains(where: { $0 > 9 }) {
        violated("a label above 9 was accepted")
    }
    if let images = try? IDX.images(from: stored, file: "fuzz"), images.pixels.count != images.count * 28 * 28 {
        violated("\(images.pixels.count) pixels for \(images.count) images")
    }
    return 0
}
