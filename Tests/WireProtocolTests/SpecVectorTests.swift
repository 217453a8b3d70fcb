import Foundation
import LSTMStreaming
import Testing
import TestSupport
@testable import WireProtocol

/// The examples of `Protocols/stream-protocol.md` and `control-protocol.md`, byte for byte.
@Suite struct SpecVectorTests {
    let id = try! StreamID("digit-7")
    /// MNIST probabilities of E4 and E5.
    let tenClasses: [Float] = [0, 0, 0.125, 0, 0, 0, 0, 0.75, 0.125, 0]

    func ingest(_ example: String) throws -> [[UInt8]] { try SpecExamples.frames(example) }

    @Test func everyExampleIsChecked() throws {
        let checked: Set<String> = ["E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11",
                                    "E12", "E13", "E14", "E15", "E16"]
        #expect(Set(try SpecExamples.wire("stream-protocol.md").keys) == checked)
        #expect(Set(try SpecExamples.wire("control-protocol.md").keys) == ["C1", "C2", "C3", "C4", "C5", "C8"])
        #expect(Set(try SpecExamples.json("control-protocol.md").keys) == ["C6", "C7"])
    }

    @Test func ingestExamples() throws {
        let expected: [String: IngestMessage] = [
            "E1": .row(0, of: id, sequence: nil, pixels: [0, 128, 255, 16]),
            "E2": .row(14, of: id, sequence: nil, pixels: Array(repeating: 0, count: 12) + [64, 255, 255, 64] + Array(repeating: 0, count: 12)),
            "E3": .row(27, of: id, sequence: nil, values: [0, 0.5, 1, -2], last: true),
            "E6": .end(of: id, sequence: nil, at: 3),
        ]
        for (example, message) in expected {
            let frames = try ingest(example)
            #expect(hexString(message.frames.joined().map { $0 }) == hexString(frames.joined().map { $0 }), "\(example)")
            #expect(message.frames == frames, "\(example)")
            #expect(try decodeIngest(frames: frames) == message, "\(example)")
        }
        #expect(try ingest("E2")[2].count == 28)
    }

    /// The engine decodes E1's pixels, scaled by 1/255, to the values its comment gives: a stream fed
    /// E1's row predicts what one fed those values does.
    @Test func e1DecodesToTheCommentedValues() throws {
        let row = try decodeIngest(frames: ingest("E1")).row
        let engine = StreamEngine(model: try makeRandomModel(inputSize: 4, inputScale: 1 / 255))
        func predict(_ stream: String, _ values: RowValues) throws -> [Float] {
            try engine.submitRow(stream: try StreamID(stream), index: 0, row: values, isLast: false, now: 0)
            var probabilities: [Float] = []
            engine.step(now: 0) { probabilities = Array($0.probabilities) }
            return probabilities
        }
        let decoded = try row.withUnsafeBytes { try predict("e1", .encoded($0, .uint8)) }
        let commented: [Float] = [0, 0.50196, 1, 0.062745]
        let expected = try commented.withUnsafeBufferPointer { try predict("comment", .floats($0)) }
        #expect(maxAbsDifference(decoded, expected) < 1e-5)
    }

    @Test func predictionExamples() throws {
        var header = [UInt8](repeating: 0, count: 8), body = [UInt8](repeating: 0, count: 4 * tenClasses.count)
        for (example, kind, row) in [("E4", PredictionKind.partial, UInt32(14)), ("E5", .final, 27)] {
            let frames = try ingest(example)
            tenClasses.withUnsafeBufferPointer { values in
                header.withUnsafeMutableBytes { header in
                    body.withUnsafeMutableBytes { body in
                        _ = encodePrediction(kind: kind, row: row, probabilities: values, header: header, body: body)
                    }
                }
            }
            #expect([id.bytes, header, body] == frames, "\(example)")
            let decoded = try PredictionMessage(frames: frames)
            #expect(decoded.topic == .stream(id) && decoded.header == PredictionHeader(kind: kind, argmax: 7, row: row))
            #expect(decoded.body == .probabilities(tenClasses))
        }
    }

    /// E7 is refused with exactly E8; E9 with exactly E10.
    @Test(arguments: [("E7", "E8"), ("E9", "E10")])
    func refusalExamples(request: String, answer: String) throws {
        let frames = try ingest(request)
        do {
            let message = try decodeIngest(frames: frames)
            Issue.record("\(request) decoded as \(message)")
        } catch {
            let expected = try ingest(answer)
            #expect(error.predictionFrames == expected)
            #expect(String(decoding: error.predictionFrames[2], as: UTF8.self) == String(decoding: expected[2], as: UTF8.self))
        }
    }

    @Test func gapExample() throws {
        let frames = try ingest("E11")
        let gap = WireError(.gap, "row 5 arrived; row 3 was expected: stream dropped", streamID: id, row: 5)
        #expect(gap.predictionFrames == frames)
        #expect(try PredictionMessage(frames: frames).body == .error(gap.body))
    }

    /// Version 2: the sequence number in bytes 8–11 of ingest and prediction headers.
    @Test func sequencedExamples() throws {
        let ingestExpected: [String: IngestMessage] = [
            "E12": .row(0, of: id, sequence: 42, pixels: [0, 128, 255, 16]),
            "E14": .row(10, of: id, sequence: 43, pixels: [0, 128, 255, 16]),
            "E16": .end(of: id, sequence: 43, at: 3),
        ]
        for (example, message) in ingestExpected {
            let frames = try ingest(example)
            #expect(message.frames == frames, "\(example)")
            #expect(try decodeIngest(frames: frames) == message, "\(example)")
            #expect(frames[1].count == 12 && frames[1][0] == 2)
        }
        var header = [UInt8](repeating: 0, count: 12), body = [UInt8](repeating: 0, count: 4 * tenClasses.count)
        tenClasses.withUnsafeBufferPointer { values in
            header.withUnsafeMutableBytes { header in
                body.withUnsafeMutableBytes { body in
                    _ = encodePrediction(kind: .partial, row: 14, sequence: 42, probabilities: values, header: header, body: body)
                }
            }
        }
        #expect([id.bytes, header, body] == (try ingest("E13")))
        #expect(try PredictionMessage(frames: ingest("E13")).header == PredictionHeader(kind: .partial, argmax: 7, row: 14, sequence: 42))
        let gap = WireError(.gap, "row 10 of sequence 43 arrived while the stream runs sequence 42: its rows before 10 never "
                            + "arrived; the stream is dropped, restart it with row 0", streamID: id, row: 10, sequence: 43)
        #expect(gap.predictionFrames == (try ingest("E15")))
        #expect(try PredictionMessage(frames: ingest("E15")).header.sequence == 43)
    }

    /// A header's size must be that of its version: 8 for 1, 12 for 2.
    @Test func headerSizeFollowsTheVersion() throws {
        var v1InTwelve = try ingest("E1")
        v1InTwelve[1] += [42, 0, 0, 0]
        var v2InEight = try ingest("E12")
        v2InEight[1].removeLast(4)
        for frames in [v1InTwelve, v2InEight] {
            #expect(performing: { _ = try decodeIngest(frames: frames) }, throws: { ($0 as? WireError)?.code == .badHeaderSize })
        }
        var v3 = try ingest("E12")
        v3[1][0] = 3
        #expect(performing: { _ = try decodeIngest(frames: v3) }, throws: { ($0 as? WireError)?.code == .badVersion })
    }

    /// The error table of §12 lists exactly the codes of `ErrorCode`.
    @Test func errorTableListsEveryCode() throws {
        let rows = try SpecExamples.text("stream-protocol.md").split(separator: "\n").filter { $0.hasPrefix("| `") }
        let tableCodes = Set(rows.compactMap { row -> String? in
            let cell = row.dropFirst(3).prefix(while: { $0 != "`" })
            return cell.allSatisfy { $0.isLowercase || $0 == "_" } ? String(cell) : nil
        })
        #expect(tableCodes == Set(ErrorCode.allCases.map(\.rawValue)))
    }

    @Test func controlRequestExamples() throws {
        let requests: [String: ControlRequest] = [
            "C1": .status,
            "C2": .drop(stream: id),
            "C3": .reload(model: "/var/lib/lstmd/mnist-128.safetensors"),
            "C8": .streams(StreamsPage(cursor: 2, limit: 2)),
        ]
        for (example, request) in requests {
            let frames = try SpecExamples.frames(example, in: "control-protocol.md")
            #expect(frames == [request.jsonBytes], "\(example)")
            #expect(try ControlRequest(jsonBytes: frames[0]) == request)
        }
    }

    @Test func controlReplyExamples() throws {
        let drop = ControlReply.drop(DropReply(stream: id, nextRow: 3))
        #expect(try SpecExamples.frames("C4", in: "control-protocol.md") == [drop.jsonBytes])
        do {
            _ = try ControlRequest(jsonBytes: Array(#"{"command":"stats"}"#.utf8))
            Issue.record("unknown command accepted")
        } catch {
            #expect(try SpecExamples.frames("C5", in: "control-protocol.md") == [ControlReply(error).jsonBytes])
        }
    }

    static let labels = (0..<10).map(String.init)

    static let status = StatusReply(
        version: "0.1.0", uptimeSeconds: 1040.5, publication: .partial,
        model: ModelInfo(path: "/var/lib/lstmd/mnist-128.safetensors",
                         sha256: "9f2c4e0b7a1d3c5e8f60a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2",
                         shape: ModelShapeInfo(inputSize: 28, hiddenSize: 128, layers: 1, classes: 10),
                         sequenceLength: 28, inputScale: 0.5, labels: labels,
                         loadedAt: "2026-11-29T02:10:00Z", liveStreams: 1),
        previousModels: [ModelInfo(path: nil,
                                   sha256: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
                                   shape: ModelShapeInfo(inputSize: 28, hiddenSize: 64, layers: 1, classes: 10),
                                   sequenceLength: 28, inputScale: 0.5, labels: labels,
                                   loadedAt: "2026-11-29T01:52:42Z", liveStreams: 1)],
        counters: Counters([.rowsReceived: 2806, .rowsApplied: 2800, .duplicates: 2, .predictionsPublished: 2780, .streamsStarted: 102, .streamsFinished: 99, .streamsEvicted: 0, .streamsDropped: 1], errors: ["gap": 1, "not_started": 3]),
        liveStreams: 2, maxStreams: 10_000, idleTimeoutSeconds: 30)

    @Test func statusExample() throws {
        let text = try #require(try SpecExamples.json("control-protocol.md")["C6"])
        let reply = ControlReply.status(Self.status)
        #expect(try jsonObject(reply.jsonBytes) == jsonObject(Array(text.utf8)))
        #expect(try ControlReply(jsonBytes: Array(text.utf8), for: .status) == reply)
        let counters = Self.status.counters
        #expect(counters[.streamsStarted] + counters[.streamsRestored]
                == counters[.streamsFinished] + counters[.streamsEvicted] + counters[.streamsDropped]
                + UInt64(Self.status.liveStreams))
        for model in [Self.status.model] + Self.status.previousModels { #expect(model.sha256.count == 64) }
    }

    @Test func streamsExample() throws {
        let text = try #require(try SpecExamples.json("control-protocol.md")["C7"])
        let reply = ControlReply.streams(StreamsReply(streams: [
            StreamInfo(id: id, nextRow: 3, sequence: 0xABCD_EF12, model: Self.status.model.sha256, idleSeconds: 0.25),
            StreamInfo(id: try StreamID("host-a/42"), nextRow: 27, sequence: nil, model: Self.status.previousModels[0].sha256,
                       idleSeconds: 12),
        ], cursor: 2))
        #expect(try jsonObject(reply.jsonBytes) == jsonObject(Array(text.utf8)))
        #expect(try ControlReply(jsonBytes: Array(text.utf8), for: .streams()) == reply)
    }
}
