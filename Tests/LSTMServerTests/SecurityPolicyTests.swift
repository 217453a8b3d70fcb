import Foundation
import LSTMCore
@testable import LSTMServer
import Testing
import WireProtocol
import ZeroMQ

@Suite struct ExposurePolicyTests {
    @Test(arguments: [
        "tcp://127.0.0.1:5555", "tcp://127.8.9.10:1", "tcp://localhost:5555", "tcp://lo:5555", "tcp://[::1]:5555",
        "tcp://[::ffff:127.0.0.1]:5555", "ipc:///run/lstmd/ingest", "ipc://@lstmd", "inproc://x",
    ])
    func loopbackEndpoints(endpoint: String) {
        #expect(ExposurePolicy.isLoopback(endpoint))
    }

    @Test(arguments: [
        "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.5:5555", "tcp://[::]:5555", "tcp://eth0:5555",
        "tcp://127.0.0.1.example.com:5555", "tcp://128.0.0.1:5555", "tcp://[::ffff:10.0.0.1]:5555",
        "ws://127.0.0.1:5555", "udp://127.0.0.1:5555", "tcp://127.0.0.1", "127.0.0.1:5555",
    ])
    func exposedEndpoints(endpoint: String) {
        #expect(!ExposurePolicy.isLoopback(endpoint))
    }

    @Test func anExposedSocketNeedsCurveOrInsecure() throws {
        var configuration = DaemonConfiguration()
        configuration.control = "tcp://0.0.0.0:5557"
        configuration.results = "tcp://*:5558"
        let endpoints = configuration.boundEndpoints
        do {
            try ExposurePolicy.check(endpoints, curve: false, insecure: false)
            Issue.record("plain ZeroMQ on 0.0.0.0 must be refused")
        } catch {
            #expect(error.exposed == ["control tcp://0.0.0.0:5557", "results tcp://*:5558"])
            #expect(error.description.contains("--insecure") && error.description.contains("--curve-secret-key"))
        }
        try ExposurePolicy.check(endpoints, curve: true, insecure: false)
        try ExposurePolicy.check(endpoints, curve: false, insecure: true)
        try ExposurePolicy.check(DaemonConfiguration().boundEndpoints, curve: false, insecure: false)
    }

    @Test func curveSettingsComeTogether() throws {
        var configuration = DaemonConfiguration()
        configuration.curveAuthorizedKeys = "/etc/lstmd/clients.d"
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.curveAuthorizedKeys = nil
        configuration.curveSecretKey = "/run/credentials/lstmd.service/lstmd.key"
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.curveAdminKeys = "/etc/lstmd/admins"
        try configuration.validate()
    }

    @Test func securityKeysReadFromTOML() throws {
        let path = NSTemporaryDirectory() + "lstmd-security-\(UUID().uuidString.prefix(8)).toml"
        try """
            model-dir = "/var/lib/lstmd/models"
            curve-secret-key = "/run/credentials/lstmd.service/lstmd.key"
            curve-authorized-keys = "/etc/lstmd/clients.d"
            curve-admin-keys = "/etc/lstmd/admins"
            insecure = true
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try DaemonConfiguration.load(fileAt: path)
        #expect(configuration.modelDirectory == "/var/lib/lstmd/models")
        #expect(configuration.curveSecretKey == "/run/credentials/lstmd.service/lstmd.key")
        #expect(configuration.curveAuthorizedKeys == "/etc/lstmd/clients.d")
        #expect(configuration.curveAdminKeys == "/etc/lstmd/admins")
        #expect(configuration.insecure)
    }
}

@Suite struct ControlAccessTests {
    @Test func onlyAdminsChangeTheDaemonUnderCurve() throws {
        let stream = try StreamID("s")
        let changing: [ControlRequest] = [.reload(model: nil), .reload(model: "m.safetensors"), .drop(stream: stream)]
        let reading: [ControlRequest] = [.ping, .status, .streams(), .metrics]
        for request in changing {
            #expect(ControlAccess.refusal(of: request, by: .curve(.admin)) == nil)
            #expect(ControlAccess.refusal(of: request, by: .curve(.client))?.code == .forbidden)
            #expect(ControlAccess.refusal(of: request, by: .curve(nil))?.code == .forbidden)
            #expect(ControlAccess.refusal(of: request, by: .unauthenticated) == nil, "plain mode: loopback only")
        }
        for request in reading {
            #expect(ControlAccess.refusal(of: request, by: .curve(.client)) == nil)
        }
    }

    @Test func theRequesterComesFromTheSocketAndTheUserID() {
        #expect(ControlRequester(curve: false, userID: nil) == .unauthenticated)
        #expect(ControlRequester(curve: false, userID: "admin") == .unauthenticated)
        #expect(ControlRequester(curve: true, userID: "admin") == .curve(.admin))
        #expect(ControlRequester(curve: true, userID: "client") == .curve(.client))
        #expect(ControlRequester(curve: true, userID: "root") == .curve(nil), "an unknown user id gets the least role")
        #expect(ControlRequester(curve: true, userID: nil) == .curve(nil))
    }

    @Test func rolesFromKeySets() throws {
        let (a, c, s) = (try ZMQCurve.generateKeyPair().publicKey, try ZMQCurve.generateKeyPair().publicKey,
                         try ZMQCurve.generateKeyPair().publicKey)
        let keys = AuthorizedKeys(clients: [c], admins: [a])
        #expect(keys.role(of: a) == .admin && keys.role(of: c) == .client && keys.role(of: s) == nil)
    }
}

@Suite struct ModelPathPolicyTests {
    /// A model directory with a model, a subdirectory, a link inside and a link out, and a file beside it.
    func makeTree() throws -> (root: String, models: String) {
        let root = NSTemporaryDirectory() + "lstmd-paths-\(UUID().uuidString.prefix(8))"
        let models = root + "/models"
        try FileManager.default.createDirectory(atPath: models + "/v2", withIntermediateDirectories: true)
        for file in [models + "/a.safetensors", models + "/v2/b.safetensors", root + "/secret"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        }
        try FileManager.default.createSymbolicLink(atPath: models + "/current.safetensors", withDestinationPath: "v2/b.safetensors")
        try FileManager.default.createSymbolicLink(atPath: models + "/out.safetensors", withDestinationPath: "../secret")
        try FileManager.default.createSymbolicLink(atPath: models + "/etc", withDestinationPath: "/etc")
        return (root, models)
    }

    @Test func namesInsideTheDirectoryResolve() throws {
        let (_, models) = try makeTree()
        let real = try #require(ModelPathPolicy.realPath(models))
        #expect(try ModelPathPolicy.resolve("a.safetensors", in: models) == real + "/a.safetensors")
        #expect(try ModelPathPolicy.resolve("v2/b.safetensors", in: models) == real + "/v2/b.safetensors")
        #expect(try ModelPathPolicy.resolve("./v2//b.safetensors", in: models) == real + "/v2/b.safetensors")
        #expect(try ModelPathPolicy.resolve(models + "/a.safetensors", in: models) == real + "/a.safetensors")
        #expect(try ModelPathPolicy.resolve("current.safetensors", in: models) == real + "/v2/b.safetensors",
                "a link that stays inside is followed")
        let relative = String(repeating: "../", count: FileManager.default.currentDirectoryPath.split(separator: "/").count)
            + models.dropFirst()
        #expect(try ModelPathPolicy.resolve("a.safetensors", in: relative) == real + "/a.safetensors", "a relative directory")
    }

    @Test func escapesAreRefused() throws {
        let (root, models) = try makeTree()
        #expect(throws: ModelPathError.parentReference("../secret")) { try ModelPathPolicy.resolve("../secret", in: models) }
        #expect(throws: ModelPathError.parentReference("v2/../../secret")) { try ModelPathPolicy.resolve("v2/../../secret", in: models) }
        #expect(throws: ModelPathError.outsideDirectory("/etc/passwd")) { try ModelPathPolicy.resolve("/etc/passwd", in: models) }
        #expect(throws: ModelPathError.outsideDirectory(root + "/secret")) { try ModelPathPolicy.resolve(root + "/secret", in: models) }
        #expect(throws: ModelPathError.outsideDirectory(models)) { try ModelPathPolicy.resolve(models, in: models) }
        #expect(throws: ModelPathError.escapesDirectory("out.safetensors")) { try ModelPathPolicy.resolve("out.safetensors", in: models) }
        #expect(throws: ModelPathError.escapesDirectory("etc/passwd")) { try ModelPathPolicy.resolve("etc/passwd", in: models) }
        #expect(throws: ModelPathError.notFound("none.safetensors")) { try ModelPathPolicy.resolve("none.safetensors", in: models) }
        #expect(throws: ModelPathError.noModelDirectory) { try ModelPathPolicy.resolve("a.safetensors", in: nil) }
        #expect(throws: ModelPathError.invalidName) { try ModelPathPolicy.resolve("", in: models) }
    }

    @Test func anOutsidePathIsRefusedWithoutTouchingIt() throws {
        let (_, models) = try makeTree()
        var looked: [String] = []
        _ = try? ModelPathPolicy.resolve("/etc/shadow", in: models) { path in looked.append(path); return ModelPathPolicy.realPath(path) }
        #expect(looked == [models], "only the directory is resolved; whether /etc/shadow exists is never asked")
    }

    @Test func theReloadDirectoryDefaultsToTheModelsDirectory() {
        var configuration = DaemonConfiguration()
        #expect(configuration.reloadDirectory == nil, "the embedded model: no reload by path")
        configuration.model = "/var/lib/lstmd/m.safetensors"
        #expect(configuration.reloadDirectory == "/var/lib/lstmd")
        configuration.model = "m.safetensors"
        #expect(configuration.reloadDirectory == ".")
        configuration.modelDirectory = "/srv/models"
        #expect(configuration.reloadDirectory == "/srv/models")
    }

    @Test func modelErrorKindsCarryNothingFromTheFile() throws {
        // /etc/passwd's first 8 bytes read as a header length: the kind says so without the number.
        let passwd = Array("root:x:0:0:root:/root:/bin/bash\n".utf8)
        do {
            _ = try LSTMModel.load(bytes: passwd)
            Issue.record("not a model")
        } catch {
            #expect(!error.description.contains("3475222254926655346"), "not even the full error carries the file's bytes")
            #expect(error.kind == "not a safetensors file (its header is invalid)")
            let kindHasDigits = error.kind.contains { $0.isNumber }
            #expect(!kindHasDigits)
        }
        let values: [ModelError] = [
            .invalidTensorEntry(tensor: "root:x", reason: "r"), .unknownDType(tensor: "t", dtype: "root"),
            .missingTensor("fc.bias"), .invalidMetadataValue(key: "k", value: "root:x:0", reason: "r"),
            .nonFiniteWeight(tensor: "t", index: 3, value: .nan), .unreadableFile(path: "/p", reason: "EACCES"),
        ]
        for value in values {
            #expect(!value.kind.contains("root") && !value.kind.contains("/p") && !value.kind.contains("EACCES"))
        }
    }
}
