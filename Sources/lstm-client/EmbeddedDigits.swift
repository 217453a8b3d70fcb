import ArgumentParser
import Foundation
import MNIST

/// Shapes of the digits the client sends.
enum Digits {
    /// Rows per digit: one ROW message each.
    static let rows = 28
    /// Pixels per row: the row's uint8 values.
    static let columns = 28
}

/// The first 50 MNIST test digits and their labels, shipped with the client (gzip IDX, made from
/// Tests/Fixtures/mnist-t10k-100-* by keeping the first 50), so that `classify` and `eval` work
/// without an MNIST directory.
///
/// Found beside the executable rather than through `Bundle.module`, whose accessor stops the
/// process when the bundle is not where the build put it (e.g. after installing the binary).
enum EmbeddedDigits {
    static let imagesName = "mnist-t10k-50-images-idx3-ubyte.gz"
    static let labelsName = "mnist-t10k-50-labels-idx1-ubyte.gz"

    /// Directories searched, in order: SwiftPM's resource bundle beside the executable, then
    /// where an installer puts shared data.
    static var candidateDirectories: [URL] {
        // Bundle.main finds the executable on Linux (/proc/self/exe) and macOS alike.
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let executableDirectory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        return [
            executableDirectory.appendingPathComponent("lstmd_lstm-client.resources"),
            executableDirectory.appendingPathComponent("../share/lstm-client").standardized,
            URL(fileURLWithPath: "/usr/share/lstm-client"),
        ]
    }

    /// Loads the embedded digits.
    static func load() throws -> MNISTDataset {
        let fileManager = FileManager.default
        guard let directory = candidateDirectories.first(where: {
            fileManager.fileExists(atPath: $0.appendingPathComponent(imagesName).path)
        }) else {
            throw CommandError.invalidArgument(
                "the built-in digits (\(imagesName)) are missing; looked in "
                    + candidateDirectories.map(\.path).joined(separator: ", ")
                    + ". Use --data DIR with an MNIST directory instead")
        }
        return try MNISTDataset(split: .test, imagesFile: directory.appendingPathComponent(imagesName),
                                labelsFile: directory.appendingPathComponent(labelsName))
    }
}

/// Where MNIST digits come from: `--data`, `--images`/`--labels`, `LSTMD_MNIST_DIR`, or the
/// built-in 50.
struct DigitSourceOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "MNIST directory whose test set (t10k-*-ubyte[.gz], checksums verified) to use. (default: $LSTMD_MNIST_DIR, else the 50 built-in test digits)",
        valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("An IDX image file (raw or gzip) to use instead of --data; needs --labels.", valueName: "file"))
    var images: String?

    @Option(help: ArgumentHelp("The IDX label file that goes with --images.", valueName: "file"))
    var labels: String?

    func validate() throws {
        if (images == nil) != (labels == nil) { throw ValidationError("--images and --labels go together") }
        if images != nil && data != nil { throw ValidationError("give --data or --images/--labels, not both") }
    }

    /// The digits and a short description of where they came from.
    func load() throws -> (digits: MNISTDataset, origin: String) {
        if let images, let labels {
            let set = try MNISTDataset(split: .test, imagesFile: URL(fileURLWithPath: images),
                                       labelsFile: URL(fileURLWithPath: labels))
            return (set, images)
        }
        let directory: URL
        do {
            directory = try MNISTDirectory.resolve(explicit: data)
        } catch .directoryNotSpecified {
            return (try EmbeddedDigits.load(), "built-in test digits")
        }
        return (try MNISTDirectory.load(directory, split: .test), "MNIST test set in \(directory.path)")
    }
}
