import Foundation
@testable import MNIST
import Testing

@Suite("IDX reading")
struct IDXReadingTests {
    @Test("the 100-digit fixture reads as the start of the real test set")
    func readsFixture() throws {
        let dataset = try MNISTDataset(
            split: .test, imagesFile: MNISTFixture.images100, labelsFile: MNISTFixture.labels100)
        #expect(dataset.count == 100)
        #expect(dataset.images.count == 100 * 784)
        #expect(dataset.labels[0] == 7)
        #expect(Array(dataset.labels.prefix(20)) == MNISTFixture.firstTestLabels)
        // Pixel sums of the first and last image and row 7 of the first, from Python.
        #expect(dataset.image(at: 0).reduce(0) { $0 + Int($1) } == 18454)
        #expect(dataset.image(at: 99).reduce(0) { $0 + Int($1) } == 30655)
        let row7 = Array(dataset.image(at: 0).dropFirst(7 * 28).prefix(28))
        #expect(row7 == [0, 0, 0, 0, 0, 0, 84, 185, 159, 151, 60, 36] + [UInt8](repeating: 0, count: 16))
        dataset.withImage(at: 99) { pixels in
            #expect(pixels.count == 784)
            #expect(Array(pixels) == Array(dataset.image(at: 99)))
        }
    }

    @Test("the 1,000-digit fixture extends the 100-digit one")
    func thousandFixture() throws {
        let small = try MNISTDataset(
            split: .test, imagesFile: MNISTFixture.images100, labelsFile: MNISTFixture.labels100)
        let large = try MNISTDataset(
            split: .test, imagesFile: MNISTFixture.images1000, labelsFile: MNISTFixture.labels1000,
            checksums: (MNISTFixture.images1000SHA256, MNISTFixture.labels1000SHA256))
        #expect(large.count == 1000)
        #expect(large.prefix(100) == small)
        // Digit counts of the first 1,000 test labels, from Python.
        let counts = (0...9).map { digit in large.labels.filter { $0 == digit }.count }
        #expect(counts == [85, 126, 116, 107, 110, 87, 87, 99, 89, 94])
    }

    @Test("decompressed bytes hash to what Python's hashlib printed")
    func decompressionMatchesPython() throws {
        #expect(IDX.sha256Hex(try IDX.contents(of: MNISTFixture.images1000)) == MNISTFixture.images1000SHA256)
        #expect(IDX.sha256Hex(try IDX.contents(of: MNISTFixture.labels100)) == MNISTFixture.labels100SHA256)
    }

    @Test("raw and gzip files give identical datasets")
    func rawEqualsGzip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let rawImages = try scratch.write(systemGzip(["-dc", MNISTFixture.images100.path]), "images")
        let rawLabels = try scratch.write(systemGzip(["-dc", MNISTFixture.labels100.path]), "labels")
        let raw = try MNISTDataset(split: .test, imagesFile: rawImages, labelsFile: rawLabels)
        let gzip = try MNISTDataset(
            split: .test, imagesFile: MNISTFixture.images100, labelsFile: MNISTFixture.labels100)
        #expect(raw == gzip)
        #expect(try IDX.contents(of: rawImages) == IDX.contents(of: MNISTFixture.images100))
    }

    @Test("a multi-member gzip file decompresses to all of its members")
    func multiMemberGzip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let raw = try systemGzip(["-dc", MNISTFixture.images100.path])
        let first = try scratch.write(Array(raw[..<30_000]), "first")
        let second = try scratch.write(Array(raw[30_000...]), "second")
        let joined = try systemGzip(["-c", first.path]) + systemGzip(["-c", second.path])
        let multi = try scratch.write(joined, "multi.gz")
        #expect(try IDX.contents(of: multi) == raw)
    }

    @Test("a wrong magic number is reported with the value read")
    func badMagic() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var labels = try IDX.contents(of: MNISTFixture.labels100)
        labels[2] = 0x07
        let file = try scratch.write(labels, "labels")
        #expect(throws: MNISTError.badMagic(file: file.path, expected: 0x801, found: 0x701)) {
            try IDX.labels(from: IDX.contents(of: file), file: file.path)
        }
        // Images and labels swapped: the labels file read as images.
        #expect(throws: MNISTError.badMagic(file: "swapped", expected: 0x803, found: 0x801)) {
            try IDX.images(from: IDX.contents(of: MNISTFixture.labels100), file: "swapped")
        }
        let error = MNISTError.badMagic(file: file.path, expected: 0x801, found: 0x701)
        #expect(error.description.contains("0x00000701"))
        #expect(error.description.contains(file.path))
    }

    @Test("truncated files report expected and actual byte counts")
    func truncated() throws {
        let images = try IDX.contents(of: MNISTFixture.images100)
        #expect(throws: MNISTError.truncated(file: "cut", expectedBytes: 78_416, actualBytes: 50_000)) {
            try IDX.images(from: Array(images.prefix(50_000)), file: "cut")
        }
        #expect(throws: MNISTError.truncated(file: "header", expectedBytes: 16, actualBytes: 10)) {
            try IDX.images(from: Array(images.prefix(10)), file: "header")
        }
        let labels = try IDX.contents(of: MNISTFixture.labels100)
        #expect(throws: MNISTError.truncated(file: "labels", expectedBytes: 108, actualBytes: 107)) {
            try IDX.labels(from: Array(labels.dropLast()), file: "labels")
        }
        let error = MNISTError.truncated(file: "cut", expectedBytes: 78_416, actualBytes: 50_000)
        #expect(error.description.contains("78416") && error.description.contains("50000"))
    }

    @Test("bytes beyond what the header calls for are rejected")
    func trailingBytes() throws {
        let labels = try IDX.contents(of: MNISTFixture.labels100)
        #expect(throws: MNISTError.trailingBytes(file: "long", expectedBytes: 108, actualBytes: 110)) {
            try IDX.labels(from: labels + [0, 0], file: "long")
        }
    }

    @Test("images that are not 28 × 28 are rejected")
    func wrongDimensions() throws {
        var images = try IDX.contents(of: MNISTFixture.images100)
        images[11] = 27  // rows: the last byte of the third header word
        #expect(
            throws: MNISTError.wrongDimensions(
                file: "dims", expectedRows: 28, expectedColumns: 28, rows: 27, columns: 28)
        ) {
            try IDX.images(from: images, file: "dims")
        }
    }

    @Test("labels outside 0...9 are rejected")
    func labelOutOfRange() throws {
        var labels = try IDX.contents(of: MNISTFixture.labels100)
        labels[8 + 42] = 10
        #expect(throws: MNISTError.labelOutOfRange(file: "labels", index: 42, value: 10)) {
            try IDX.labels(from: labels, file: "labels")
        }
    }

    @Test("damaged gzip data is reported with zlib's message")
    func corruptGzip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var compressed = [UInt8](try Data(contentsOf: MNISTFixture.images100))
        for offset in stride(from: 2_000, to: 2_400, by: 7) { compressed[offset] ^= 0x5a }
        let damaged = try scratch.write(compressed, "damaged.gz")
        let error = #expect(throws: MNISTError.self) { _ = try IDX.contents(of: damaged) }
        guard case let .corruptGzip(file, reason)? = error else {
            Issue.record("expected corruptGzip, got \(String(describing: error))")
            return
        }
        #expect(file == damaged.path)
        #expect(!reason.isEmpty && !reason.hasPrefix("zlib status"))  // zlib's own words

        let original = [UInt8](try Data(contentsOf: MNISTFixture.images100))
        let cut = try scratch.write(Array(original.prefix(original.count / 2)), "cut.gz")
        let cutError = #expect(throws: MNISTError.self) { _ = try IDX.contents(of: cut) }
        guard case let .corruptGzip(cutFile, cutReason)? = cutError else {
            Issue.record("expected corruptGzip, got \(String(describing: cutError))")
            return
        }
        #expect(cutFile == cut.path)
        #expect(cutReason.contains("truncated"))

        let trailing = try scratch.write(original + [1, 2, 3], "trailing.gz")
        #expect(
            throws: MNISTError.corruptGzip(
                file: trailing.path, reason: "3 bytes of non-gzip data after the gzip stream")
        ) {
            _ = try IDX.contents(of: trailing)
        }
    }

    @Test("a gzip stream that decompresses past the limit is refused before it is allocated")
    func gzipBomb() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // 4 MiB of zeros compress to about 4 KiB: a 1,000:1 bomb in miniature.
        let zeros = try scratch.write([UInt8](repeating: 0, count: 4 << 20), "zeros")
        let bomb = try systemGzip(["-c", zeros.path])
        #expect(bomb.count < 8 << 10)
        #expect(throws: MNISTError.decompressedTooLarge(file: "bomb.gz", limit: 1 << 20)) {
            _ = try Gzip.decompress(bomb, file: "bomb.gz", maxByteCount: 1 << 20)
        }
        // Exactly at the limit is fine; the library's own limit covers MNIST's largest file.
        #expect(try Gzip.decompress(bomb, file: "bomb.gz", maxByteCount: 4 << 20).count == 4 << 20)
        #expect(Gzip.maxDecompressedByteCount > 47_040_016)
    }

    @Test("image and label files of different lengths are a count mismatch")
    func countMismatch() throws {
        #expect(
            throws: MNISTError.countMismatch(
                imagesFile: MNISTFixture.images100.path, imageCount: 100,
                labelsFile: MNISTFixture.labels1000.path, labelCount: 1000)
        ) {
            try MNISTDataset(
                split: .test, imagesFile: MNISTFixture.images100, labelsFile: MNISTFixture.labels1000)
        }
    }

    @Test("a missing or unreadable file names the path")
    func unreadable() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let absent = scratch.file("absent")
        #expect(throws: MNISTError.unreadable(file: absent.path, reason: "no such file")) {
            _ = try IDX.contents(of: absent)
        }
        #expect(throws: MNISTError.unreadable(file: scratch.url.path, reason: "it is a directory")) {
            _ = try IDX.contents(of: scratch.url)
        }
    }
}
