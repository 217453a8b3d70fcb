// swift-tools-version: 6.1
// Coverage-guided fuzz targets (libFuzzer) for every lstmd parser that takes outside bytes. A
// separate package so that the main build and its tests never compile them; run through
// Scripts/fuzz.sh, which builds with `--sanitize fuzzer --sanitize address`.
import PackageDescription

let package = Package(
    name: "lstmd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "lstmd", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "fuzz-model", dependencies: [
            "FuzzSupport", .product(name: "LSTMCore", package: "lstmd"),
            .product(name: "LSTMStreaming", package: "lstmd"),
        ]),
        .executableTarget(name: "fuzz-snapshot", dependencies: [
            "FuzzSupport", .product(name: "LSTMCore", package: "lstmd"),
            .product(name: "LSTMStreaming", package: "lstmd"),
        ]),
        .executableTarget(name: "fuzz-ingest", dependencies: ["FuzzSupport", .product(name: "LSTMStreaming", package: "lstmd")]),
        .executableTarget(name: "fuzz-prediction", dependencies: ["FuzzSupport", .product(name: "LSTMStreaming", package: "lstmd")]),
        .executableTarget(name: "fuzz-control", dependencies: ["FuzzSupport", .product(name: "LSTMStreaming", package: "lstmd")]),
        .executableTarget(name: "fuzz-control-reply", dependencies: ["FuzzSupport", .product(name: "LSTMStreaming", package: "lstmd")]),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzSupport", .product(name: "LSTMServer", package: "lstmd")]),
        .executableTarget(name: "fuzz-idx", dependencies: ["FuzzSupport", .product(name: "MNIST", package: "lstmd")]),
    ],
    swiftLanguageModes: [.v6]
)
