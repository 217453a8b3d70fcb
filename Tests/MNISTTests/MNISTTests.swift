import Foundation
import MNIST
import TestSupport

/// The committed fixtures: the first 100 and 1,000 digits of the real MNIST test set, and the
/// SHA-256 of their decompressed bytes as printed by Tests/Fixtures/mnist-make-fixtures.py.
enum MNISTFixture {
    static let images100 = Fixtures.url("mnist-t10k-100-images-idx3-ubyte.gz")
    static let labels100 = Fixtures.url("mnist-t10k-100-labels-idx1-ubyte.gz")
    static let images1000 = Fixtures.url("mnist-t10k-1000-images-idx3-ubyte.gz")
    static let labels1000 = Fixtures.url("mnist-t10k-1000-labels-idx1-ubyte.gz")

    static let images100SHA256 = "806da1c8626ed91a2ec572ed80666121226e1de20cec504c2787812cac71d159"
    static let labels100SHA256 = "1a053e1de7d8946ac62b3ae5a196d52d2e96bc66fd695815a7e29f0310f9c031"
    static let images1000SHA256 = "de7c252b04f05e1f8309634180ccdf286dc6dbac8c579b74e76e02ae0331ca52"
    static let labels1000SHA256 = "832c0d20f0dc42e575488c75a83a970787d4c8d4d05831b2ef03701b4a478a90"

    /// The first 20 labels of the MNIST test set.
    static let firstTestLabels: [UInt8] = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4]

    /// A mirror made of the fixtures under the canonical `.gz` names (test ← 100 digits, train ←
    /// 1,000), and the checksums that go with it.
    static func makeMirror(in directory: URL) throws -> [MNISTFile: String] {
        let copies: [(URL, MNISTFile)] = [
            (images100, .testImages), (labels100, .testLabels),
            (images1000, .trainImages), (labels1000, .trainLabels),
        ]
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (source, file) in copies {
            try FileManager.default.copyItem(at: source, to: directory.appendingPathComponent(file.gzipName))
        }
        return [
            .testImages: images100SHA256, .testLabels: labels100SHA256,
            .trainImages: images1000SHA256, .trainLabels: labels1000SHA256,
        ]
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mnist-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let target = file(name)
        try Data(bytes).write(to: target)
        return target
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs the system's gzip (an implementation independent of the code under test) on `arguments`
/// and returns what it wrote to stdout.
func systemGzip(_ arguments: [String]) throws -> [UInt8] {
    let result = try runProcess("/bin/gzip", arguments)
    guard result.status == 0 else { throw HarnessError("gzip \(arguments) failed: \(result.stderr)") }
    return result.stdoutBytes
}
