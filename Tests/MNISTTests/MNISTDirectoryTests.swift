import Foundation
import MNIST
import TestSupport
import Testing

@Suite("MNIST directory")
struct MNISTDirectoryTests {
    @Test("a directory with fixture files under canonical names fails canonical verification")
    func checksumMismatch() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        _ = try MNISTFixture.makeMirror(in: scratch.url)
        let imagesPath = scratch.file("t10k-images-idx3-ubyte.gz").path
        #expect(
            throws: MNISTError.checksumMismatch(
                file: imagesPath, expected: MNISTFile.testImages.canonicalSHA256,
                actual: MNISTFixture.images100SHA256)
        ) {
            try MNISTDirectory.load(scratch.url, split: .test)
        }
        let unverified = try MNISTDirectory.load(scratch.url, split: .test, verify: false)
        #expect(unverified.count == 100)
        #expect(unverified.split == .test)
        #expect(try MNISTDirectory.load(scratch.url, split: .train, verify: false).count == 1000)
    }

    @Test("the .gz file is preferred to a raw one of the same name")
    func prefersGzip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        _ = try MNISTFixture.makeMirror(in: scratch.url)
        _ = try scratch.write([0, 0, 8, 1, 0, 0, 0, 0], "t10k-labels-idx1-ubyte")  // empty, valid
        #expect(MNISTDirectory.location(of: .testLabels, in: scratch.url)?.lastPathComponent == "t10k-labels-idx1-ubyte.gz")
        #expect(try MNISTDirectory.load(scratch.url, split: .test, verify: false).count == 100)
    }

    @Test("missing files are named, with how to fetch them")
    func missingFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        #expect(
            throws: MNISTError.missingFiles(
                names: ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"], directory: scratch.url.path)
        ) {
            try MNISTDirectory.load(scratch.url, split: .test)
        }
        try FileManager.default.copyItem(
            at: MNISTFixture.labels1000, to: scratch.file("train-labels-idx1-ubyte.gz"))
        let error = #expect(throws: MNISTError.self) { try MNISTDirectory.load(scratch.url, split: .train) }
        #expect(error == .missingFiles(names: ["train-images-idx3-ubyte"], directory: scratch.url.path))
        let message = error?.description ?? ""
        #expect(message.hasPrefix("MNIST file missing in \(scratch.url.path): train-images-idx3-ubyte(.gz);"))
        #expect(message.contains("lstm-train fetch-mnist --to"))
        #expect(message.contains("LSTMD_MNIST_DIR"))
    }

    @Test("directory resolution: flag, then LSTMD_MNIST_DIR, else a clear error")
    func resolve() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let other = scratch.file("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let environment = ["LSTMD_MNIST_DIR": other.path]

        #expect(try MNISTDirectory.resolve(explicit: scratch.url.path, environment: environment).path == scratch.url.path)
        #expect(try MNISTDirectory.resolve(explicit: nil, environment: environment).path == other.path)
        #expect(try MNISTDirectory.resolve(explicit: "", environment: environment).path == other.path)
        #expect(throws: MNISTError.directoryNotSpecified) {
            try MNISTDirectory.resolve(explicit: nil, environment: [:])
        }
        #expect(MNISTError.directoryNotSpecified.description.contains("LSTMD_MNIST_DIR"))
        #expect(MNISTError.directoryNotSpecified.description.contains("lstm-train fetch-mnist"))
        let absent = scratch.file("absent").path
        #expect(throws: MNISTError.directoryNotFound(path: absent)) {
            try MNISTDirectory.resolve(explicit: absent, environment: environment)
        }
        #expect(throws: MNISTError.directoryNotFound(path: absent)) {
            try MNISTDirectory.load(URL(fileURLWithPath: absent), split: .test)
        }
    }

    @Test(
        "the full MNIST set loads with verified checksums",
        .enabled(
            if: Fixtures.mnistDirectory != nil,
            "full MNIST not found: set LSTMD_MNIST_DIR or place it at ../shared/data/mnist"))
    func fullSet() throws {
        let directory = try #require(Fixtures.mnistDirectory)
        let train = try MNISTDirectory.load(directory, split: .train)
        let test = try MNISTDirectory.load(directory, split: .test)
        #expect(train.count == 60_000 && train.images.count == 60_000 * 784)
        #expect(test.count == 10_000 && test.images.count == 10_000 * 784)
        #expect(Array(train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(test.labels[0] == 7)
        let fixture = try MNISTDataset(
            split: .test, imagesFile: MNISTFixture.images1000, labelsFile: MNISTFixture.labels1000)
        #expect(test.prefix(1000) == fixture)
    }
}
