import Foundation

/// The test vectors of `Protocols/*.md`, read from the specs themselves so that the tests and the
/// specs cannot disagree.
///
/// A ```` ```wire ```` block starts with `<ID> <title>` and lists frames as `[n] hex bytes ; comment`
/// or `[n] json <text>`. A ```` ```json <ID> ```` block holds one (possibly indented) JSON document.
enum SpecExamples {
    static let protocolsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // WireProtocolTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // package root
        .appendingPathComponent("Protocols")

    static func text(_ document: String) throws -> String {
        try String(contentsOf: protocolsDirectory.appendingPathComponent(document), encoding: .utf8)
    }

    /// Fenced blocks of `document` as (info string, lines).
    static func blocks(_ document: String) throws -> [(info: String, lines: [String])] {
        var result: [(String, [String])] = []
        var current: (info: String, lines: [String])?
        for line in try text(document).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let open = current { result.append(open); current = nil } else { current = (String(line.dropFirst(3)), []) }
            } else if current != nil {
                current!.lines.append(line)
            }
        }
        return result
    }

    /// Every ```` ```wire ```` example of `document`: id → frames.
    static func wire(_ document: String) throws -> [String: [[UInt8]]] {
        var examples: [String: [[UInt8]]] = [:]
        for block in try blocks(document) where block.info == "wire" {
            guard let id = block.lines.first?.split(separator: " ").first.map(String.init) else { continue }
            var frames: [[UInt8]] = []
            for line in block.lines.dropFirst() where line.hasPrefix("[") {
                let afterIndex = line.drop(while: { $0 != "]" }).dropFirst().drop(while: { $0 == " " })
                if afterIndex.hasPrefix("json ") {
                    frames.append(Array(afterIndex.dropFirst(5).utf8))
                } else {
                    let hexPart = afterIndex.split(separator: ";", maxSplits: 1).first ?? ""
                    frames.append(try hexPart.split(separator: " ").map { token in
                        guard token.count == 2, let byte = UInt8(token, radix: 16) else {
                            throw SpecError.badHex(example: id, token: String(token))
                        }
                        return byte
                    })
                }
            }
            examples[id] = frames
        }
        return examples
    }

    /// Every ```` ```json <ID> ```` block of `document`: id → JSON text.
    static func json(_ document: String) throws -> [String: String] {
        var examples: [String: String] = [:]
        for block in try blocks(document) where block.info.hasPrefix("json ") {
            examples[String(block.info.dropFirst(5))] = block.lines.joined(separator: "\n")
        }
        return examples
    }

    enum SpecError: Error { case badHex(example: String, token: String), missing(String) }

    static func frames(_ id: String, in document: String = "stream-protocol.md") throws -> [[UInt8]] {
        guard let frames = try wire(document)[id] else { throw SpecError.missing(id) }
        return frames
    }
}

/// Parses JSON into Foundation objects so that two encodings can be compared regardless of layout.
func jsonObject(_ bytes: [UInt8]) throws -> NSObject {
    try JSONSerialization.jsonObject(with: Data(bytes)) as! NSObject
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
}
