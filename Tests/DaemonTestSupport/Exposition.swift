import Foundation
import TestSupport

/// A Prometheus text exposition as a test reads it: samples keyed by `name{labels}` as printed,
/// and each family's `# TYPE` and `# HELP`.
public struct Exposition {
    public var samples: [String: Double] = [:]
    public var types: [String: String] = [:]
    public var helps: [String: String] = [:]

    public init(_ text: String) throws {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count == 4 else { throw HarnessError("a comment line without name and text: \(line)") }
                if parts[1] == "TYPE" { types[String(parts[2])] = String(parts[3]) } else { helps[String(parts[2])] = String(parts[3]) }
            } else if !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                    throw HarnessError("a sample line without a value: \(line)")
                }
                samples[String(line[..<space])] = value
            }
        }
    }

    public subscript(_ key: String) -> Double? { samples[key] }

    /// The samples of the family `name` (not those of `name_bucket`, `name_sum`, …), by `name{labels}`.
    public func series(_ name: String) -> [String: Double] {
        samples.filter { $0.key == name || $0.key.hasPrefix(name + "{") }
    }
}
