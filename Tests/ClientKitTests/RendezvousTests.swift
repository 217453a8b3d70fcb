import Foundation
import LSTMClientKit
import TestSupport
import Testing

/// Protocols/rendezvous-vectors.json: the same vectors the Python package's tests check.
@Suite struct RendezvousTests {
    struct Vectors: Decodable {
        struct Weight: Decodable {
            var daemon: String
            var stream: String
            var weight_hex: String
        }
        var weights: [Weight]
    }

    /// The file's `sets`. Their choices are read from the raw bytes: both `JSONDecoder` and
    /// `JSONSerialization` key dictionaries by Swift `String`, whose equality would merge "é" (c3 a9)
    /// and "e" + U+0301 (65 cc 81), two different stream ids. The file is written one
    /// `"id": "daemon"` pair per line, with no escapes in the ids.
    static func sets() throws -> [(daemons: [String], choices: [(stream: [UInt8], daemon: String)])] {
        struct Set: Decodable { var daemons: [String] }
        struct File: Decodable { var sets: [Set] }
        let bytes = try [UInt8](Data(contentsOf: vectorsFile))
        let daemons = try JSONDecoder().decode(File.self, from: Data(bytes)).sets.map(\.daemons)
        var blocks: [[(stream: [UInt8], daemon: String)]] = []
        var current: [(stream: [UInt8], daemon: String)]?
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let text = line.drop { $0 == UInt8(ascii: " ") }
            if text.starts(with: Array("\"choices\": {".utf8)) { current = []; continue }
            guard current != nil else { continue }
            if text.first == UInt8(ascii: "}") { blocks.append(current!); current = nil; continue }
            let quotes = text.indices.filter { text[$0] == UInt8(ascii: "\"") }
            try #require(quotes.count == 4, "unexpected line \(String(decoding: text, as: UTF8.self))")
            let stream = Array(text[(quotes[0] + 1)..<quotes[1]])
            let daemon = String(decoding: text[(quotes[2] + 1)..<quotes[3]], as: UTF8.self)
            current!.append((stream, daemon))
        }
        try #require(blocks.count == daemons.count)
        return zip(daemons, blocks).map { ($0, $1) }
    }

    static let vectorsFile = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/rendezvous-vectors.json")

    static func vectors() throws -> Vectors {
        try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: vectorsFile))
    }

    @Test func weightsMatchTheVectors() throws {
        let vectors = try Self.vectors()
        try #require(vectors.weights.count >= 9)
        for vector in vectors.weights {
            let weight = Rendezvous.weight(daemon: vector.daemon, streamID: Array(vector.stream.utf8))
            let hex = String(weight, radix: 16)
            #expect(String(repeating: "0", count: 16 - hex.count) + hex == vector.weight_hex, "\(vector.daemon) \(vector.stream)")
        }
    }

    @Test func choicesMatchTheVectorsInAnyOrderOfDaemons() throws {
        let sets = try Self.sets()
        try #require(sets.count >= 2)
        for set in sets {
            // Both spellings of "é" are there, as two ids with different daemons.
            #expect(set.choices.contains { $0.stream == [0xC3, 0xA9] } && set.choices.contains { $0.stream == [0x65, 0xCC, 0x81] })
            for order in [set.daemons, set.daemons.reversed()] {
                for (stream, expected) in set.choices {
                    let chosen = order[Rendezvous.choose(order, streamID: stream)]
                    #expect(chosen == expected, "stream \(stream) in \(order)")
                }
            }
        }
    }

    @Test func addingADaemonMovesOnlyStreamsToIt() throws {
        let three = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]
        let four = three + ["tcp://d:1"]
        var moved = 0
        for n in 0..<2000 {
            let id = Array("stream/\(n)".utf8)
            let before = three[Rendezvous.choose(three, streamID: id)]
            let after = four[Rendezvous.choose(four, streamID: id)]
            if before != after {
                #expect(after == "tcp://d:1")
                moved += 1
            }
        }
        // About a quarter move (binomial, n = 2000: σ ≈ 19).
        #expect((400...600).contains(moved), "\(moved) of 2000 moved")
    }

    @Test func twoDaemonsOfOneNameAreRefusedBeforeAnyConnection() {
        let a = DaemonEndpoints(ingest: "tcp://127.0.0.1:1", predictions: "tcp://127.0.0.1:2", control: "tcp://127.0.0.1:3")
        var b = a
        b.control = "tcp://127.0.0.1:4"   // another daemon's control, but the same ingest: the same name
        let other = DaemonEndpoints(ingest: "tcp://127.0.0.1:5")
        for daemons in [[a, b], [a, other, b]] {
            #expect(throws: ClientError.self) { try ShardedClient(daemons) }
            do {
                _ = try BatchConnection(daemons: daemons, subscriptionPrefix: [])
                Issue.record("two daemons named \(a.name) were taken")
            } catch {
                #expect(error.description == "two daemons are named \"\(a.name)\"; rendezvous names must be unique")
            }
        }
    }
}
