import Checksums
import Foundation
import TestSupport
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    @Test("the FIPS 180-4 examples, and a million 'a'", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ])
    func fipsVectors(message: String, digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    @Test("any split of the input into updates gives the digest of the whole")
    func incrementalUpdates() {
        var rng = SplitMix64(state: 5)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = SHA256.hex(bytes)
        for chunk in [1, 3, 55, 56, 63, 64, 65, 127, 999] {
            var hasher = SHA256()
            var offset = 0
            while offset < bytes.count {
                hasher.update(bytes[offset..<min(offset + chunk, bytes.count)])
                offset += chunk
            }
            #expect(hasher.finalizeHex() == whole, "chunks of \(chunk)")
        }
    }

    @Test("agrees with sha256sum on every length around the padding boundaries and on real files")
    func agreesWithSha256sum() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = SplitMix64(state: 9)
        var files: [URL] = [Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz"), Fixtures.url("pytorch-lstm-h32.safetensors")]
        for length in [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 4097] {
            let url = directory.appendingPathComponent("\(length)")
            try Data((0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: url)
            files.append(url)
        }
        let output = try runProcess("/usr/bin/sha256sum", files.map(\.path))
        let expected = String(decoding: output.stdoutBytes, as: UTF8.self).split(separator: "\n").map { String($0.prefix(64)) }
        #expect(expected.count == files.count)
        for (file, digest) in zip(files, expected) {
            #expect(SHA256.hex([UInt8](try Data(contentsOf: file))) == digest, "\(file.lastPathComponent)")
        }
    }
}
