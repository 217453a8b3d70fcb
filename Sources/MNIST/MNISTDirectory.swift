import Foundation

/// A directory holding the MNIST files under their canonical names, gzip (`.gz`) or raw.
public enum MNISTDirectory {
    /// The environment variable naming the MNIST directory when no flag does.
    public static let environmentVariable = "LSTMD_MNIST_DIR"

    /// The MNIST directory: `explicit` (a command-line flag's value) when given, else
    /// `$LSTMD_MNIST_DIR`. Throws `.directoryNotSpecified` when neither is set (empty counts as
    /// unset) and `.directoryNotFound` when the chosen path is not a directory.
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(MNISTError) -> URL {
        let chosen = [explicit, environment[environmentVariable]]
            .compactMap { $0 }.first { !$0.isEmpty }
        guard let path = chosen else { throw .directoryNotSpecified }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw .directoryNotFound(path: path) }
        return URL(fileURLWithPath: path, isDirectory: true)
    }

    /// Where `file` is in `directory`: `NAME.gz` if present (the form the fetcher writes), else
    /// the raw `NAME`, else nil.
    public static func location(of file: MNISTFile, in directory: URL) -> URL? {
        [file.gzipName, file.name]
            .map { directory.appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Loads `split` from `directory`. With `verify`, the SHA-256 of each decompressed file must be
    /// the canonical one. Missing files are reported together, by name, with how to get them.
    public static func load(_ directory: URL, split: MNISTSplit, verify: Bool = true)
        throws(MNISTError) -> MNISTDataset
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw .directoryNotFound(path: directory.path) }

        let imagesFile = MNISTFile.images(split)
        let labelsFile = MNISTFile.labels(split)
        let imagesURL = location(of: imagesFile, in: directory)
        let labelsURL = location(of: labelsFile, in: directory)
        guard let imagesURL, let labelsURL else {
            let missing = [(imagesFile, imagesURL), (labelsFile, labelsURL)]
                .filter { $0.1 == nil }.map { $0.0.name }
            throw .missingFiles(names: missing, directory: directory.path)
        }
        let checksums = verify ? (imagesFile.canonicalSHA256, labelsFile.canonicalSHA256) : nil
        return try MNISTDataset(
            split: split, imagesFile: imagesURL, labelsFile: labelsURL, checksums: checksums)
    }
}
