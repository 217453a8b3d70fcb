import ArgumentParser
import Foundation
import MNIST

@available(macOS 10.15, *)
struct FetchMNIST: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-mnist",
        abstract: "Download the four MNIST files into a directory, verifying their SHA-256.",
        discussion: "Example: lstm-train fetch-mnist --to mnist")

    @Option(help: "Directory to put the files in (created if needed).")
    var to: String

    func run() async throws {
        let results = try await MNISTFetcher().fetch(into: URL(fileURLWithPath: to))
        for result in results {
            switch result.outcome {
            case .alreadyPresent: print("\(result.file.gzipName): already present and valid")
            case let .downloaded(source, bytes): print("\(result.file.gzipName): downloaded \(bytes) bytes from \(source)")
            }
        }
    }
}
