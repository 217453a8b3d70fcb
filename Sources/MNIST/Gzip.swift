import CZlib

/// gzip detection and decompression through zlib's inflate.
enum Gzip {
    /// True when `bytes` start with the gzip magic number 1f 8b.
    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// The most bytes a file may decompress to: 1 GiB, over 20 times MNIST's largest file. A few
    /// kilobytes of gzip can claim gigabytes; past this the input is refused, not allocated.
    static let maxDecompressedByteCount = 1 << 30

    /// Decompresses `compressed`, every member of a multi-member gzip file in turn, into one
    /// buffer of at most `maxByteCount` bytes. `file` names the input in errors.
    static func decompress(_ compressed: [UInt8], file: String,
                           maxByteCount: Int = maxDecompressedByteCount) throws(MNISTError) -> [UInt8] {
        let inflater = try Inflater(file: file)
        let stream = inflater.stream
        // The gzip trailer's ISIZE (length mod 2^32 of the last member) is the right size for
        // single-member files; it is capped by deflate's best ratio (~1032:1) so that a damaged
        // trailer cannot ask for an absurd allocation. The buffer doubles when it fills.
        let sizeHint = min(Int(trailerSize(compressed)), compressed.count * 1032 + 64)
        var output = [UInt8](repeating: 0, count: min(max(sizeHint, 4096), maxByteCount + 1))
        var produced = 0

        return try compressed.withUnsafeBufferPointer { (input) throws(MNISTError) -> [UInt8] in
            guard let inputBase = input.baseAddress else {
                throw .corruptGzip(file: file, reason: "the file is empty")
            }
            var consumed = 0
            inflating: while true {
                if stream.pointee.avail_in == 0 && consumed < input.count {
                    // avail_in is 32 bits: feed at most 1 GiB at a time.
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: inputBase + consumed)
                    stream.pointee.avail_in = UInt32(min(input.count - consumed, 1 << 30))
                }
                if produced == output.count {
                    // One byte past the limit tells a file of exactly the limit from a larger one.
                    guard produced <= maxByteCount else { throw .decompressedTooLarge(file: file, limit: maxByteCount) }
                    output.append(contentsOf: repeatElement(0, count: min(output.count, maxByteCount + 1 - output.count)))
                }
                let availableInBefore = Int(stream.pointee.avail_in)
                let status = output.withUnsafeMutableBufferPointer { out in
                    let room = min(out.count - produced, 1 << 30)
                    stream.pointee.next_out = out.baseAddress! + produced
                    stream.pointee.avail_out = UInt32(room)
                    let status = inflate(stream, Z_NO_FLUSH)
                    produced += room - Int(stream.pointee.avail_out)
                    return status
                }
                consumed += availableInBefore - Int(stream.pointee.avail_in)

                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    if consumed == input.count { break inflating }
                    let rest = input.count - consumed
                    guard rest >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b else {
                        throw .corruptGzip(
                            file: file, reason: "\(rest) bytes of non-gzip data after the gzip stream")
                    }
                    inflateReset(stream)  // the next member
                    continue
                case Z_BUF_ERROR where consumed == input.count:
                    // No progress possible with all input used: the output always has room.
                    throw .corruptGzip(
                        file: file,
                        reason: "the gzip stream ends early, after \(input.count) compressed bytes "
                            + "(\(produced) bytes decompressed): the file is truncated")
                default:
                    throw .corruptGzip(file: file, reason: inflater.message(status: status))
                }
            }
            output.removeLast(output.count - produced)
            return output
        }
    }

    /// The last four bytes of a gzip file: the uncompressed length (mod 2^32), little-endian.
    private static func trailerSize(_ bytes: [UInt8]) -> UInt32 {
        guard bytes.count >= 18 else { return 0 }  // 10-byte header + 8-byte trailer at least
        let end = bytes.count
        return UInt32(bytes[end - 4]) | UInt32(bytes[end - 3]) << 8
            | UInt32(bytes[end - 2]) << 16 | UInt32(bytes[end - 1]) << 24
    }
}

/// One zlib inflate stream reading gzip (or zlib) headers. zlib's state keeps a pointer back to
/// its z_stream, so the z_stream lives at a fixed heap address, freed with the state in deinit.
private final class Inflater {
    let stream: UnsafeMutablePointer<z_stream>

    init(file: String) throws(MNISTError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 32: the largest window, with automatic gzip/zlib header detection.
        let status = lstmd_inflateInit2(stream, 15 + 32)
        guard status == Z_OK else {
            throw .corruptGzip(file: file, reason: "zlib could not start inflating: \(message(status: status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// zlib's message for the last error, or the name of the status code when it gave none.
    func message(status: Int32) -> String {
        if let text = stream.pointee.msg { return String(cString: text) }
        switch status {
        case Z_DATA_ERROR: return "invalid compressed data"
        case Z_MEM_ERROR: return "out of memory"
        case Z_NEED_DICT: return "the stream needs a preset dictionary"
        case Z_STREAM_ERROR: return "inconsistent stream state"
        default: return "zlib status \(status)"
        }
    }
}
