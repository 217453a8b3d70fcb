import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A place the gzip MNIST files can be fetched from: an HTTP mirror, a local directory, or a
/// test double. Sources are tried in order; one that fails only moves the fetcher to the next.
public protocol MNISTSource: Sendable {
    /// Where the source is, for messages: a base URL or a directory path.
    var location: String { get }

    /// The stored bytes of `fileName` (a mirror's name, such as `t10k-images-idx3-ubyte.gz`).
    /// Throws `.sourceUnavailable` when the source cannot deliver it.
    func data(for fileName: String) async throws(MNISTError) -> Data
}

/// An HTTP(S) mirror serving the four `.gz` files under one base URL.
public struct HTTPMirror: MNISTSource {
    /// The directory URL the file names are appended to.
    public let baseURL: URL

    /// A mirror serving `baseURL/train-images-idx3-ubyte.gz` and the others.
    public init(baseURL: URL) { self.baseURL = baseURL }

    public var location: String { baseURL.absoluteString }

    public func data(for fileName: String) async throws(MNISTError) -> Data {
        let url = baseURL.appendingPathComponent(fileName)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(from: url)
        } catch {
            throw .sourceUnavailable(file: fileName, source: location, reason: error.localizedDescription)
        }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw .sourceUnavailable(
                file: fileName, source: location,
                reason: "HTTP \(http.statusCode) for \(url.absoluteString)")
        }
        return data
    }
}

/// A local directory laid out like a mirror (for example a copy of the data on another disk).
public struct LocalMirror: MNISTSource {
    /// The directory holding the files.
    public let directory: URL

    /// A mirror reading `directory/train-images-idx3-ubyte.gz` and the others.
    public init(directory: URL) { self.directory = directory }

    public var location: String { directory.path }

    public func data(for fileName: String) async throws(MNISTError) -> Data {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .sourceUnavailable(file: fileName, source: location, reason: "no such file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .sourceUnavailable(file: fileName, source: location, reason: error.localizedDescription)
        }
    }
}

/// What `MNISTFetcher.fetch` did for one file.
public struct MNISTFetchResult: Sendable, Equatable {
    /// Whether the file was downloaded or kept.
    public enum Outcome: Sendable, Equatable {
        /// A valid copy was already in the directory; nothing was downloaded.
        case alreadyPresent
        /// Downloaded from the source at `source` (its `location`): `bytes` as stored (gzip).
        case downloaded(source: String, bytes: Int)
    }

    /// The file.
    public let file: MNISTFile
    /// Where it now is.
    public let url: URL
    /// What was done.
    public let outcome: Outcome
}

/// Downloads the MNIST files into a directory, trying the sources in order, and verifying the
/// SHA-256 of each decompressed file before it is moved into place.
public struct MNISTFetcher: Sendable {
    /// Public mirrors of the canonical gzip files, in the order they are tried by default.
    public static let defaultMirrors: [URL] = [
        URL(string: "https://storage.googleapis.com/cvdf-datasets/mnist/")!,
        URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!,
    ]

    /// Where files come from, tried in order.
    public let sources: [any MNISTSource]
    /// Expected SHA-256 of each decompressed file; files missing from the table are checked
    /// against their canonical checksum.
    public let checksums: [MNISTFile: String]

    /// A fetcher over `sources` (by default the public HTTP mirrors) expecting `checksums` (by
    /// default the canonical ones; tests pass their fixtures').
    public init(
        sources: [any MNISTSource] = defaultMirrors.map(HTTPMirror.init(baseURL:)),
        checksums: [MNISTFile: String] = MNISTFile.canonicalChecksums
    ) {
        self.sources = sources
        self.checksums = checksums
    }

    /// Makes sure each of `files` is in `directory` (created if needed) as `NAME.gz` with the
    /// expected content. Files already present and valid are kept; others are downloaded to a
    /// temporary file in `directory`, verified, then renamed into place, so a failed or
    /// interrupted fetch never leaves a partial file under the real name.
    public func fetch(_ files: [MNISTFile] = MNISTFile.allCases, into directory: URL)
        async throws(MNISTError) -> [MNISTFetchResult]
    {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(file: directory.path, reason: error.localizedDescription)
        }
        var results: [MNISTFetchResult] = []
        for file in files {
            results.append(try await fetch(file, into: directory))
        }
        return results
    }

    private func fetch(_ file: MNISTFile, into directory: URL) async throws(MNISTError)
        -> MNISTFetchResult
    {
        let expected = (checksums[file] ?? file.canonicalSHA256).lowercased()
        if let present = MNISTDirectory.location(of: file, in: directory),
            (try? IDX.sha256Hex(IDX.contents(of: present))) == expected
        {
            return MNISTFetchResult(file: file, url: present, outcome: .alreadyPresent)
        }
        let destination = directory.appendingPathComponent(file.gzipName)
        var failures: [MNISTError] = []
        for source in sources {
            do {
                let data = try await source.data(for: file.gzipName)
                try verify(data, file: file, source: source, expected: expected)
                try writeAtomically(data, to: destination)
                return MNISTFetchResult(
                    file: file, url: destination,
                    outcome: .downloaded(source: source.location, bytes: data.count))
            } catch {
                if case .cannotWrite = error { throw error }  // another mirror will not help
                failures.append(error)
            }
        }
        throw .fetchFailed(file: file.gzipName, failures: failures)
    }

    /// Decompresses (when gzip) and checks the SHA-256 of what `source` delivered.
    private func verify(_ data: Data, file: MNISTFile, source: any MNISTSource, expected: String)
        throws(MNISTError)
    {
        let described = "\(file.gzipName) from \(source.location)"
        let stored = [UInt8](data)
        let content = Gzip.isCompressed(stored) ? try Gzip.decompress(stored, file: described) : stored
        let actual = IDX.sha256Hex(content)
        guard actual == expected else {
            throw .checksumMismatch(file: described, expected: expected, actual: actual)
        }
    }

    /// Writes to a hidden temporary file beside `destination`, then renames it over `destination`
    /// (atomic within one file system).
    private func writeAtomically(_ data: Data, to destination: URL) throws(MNISTError) {
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).partial")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .cannotWrite(file: temporary.path, reason: error.localizedDescription)
        }
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .cannotWrite(file: destination.path, reason: "rename from \(temporary.path) failed: \(reason)")
        }
    }
}
