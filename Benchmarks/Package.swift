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
        // The main package's OpenBLAS shim (a symlink to Sources/CBLAS: wrapped once), for the
        // OpenBLAS path the kernels are measured beside; lstmd's libraries link no BLAS, so no
        // product of lstmd carries it.
        .systemLibrary(name: "BenchmarkCBLAS"),
        .executableTarget(name: "step-bench", dependencies: [
            "BenchmarkCBLAS",
            .product(name: "LSTMCore", package: "lstmd"),
        ]),
        .executableTarget(name: "engine-bench", dependencies: [
            "BenchmarkCBLAS",
            .product(name: "LSTMCore", package: "lstmd"),
            .product(name: "LSTMStreaming", package: "lstmd"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
