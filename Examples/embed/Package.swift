// swift-tools-version: 6.1
// Embedding lstmd's engine in another Swift program, through public API only (README, "Embedding").
import PackageDescription

let package = Package(
    name: "embed",
    platforms: [.macOS(.v15)],
    dependencies: [
        // No traits: only the libraries' dependencies are resolved, none of the daemon's.
        .package(name: "lstmd", path: "../..", traits: []),
    ],
    targets: [
        .executableTarget(name: "embed", dependencies: [
            .product(name: "LSTMStreaming", package: "lstmd"),
            .product(name: "LSTMDefaultModel", package: "lstmd"),
            .product(name: "MNIST", package: "lstmd"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
