// swift-tools-version: 6.1
// lstmd: a streaming LSTM inference daemon over ZeroMQ, with its trainer and client.
import PackageDescription

let package = Package(
    name: "lstmd",
    // macOS 15 (Synchronization's Mutex): the sources import Glibc or Darwin and convert binary16
    // themselves (x86_64 macOS has no Float16); systemd notifications and /proc metrics are
    // Linux-only and report or skip that elsewhere. Never built on macOS here; the tests are Linux-only.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lstmd", targets: ["lstmd"]),
        .executable(name: "lstm-train", targets: ["lstm-train"]),
        .executable(name: "lstm-client", targets: ["lstm-client"]),
        .library(name: "LSTMCore", targets: ["LSTMCore"]),
        // The engine with the vocabulary its API speaks (stream ids, row encodings, error codes, counters).
        .library(name: "LSTMStreaming", targets: ["LSTMStreaming", "WireProtocol"]),
        .library(name: "LSTMDefaultModel", targets: ["LSTMDefaultModel"]),
        .library(name: "MNIST", targets: ["MNIST"]),
        // The daemon as a library, for the fuzz targets of Fuzz/ (a separate package).
        .library(name: "LSTMServer", targets: ["LSTMServer"]),
        // A client of lstmd for other Swift programs: streams, predictions, several daemons.
        .library(name: "LSTMClientKit", targets: ["LSTMClientKit"]),
    ],
    // Everything but the libraries (LSTMCore, LSTMStreaming, LSTMDefaultModel, MNIST) needs the
    // packages below; an embedder depends with `traits: []` and resolves only swift-collections.
    traits: [
        .default(enabledTraits: ["Server"]),
        .trait(name: "Server", description: "The packages of the daemon, trainer and client."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries from Debian, each wrapped once.
        // zmq.h is in /usr/include: no pkg-config, whose libzmq Cflags SwiftPM warns about on every build.
        .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // SHA-256 of our own: the libraries hash without BoringSSL.
        .target(name: "Checksums"),
        // Model file, validation and the LSTM step kernels.
        .target(name: "LSTMCore", dependencies: ["Checksums"]),
        // The model lstmd serves when given none, as a resource (see README for the command that made it).
        .target(name: "LSTMDefaultModel", dependencies: ["LSTMCore"], resources: [
            .copy("Resources/default-model.safetensors"),
        ]),
        // MNIST IDX files: reading (raw or gzip), checksums, fetching.
        .target(name: "MNIST", dependencies: ["CZlib", "Checksums"]),
        // Backpropagation through time, Adam, checkpoints, evaluation, sweeps.
        .target(name: "LSTMTraining", dependencies: ["LSTMCore", "MNIST", "CBLAS"]),
        // The embeddable stream engine: stream table, sequencing rules, batching. No sockets.
        .target(name: "LSTMStreaming", dependencies: [
            "LSTMCore", "WireProtocol",
            .product(name: "DequeModule", package: "swift-collections"),
            "Checksums",
        ]),
        // Swift types over libzmq.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // The one version of the three executables.
        .target(name: "LSTMDRelease"),
        // What a terminal may be sent (TERM=dumb, NO_COLOR) and a progress line: lstm-client and lstm-train.
        .target(name: "TerminalOutput"),
        // Protocol frames (v2 and v1) and control JSON: encode/decode only.
        .target(name: "WireProtocol"),
        // The client library: one daemon (PUSH/SUB or DEALER) or several by rendezvous hashing.
        .target(name: "LSTMClientKit", dependencies: [
            "ZeroMQ", "WireProtocol", "Checksums",
        ]),
        // The daemon's loop: sockets + codec + engine.
        .target(name: "LSTMServer", dependencies: [
            "LSTMStreaming", "ZeroMQ", "WireProtocol", "LSTMCore", "LSTMDRelease",
            .product(name: "Logging", package: "swift-log", condition: .when(traits: ["Server"])),
            .product(name: "TOMLKit", package: "TOMLKit", condition: .when(traits: ["Server"])),
            .product(name: "Prometheus", package: "swift-prometheus", condition: .when(traits: ["Server"])),
            .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Server"])),
            .product(name: "NIOPosix", package: "swift-nio", condition: .when(traits: ["Server"])),
            .product(name: "NIOHTTP1", package: "swift-nio", condition: .when(traits: ["Server"])),
        ]),

        .executableTarget(name: "lstmd", dependencies: [
            "LSTMServer", "WireProtocol", "LSTMDefaultModel", "LSTMDRelease",
            .product(name: "ArgumentParser", package: "swift-argument-parser", condition: .when(traits: ["Server"])),
            .product(name: "Logging", package: "swift-log", condition: .when(traits: ["Server"])),
        ]),
        .executableTarget(name: "lstm-train", dependencies: [
            "LSTMTraining", "LSTMCore", "MNIST", "LSTMDRelease", "TerminalOutput",
            .product(name: "ArgumentParser", package: "swift-argument-parser", condition: .when(traits: ["Server"])),
        ]),
        .executableTarget(name: "lstm-client", dependencies: [
            "ZeroMQ", "WireProtocol", "MNIST", "LSTMDRelease", "LSTMClientKit", "TerminalOutput",
            .product(name: "ArgumentParser", package: "swift-argument-parser", condition: .when(traits: ["Server"])),
            .product(name: "Histogram", package: "hdrhistogram-swift", condition: .when(traits: ["Server"])),
        ], resources: [
            .copy("Resources/mnist-t10k-50-images-idx3-ubyte.gz"),
            .copy("Resources/mnist-t10k-50-labels-idx1-ubyte.gz"),
        ]),

        // libc functions glibc hides from Swift: pseudo-terminals, and closefrom for spawned children.
        .systemLibrary(name: "CTestSupport", path: "Tests/CTestSupport"),
        .target(name: "TestSupport", dependencies: ["LSTMCore", "MNIST", "CTestSupport"], path: "Tests/TestSupport"),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        .testTarget(name: "ChecksumsTests", dependencies: ["Checksums", "TestSupport"]),
        .testTarget(name: "LSTMCoreTests", dependencies: ["LSTMCore", "TestSupport"]),
        .testTarget(name: "MNISTTests", dependencies: ["MNIST", "TestSupport"]),
        .testTarget(name: "LSTMTrainingTests", dependencies: ["LSTMTraining", "LSTMCore", "MNIST", "TestSupport"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "WireProtocolTests", dependencies: ["WireProtocol", "LSTMStreaming", "TestSupport"]),
        .testTarget(name: "LSTMStreamingTests", dependencies: ["LSTMStreaming", "LSTMCore", "TestSupport", "WireProtocol"]),
        .target(name: "DaemonTestSupport", dependencies: ["TestSupport", "ZeroMQ", "WireProtocol"],
                path: "Tests/DaemonTestSupport"),
        .testTarget(name: "ClientTests", dependencies: [
            "DaemonTestSupport", "TestSupport", "LSTMCore", "MNIST", "WireProtocol", "ZeroMQ", "LSTMDRelease",
        ]),
        .testTarget(name: "ClientKitTests", dependencies: [
            "LSTMClientKit", "DaemonTestSupport", "TestSupport", "LSTMCore", "MNIST", "WireProtocol", "ZeroMQ",
        ]),
        .testTarget(name: "LSTMServerTests", dependencies: [
            "LSTMServer", "DaemonTestSupport", "TestSupport", "LSTMCore", "MNIST", "LSTMStreaming",
            "WireProtocol", "ZeroMQ", .product(name: "Logging", package: "swift-log", condition: .when(traits: ["Server"])),
        ]),
        // Operating the daemon: systemd units and notify, the default config, install scripts, metrics, health, logs.
        .testTarget(name: "OperationsTests", dependencies: ["LSTMServer", "TestSupport", "DaemonTestSupport", "WireProtocol", "ZeroMQ"]),
    ],
    swiftLanguageModes: [.v6]
)
