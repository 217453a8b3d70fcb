import Foundation
import LSTMServer
import Testing
import TestSupport

@Suite struct InstallTests {
    static let installScript = Repository.path("Scripts/install.sh")
    static let uninstallScript = Repository.path("Scripts/uninstall.sh")

    /// Runs install.sh --no-build from `buildDirectory` (default: this build's products) into a new
    /// temporary DESTDIR, which it returns.
    static func install(arguments: [String] = [], buildDirectory: URL = Fixtures.productsDirectory,
                        into destination: URL? = nil) throws -> URL {
        let destination = try destination ?? temporaryDirectory("lstmd-destdir")
        let result = try run(installScript, ["--no-build", "--build-dir", buildDirectory.path,
                                             "--destdir", destination.path] + arguments)
        try #require(result.status == 0, "install.sh failed:\n\(result.stdout)\n\(result.stderr)")
        return destination
    }

    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Every regular file under `root`, as absolute paths inside it ("/usr/bin/lstmd").
    static func files(under root: URL) -> Set<String> {
        var found: Set<String> = []
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                found.insert(String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count)))
            }
        }
        return found
    }

    @Test func installsEveryFileTheUnitsNeed() throws {
        let destination = try Self.install()
        defer { try? FileManager.default.removeItem(at: destination) }
        let fm = FileManager.default
        for binary in ["lstmd", "lstm-train", "lstm-client"] {
            #expect(fm.isExecutableFile(atPath: destination.path + "/usr/bin/" + binary), "\(binary)")
        }
        for unit in ["lstmd.service", "lstmd@.service"] {
            let text = try String(contentsOfFile: destination.path + "/usr/lib/systemd/system/" + unit, encoding: .utf8)
            let command = try #require(directive("ExecStart", in: text)).split(separator: " ").map(String.init)
            #expect(fm.isExecutableFile(atPath: destination.path + command[0]), "\(unit): \(command[0])")
            #expect(command[1] == "--config")
            if unit == "lstmd.service" {
                #expect(fm.fileExists(atPath: destination.path + command[2]), "\(unit): \(command[2])")
            }
        }
        let config = destination.path + "/etc/lstmd/lstmd.toml"
        let configuration = try DaemonConfiguration.load(fileAt: config)
        try configuration.validate()
        #expect(configuration.stateDirectory == "/var/lib/lstmd")
        for digits in ["mnist-t10k-50-images-idx3-ubyte.gz", "mnist-t10k-50-labels-idx1-ubyte.gz"] {
            #expect(fm.fileExists(atPath: destination.path + "/usr/share/lstm-client/" + digits), "\(digits)")
        }
        for doc in ["README.md", "control-protocol.md", "stream-protocol.md", "lstmd.toml.default"] {
            #expect(fm.fileExists(atPath: destination.path + "/usr/share/doc/lstmd/" + doc), "\(doc)")
        }
        // The installed daemon runs (its --help needs every shared library it links).
        let help = try run(destination.path + "/usr/bin/lstmd", ["--help"])
        #expect(help.status == 0 && help.stdout.contains("--config"), "\(help.stderr)")

        // The manifest lists exactly the files installed.
        let manifest = try String(contentsOfFile: destination.path + "/usr/share/lstmd/install-manifest.txt", encoding: .utf8)
        let listed = Set(manifest.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ", maxSplits: 1)
            return ["file", "config"].contains(parts[0]) ? String(parts[1]) : nil
        })
        #expect(listed.union(["/usr/share/lstmd/install-manifest.txt"]) == Self.files(under: destination))
    }

    @Test func installsTheDefaultModelWhenTheBuildHasOne() throws {
        // A build directory like a release build with the resource bundle.
        let build = try Self.temporaryDirectory("lstmd-build")
        defer { try? FileManager.default.removeItem(at: build) }
        for binary in ["lstmd", "lstm-train", "lstm-client"] {
            try FileManager.default.createSymbolicLink(at: build.appendingPathComponent(binary),
                                                       withDestinationURL: Fixtures.productsDirectory.appendingPathComponent(binary))
        }
        let bundle = build.appendingPathComponent("lstmd_LSTMDefaultModel.resources")
        try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: true)
        let model = Data((0..<200).map { UInt8($0) })
        try model.write(to: bundle.appendingPathComponent("default-model.safetensors"))

        let destination = try Self.install(arguments: ["--prefix", "/opt/lstmd"], buildDirectory: build)
        defer { try? FileManager.default.removeItem(at: destination) }
        let installed = destination.path + "/opt/lstmd/share/lstmd/default-model.safetensors"
        #expect(FileManager.default.contents(atPath: installed) == model)
        // Another prefix moves the binaries and units, and the units name the moved binary.
        let unit = try String(contentsOfFile: destination.path + "/opt/lstmd/lib/systemd/system/lstmd.service", encoding: .utf8)
        #expect(directive("ExecStart", in: unit) == "/opt/lstmd/bin/lstmd --config /etc/lstmd/lstmd.toml")
        #expect(directive("Documentation", in: unit) == "file:///opt/lstmd/share/doc/lstmd/README.md")
        #expect(FileManager.default.isExecutableFile(atPath: destination.path + "/opt/lstmd/bin/lstmd"))
        #expect(FileManager.default.fileExists(atPath: destination.path + "/etc/lstmd/lstmd.toml"))
    }

    @Test func neverOverwritesAnExistingConfig() throws {
        let destination = try Self.install()
        defer { try? FileManager.default.removeItem(at: destination) }
        let config = destination.path + "/etc/lstmd/lstmd.toml"
        let edited = "max-streams = 7\n"
        try edited.write(toFile: config, atomically: true, encoding: .utf8)
        _ = try Self.install(into: destination)
        #expect(try String(contentsOfFile: config, encoding: .utf8) == edited)
    }

    @Test func uninstallRemovesWhatInstallPutAndKeepsTheConfigUnlessPurged() throws {
        let destination = try Self.install()
        defer { try? FileManager.default.removeItem(at: destination) }
        // Something of the operator's beside the installed files stays.
        let mine = destination.path + "/usr/bin/other-tool"
        try "#!/bin/sh\n".write(toFile: mine, atomically: true, encoding: .utf8)

        let first = try run(Self.uninstallScript, ["--destdir", destination.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.files(under: destination) == ["/etc/lstmd/lstmd.toml", "/usr/bin/other-tool"])
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: destination.path + "/usr/share/lstmd"))
        #expect(!fm.fileExists(atPath: destination.path + "/usr/share/lstm-client"))
        #expect(!fm.fileExists(atPath: destination.path + "/usr/share/doc/lstmd"))

        // Again with --purge after a fresh install: the config and its directory go too.
        _ = try Self.install(into: destination)
        let purge = try run(Self.uninstallScript, ["--destdir", destination.path, "--purge"])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(Self.files(under: destination) == ["/usr/bin/other-tool"])
        #expect(!fm.fileExists(atPath: destination.path + "/etc/lstmd"))

        // Nothing installed: uninstall says so and fails.
        let none = try run(Self.uninstallScript, ["--destdir", destination.path])
        #expect(none.status != 0 && none.stderr.contains("no install manifest"))
    }

    @Test func badArgumentsAreRefused() throws {
        let unknown = try run(Self.installScript, ["--frobnicate"])
        #expect(unknown.status == 2 && unknown.stderr.contains("--frobnicate"))
        let relative = try run(Self.installScript, ["--no-build", "--prefix", "usr"])
        #expect(relative.status == 2 && relative.stderr.contains("absolute"))
        let empty = try Self.temporaryDirectory("lstmd-empty-build")
        defer { try? FileManager.default.removeItem(at: empty) }
        let missing = try run(Self.installScript, ["--no-build", "--build-dir", empty.path, "--destdir", empty.path])
        #expect(missing.status == 1 && missing.stderr.contains("lstmd is missing"))
    }
}
