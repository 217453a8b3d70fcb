import Foundation
import MNIST
import TestSupport
import Testing

@Suite("MNIST fetcher")
struct MNISTFetcherTests {
    @Test("fetching from a local mirror writes verified files; a second fetch keeps them")
    func fetchFromLocalMirror() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let mirror = scratch.file("mirror")
        let checksums = try MNISTFixture.makeMirror(in: mirror)
        let target = scratch.file("data")
        let fetcher = MNISTFetcher(sources: [LocalMirror(directory: mirror)], checksums: checksums)

        let first = try await fetcher.fetch(into: target)
        #expect(first.map(\.file) == MNISTFile.allCases)
        for result in first {
            let size = try Data(contentsOf: mirror.appendingPathComponent(result.file.gzipName)).count
            #expect(result.outcome == .downloaded(source: mirror.path, bytes: size))
            #expect(result.url == target.appendingPathComponent(result.file.gzipName))
        }
        let written = try FileManager.default.contentsOfDirectory(atPath: target.path).sorted()
        #expect(written == MNISTFile.allCases.map(\.gzipName).sorted())  // no temporary files left

        let second = try await fetcher.fetch(into: target)
        #expect(second.allSatisfy { $0.outcome == .alreadyPresent })
        #expect(try MNISTDirectory.load(target, split: .test, verify: false).labels[0] == 7)
    }

    @Test("a mirror serving wrong content is rejected, naming the file and both hashes")
    func wrongContentRejected() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let mirror = scratch.file("mirror")
        var checksums = try MNISTFixture.makeMirror(in: mirror)
        // The mirror serves the 100-digit labels where the 1,000-digit ones are expected.
        checksums[.testLabels] = MNISTFixture.labels1000SHA256
        let target = scratch.file("data")
        let fetcher = MNISTFetcher(sources: [LocalMirror(directory: mirror)], checksums: checksums)

        let error = await #expect(throws: MNISTError.self) {
            try await fetcher.fetch([.testLabels], into: target)
        }
        let served = "t10k-labels-idx1-ubyte.gz from \(mirror.path)"
        #expect(
            error == .fetchFailed(
                file: "t10k-labels-idx1-ubyte.gz",
                failures: [
                    .checksumMismatch(
                        file: served, expected: MNISTFixture.labels1000SHA256,
                        actual: MNISTFixture.labels100SHA256)
                ]))
        let message = error?.description ?? ""
        #expect(message.contains(MNISTFixture.labels1000SHA256) && message.contains(MNISTFixture.labels100SHA256))
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
    }

    @Test("when the first mirror lacks a file, the second one serves it")
    func fallsBackToSecondMirror() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let empty = scratch.file("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let mirror = scratch.file("mirror")
        let checksums = try MNISTFixture.makeMirror(in: mirror)
        // An HTTP mirror on a closed loopback port fails too, before the good one is reached.
        let refused = HTTPMirror(baseURL: URL(string: "http://127.0.0.1:9/mnist/")!)
        let fetcher = MNISTFetcher(
            sources: [LocalMirror(directory: empty), refused, LocalMirror(directory: mirror)],
            checksums: checksums)

        let results = try await fetcher.fetch([.testImages, .testLabels], into: scratch.file("data"))
        #expect(results.allSatisfy {
            if case .downloaded(source: mirror.path, _) = $0.outcome { true } else { false }
        })

        let nowhere = MNISTFetcher(sources: [LocalMirror(directory: empty), refused], checksums: checksums)
        let error = await #expect(throws: MNISTError.self) {
            try await nowhere.fetch([.testImages], into: scratch.file("elsewhere"))
        }
        guard case let .fetchFailed(file, failures)? = error, failures.count == 2 else {
            Issue.record("expected two failures, got \(String(describing: error))")
            return
        }
        #expect(file == "t10k-images-idx3-ubyte.gz")
        #expect(failures[0] == .sourceUnavailable(file: file, source: empty.path, reason: "no such file"))
        guard case let .sourceUnavailable(_, source, _) = failures[1] else {
            Issue.record("expected the HTTP mirror to be unavailable, got \(failures[1])")
            return
        }
        #expect(source == "http://127.0.0.1:9/mnist/")
    }

    @Test(
        "an HTTP mirror on loopback serves files, and a 404 moves on to the next mirror",
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: LoopbackHTTPServer.python),
            "no \(LoopbackHTTPServer.python) to serve files over HTTP"))
    func httpMirror() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let mirror = scratch.file("mirror")
        let checksums = try MNISTFixture.makeMirror(in: mirror)
        let server = try LoopbackHTTPServer(serving: mirror)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)/"
        let wrongPath = HTTPMirror(baseURL: URL(string: base + "nowhere/")!)
        let good = HTTPMirror(baseURL: URL(string: base)!)

        let results = try await MNISTFetcher(sources: [wrongPath, good], checksums: checksums)
            .fetch(into: scratch.file("data"))
        #expect(results.count == 4)
        #expect(results.allSatisfy {
            if case .downloaded(source: base, _) = $0.outcome { true } else { false }
        })
        #expect(try MNISTDirectory.load(scratch.file("data"), split: .train, verify: false).count == 1000)

        let error = await #expect(throws: MNISTError.self) {
            try await MNISTFetcher(sources: [wrongPath], checksums: checksums)
                .fetch([.testLabels], into: scratch.file("other"))
        }
        #expect(
            error == .fetchFailed(
                file: "t10k-labels-idx1-ubyte.gz",
                failures: [
                    .sourceUnavailable(
                        file: "t10k-labels-idx1-ubyte.gz", source: base + "nowhere/",
                        reason: "HTTP 404 for \(base)nowhere/t10k-labels-idx1-ubyte.gz")
                ]))
    }

    @Test("an invalid file already in place is replaced")
    func replacesInvalidFile() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let mirror = scratch.file("mirror")
        let checksums = try MNISTFixture.makeMirror(in: mirror)
        let target = scratch.file("data")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        // Four bytes that start like gzip and are not.
        try Data([0x1f, 0x8b, 0, 0]).write(to: target.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))

        let fetcher = MNISTFetcher(sources: [LocalMirror(directory: mirror)], checksums: checksums)
        let results = try await fetcher.fetch([.testLabels], into: target)
        #expect(results.first?.outcome == .downloaded(source: mirror.path, bytes: 83))
        #expect(IDX.sha256Hex(try IDX.contents(of: target.appendingPathComponent("t10k-labels-idx1-ubyte.gz")))
            == MNISTFixture.labels100SHA256)
    }

    @Test(
        "the full MNIST set fetched from a local mirror matches the canonical checksums",
        .enabled(
            if: Fixtures.mnistDirectory != nil,
            "full MNIST not found: set LSTMD_MNIST_DIR or place it at ../shared/data/mnist"))
    func canonicalFetchFromLocalMirror() async throws {
        let source = try #require(Fixtures.mnistDirectory)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let results = try await MNISTFetcher(sources: [LocalMirror(directory: source)])
            .fetch(into: scratch.url)
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0.outcome == .downloaded(source: source.path, bytes: (try? Data(contentsOf: $0.url).count) ?? -1) })
        #expect(try MNISTDirectory.load(scratch.url, split: .test).count == 10_000)
    }
}

/// Python's `http.server` on a free loopback port, serving one directory, until `stop()`.
final class LoopbackHTTPServer {
    static let python = "/usr/bin/python3"

    let child: ChildProcess
    let port: Int

    init(serving directory: URL) throws {
        child = try ChildProcess(URL(fileURLWithPath: Self.python),
                                 ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory.path])
        // "Serving HTTP on 127.0.0.1 port 40491 (http://127.0.0.1:40491/) ..." (the request log goes
        // to stderr); if the server fails to start, it exits.
        let deadline = Date().addingTimeInterval(10)
        var banner = child.stdoutSoFar
        while !banner.contains("\n") && child.process.isRunning && Date() < deadline {
            usleep(10_000)
            banner = child.stdoutSoFar
        }
        guard let range = banner.range(of: "port "),
            let port = Int(banner[range.upperBound...].prefix { $0.isNumber })
        else {
            kill(child.process.processIdentifier, SIGKILL)
            throw HarnessError("http.server said: \(banner) \(child.stderrSoFar)")
        }
        self.port = port
    }

    /// SIGKILL, not `terminate()`: a child started from the test runner inherits a signal mask
    /// that blocks SIGTERM, so SIGTERM would stay pending and the wait would never end.
    func stop() {
        kill(child.process.processIdentifier, SIGKILL)
        child.process.waitUntilExit()
    }
}
