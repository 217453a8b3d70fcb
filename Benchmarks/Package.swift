// swift-tools-version: 6.1
// Benchmarks for lstmd, kept out of the main package's build and CI. Build with -c release.
import PackageDescription

let package = Package(
    name: "lstmd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "lstmd", path: ".."),
    ],
    targets: [
        .executableTarget(name: "step-bench", dependencies: [
            .product(name: "LSTMCore", package: "lstmd"),
        ]),
        .executableTarget(name: "engine-bench", dependencies: [
            .product(name: "LSTMCore", package: "lstmd"),
            .product(name: "LSTMStreaming", package: "lstmd"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
