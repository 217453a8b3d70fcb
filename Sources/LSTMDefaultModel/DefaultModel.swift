import Foundation
import LSTMCore

/// The model lstmd serves when given none: 1 layer of 128 units over 28-pixel MNIST rows, 98.91 % on
/// the MNIST test set (README, "The model and num_units", has the command that made it). A package
/// resource of this library, so that any program depending on it can load it.
public enum DefaultModel {
    /// The file's name, in the resource bundle and where an installer puts it.
    public static let fileName = "default-model.safetensors"
    /// The name SwiftPM gives this target's resource bundle (package name, target name).
    static let bundleName = "lstmd_LSTMDefaultModel"

    /// Where the file is: the resource bundle beside the running executable (SwiftPM puts it there
    /// in every package that depends on this library), else where an installer put it. Searched by
    /// hand rather than through `Bundle.module`, whose accessor stops the process when the bundle is
    /// not where the build left it (e.g. after installing the binary).
    public static var url: URL? {
        let executableDirectory = Bundle.main.bundleURL
        let bundles = [".resources", ".bundle"].compactMap {
            Bundle(url: executableDirectory.appendingPathComponent(bundleName + $0))
        }
        let candidates = bundles.compactMap { $0.url(forResource: "default-model", withExtension: "safetensors") } + [
            executableDirectory.appendingPathComponent("../share/lstmd/\(fileName)").standardized,
            URL(fileURLWithPath: "/usr/share/lstmd/\(fileName)"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Loads and validates the default model.
    public static func load() throws(ModelError) -> LSTMModel {
        guard let url else {
            throw .unreadableFile(path: fileName, reason: "not found in the \(bundleName) resource bundle beside the "
                                  + "executable (\(Bundle.main.bundleURL.path)) nor where an installer puts it")
        }
        return try LSTMModel.load(contentsOf: url)
    }
}
