import Foundation

/// Where the committed test fixtures live (`Tests/Fixtures`), found from this source file's path so
/// that every test target shares one copy.
public enum Fixtures {
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // TestSupport
        .deletingLastPathComponent()   // Tests
        .appendingPathComponent("Fixtures")

    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// The full MNIST set: `$LSTMD_MNIST_DIR`, else `../shared/data/mnist` beside the repository.
    /// Nil when absent, so that tests needing it can skip with a clear message.
    public static var mnistDirectory: URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["LSTMD_MNIST_DIR"], !env.isEmpty {
            return fm.fileExists(atPath: env) ? URL(fileURLWithPath: env) : nil
        }
        let sibling = directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/mnist")
        return fm.fileExists(atPath: sibling.appendingPathComponent("t10k-images-idx3-ubyte.gz").path) ? sibling : nil
    }

    /// Directory holding the package's built executables (next to the test bundle).
    public static var productsDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }
}
