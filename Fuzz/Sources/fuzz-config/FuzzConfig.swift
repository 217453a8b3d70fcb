import FuzzSupport
import Foundation
import LSTMServer

/// The daemon's TOML config file: TOMLKit's parser, then the strict decoding of the settings and
/// their validation. Through a file because that is the only way the daemon reads one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let path = configPath
    guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { violated("cannot write \(path)") }
    // toml++ aborts on some table headers (Sources/LSTMServer/TOMLSubsetCheck.swift); skip what the
    // check refuses, as DaemonConfiguration.load will once it calls it, to find what else there is.
    guard TOMLSubsetCheck.problem(in: String(decoding: input, as: UTF8.self)) == nil else { return 0 }
    if let configuration = try? DaemonConfiguration.load(fileAt: path) {
        _ = try? configuration.validate()
    }
    return 0
}

/// One file per fuzzing process, in memory when /dev/shm exists.
private let configPath: String = {
    let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return directory + "/lstmd-fuzz-config-\(getpid()).toml"
}()
