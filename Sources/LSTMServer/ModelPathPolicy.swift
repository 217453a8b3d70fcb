import Foundation
import LSTMCore

/// Which files `reload` may load: only files inside the model directory. A relative name is
/// resolved there; `..` is refused before any file is touched, and so is an absolute path outside
/// the directory; a path whose symbolic links lead out of it is refused once resolved. The file
/// loaded is the resolved path, so a link changed after the check cannot redirect the load.
public enum ModelPathPolicy {
    /// The real path of the model file `requested` names inside `directory` (nil: no directory is
    /// configured). `realPath` resolves symbolic links, nil when the path does not exist.
    public static func resolve(_ requested: String, in directory: String?,
                               realPath: (String) -> String? = ModelPathPolicy.realPath) throws(ModelPathError) -> String {
        guard let configured = directory else { throw .noModelDirectory }
        let directory = configured.hasPrefix("/") ? configured : FileManager.default.currentDirectoryPath + "/" + configured
        guard !requested.isEmpty, !requested.utf8.contains(0) else { throw .invalidName }
        guard !requested.split(separator: "/").contains("..") else { throw .parentReference(requested) }
        guard let realDirectory = realPath(directory) else { throw .directoryMissing(directory) }
        let candidate = requested.hasPrefix("/") ? requested : directory + "/" + requested
        let lexical = normalized(candidate)
        guard isInside(lexical, directory: normalized(directory))
                || isInside(lexical, directory: realDirectory) else {
            throw .outsideDirectory(requested)
        }
        guard let resolved = realPath(candidate) else { throw .notFound(requested) }
        guard isInside(resolved, directory: realDirectory) else { throw .escapesDirectory(requested) }
        return resolved
    }

    /// `path` without empty and `.` components, by text alone (Foundation's `standardizingPath`
    /// would resolve symbolic links, touching files outside the directory).
    static func normalized(_ path: String) -> String {
        let components = path.split(separator: "/").filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + components.joined(separator: "/")
    }

    static func isInside(_ path: String, directory: String) -> Bool {
        let root = directory.hasSuffix("/") ? directory : directory + "/"
        return path.hasPrefix(root) && path.count > root.count
    }

    /// `realpath(3)`: the absolute path with every symbolic link resolved; nil when it fails.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Why `reload` refuses a path. The messages name only what the client sent and the rule.
public enum ModelPathError: Error, Equatable, CustomStringConvertible {
    case noModelDirectory
    case invalidName
    case parentReference(String)
    case directoryMissing(String)
    case outsideDirectory(String)
    case escapesDirectory(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .noModelDirectory:
            "reload with a model path needs a model directory (--model-dir); without a path it reloads the configured model"
        case .invalidName:
            "the model path is empty or holds a NUL byte"
        case let .parentReference(path):
            "model path \"\(path)\" refused: \"..\" may not be used; name a file inside the model directory"
        case let .directoryMissing(directory):
            "the model directory \(directory) does not exist"
        case let .outsideDirectory(path):
            "model path \"\(path)\" refused: it is outside the model directory"
        case let .escapesDirectory(path):
            "model path \"\(path)\" refused: its symbolic links lead outside the model directory"
        case let .notFound(path):
            "no model file \"\(path)\" in the model directory"
        }
    }
}

extension ModelError {
    /// What kind of problem the file has, in words that carry nothing read from it: `reload`
    /// answers clients with this, while the daemon's log keeps the full description.
    public var kind: String {
        switch self {
        case .unreadableFile: "the file cannot be read"
        case .unwritableFile: "the file cannot be written"
        case .fileTooShort, .truncatedHeader, .headerTooLarge, .invalidHeaderJSON, .headerNotObject:
            "not a safetensors file (its header is invalid)"
        case .metadataNotStringMap, .invalidMetadataValue: "invalid safetensors metadata"
        case .invalidTensorEntry, .unknownDType, .tensorOffsetsOutOfRange, .tensorsOverlap, .uncoveredData,
             .tensorSizeMismatch:
            "invalid safetensors tensor table"
        case .missingTensor, .unexpectedTensor, .inconsistentShapes:
            "not an LSTM + Linear model (tensor names or shapes do not fit)"
        case .nonFiniteWeight: "a weight is NaN or infinite"
        case .sizeLimitExceeded: "a size is beyond what lstmd serves (see model-format.md's limits)"
        }
    }
}
