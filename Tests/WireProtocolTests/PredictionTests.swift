import Testing
@testable import WireProtocol

@Suite struct PredictionTests {
    let id = try! StreamID("digit-7")

    @Test func encodesIntoCallerMemory() {
        var header = [UInt8](repeating: 0xAA, count: 8), body = [UInt8](repeating: 0xAA, count: 12)
        let probabilities: [Float] = [0.25, 0.5, 0.25]
        let best = probabilities.withUnsafeBufferPointer { values in
            header.withUnsafeMutableBytes { header in
                body.withUnsafeMutableBytes { body in
                    encodePrediction(kind: .partial, row: 9, probabilities: values, header: header, body: body)
                }
            }
        }
        #expect(best == 1)
        #expect(header == [1, 0, 1, 0, 9, 0, 0, 0])
        #expect(body == [0, 0, 0x80, 0x3E, 0, 0, 0, 0x3F, 0, 0, 0x80, 0x3E])
    }

    @Test func viewReadsFramesInPlaceAndDefersTheErrorJSON() throws {
        let frames: [[UInt8]] = [Array("digit-7".utf8), [1, 0, 2, 0, 3, 0, 0, 0], [0, 0, 0x80, 0x3E, 0, 0, 0, 0x3F]]
        try withUnsafeFrames(frames) { (raw) throws(WireError) in
            let view = try decodePrediction(frames: raw[...])
            #expect(view.streamID == id)
            #expect(view.header == PredictionHeader(kind: .partial, argmax: 2, row: 3))
            #expect(view.body.baseAddress == raw[2].baseAddress)
            #expect(view.probabilities == [0.25, 0.5])
        }
        // An ERROR with unreadable JSON decodes; its body fails only when asked for, labelled.
        let broken: [[UInt8]] = [Array("$errors".utf8), [1, 2, 255, 0, 5, 0, 0, 0], Array("{oops".utf8)]
        try withUnsafeFrames(broken) { (raw) throws(WireError) in
            let view = try decodePrediction(frames: raw[...])
            #expect(view.streamID == nil)
            let error = #expect(throws: WireError.self) { try view.errorBody() }
            #expect(error?.row == 5)
        }
    }

    @Test func argmaxTakesTheLowestIndexOnTies() {
        #expect([Float(0.1), 0.4, 0.4, 0.1].withUnsafeBufferPointer(argmax) == 1)
        #expect([Float(3)].withUnsafeBufferPointer(argmax) == 0)
        #expect([Float](repeating: 0, count: 254).withUnsafeBufferPointer(argmax) == 0)
        #expect(([Float](repeating: 0, count: 254) + [1]).withUnsafeBufferPointer(argmax) == 254)
    }

    @Test func roundTripsEveryKind() throws {
        let messages = [
            PredictionMessage(topic: .stream(id), header: PredictionHeader(kind: .partial, argmax: 2, row: 3),
                              body: .probabilities([0.1, 0.2, 0.7])),
            PredictionMessage(topic: .stream(id), header: PredictionHeader(kind: .final, argmax: 0, row: 27),
                              body: .probabilities([1, 0, 0])),
            PredictionMessage(topic: .stream(id), header: PredictionHeader(kind: .error, argmax: 255, row: 4),
                              body: .error(ErrorBody(code: "gap", message: "row 4 arrived; row 2 was expected: stream dropped"))),
            PredictionMessage(topic: .errors, header: PredictionHeader(kind: .error, argmax: 255, row: .max),
                              body: .error(ErrorBody(code: "bad_stream_id", message: "stream id is empty"))),
        ]
        for message in messages {
            #expect(try PredictionMessage(frames: message.frames) == message)
        }
    }

    @Test func ignoresTheReservedByte() throws {
        let frames = [id.bytes, [1, 0, 0, 0x5A, 0, 0, 0, 0], [0, 0, 0x80, 0x3F]]
        let message = try PredictionMessage(frames: frames)
        #expect(message.body == .probabilities([1]))
    }

    func expectError(_ frames: [[UInt8]], _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation, performing: { _ = try PredictionMessage(frames: frames) },
                throws: { ($0 as? WireError)?.code == code })
    }

    @Test func reportsEveryDecodeError() {
        let header: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0], body: [UInt8] = [0, 0, 0x80, 0x3F]
        expectError([id.bytes, header], .badFrameCount)
        expectError([id.bytes, header, body, []], .badFrameCount)
        expectError([Array("$other".utf8), header, body], .badStreamID)
        expectError([[], header, body], .badStreamID)
        expectError([id.bytes, [1, 0, 0, 0], body], .badHeaderSize)
        expectError([id.bytes, [3, 0, 0, 0, 0, 0, 0, 0], body], .badVersion)
        expectError([id.bytes, [2, 0, 0, 0, 0, 0, 0, 0], body], .badHeaderSize)
        expectError([id.bytes, [1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0], body], .badHeaderSize)
        expectError([id.bytes, [1, 3, 0, 0, 0, 0, 0, 0], body], .badKind)
        expectError([id.bytes, header, [0, 0, 0x80]], .badBody)
        expectError([id.bytes, [1, 2, 255, 0, 0, 0, 0, 0], Array("not json".utf8)], .badBody)
        expectError([id.bytes, [1, 2, 255, 0, 0, 0, 0, 0], Array(#"{"code":"gap"}"#.utf8)], .badBody)
        expectError([id.bytes, [1, 2, 255, 0, 0, 0, 0, 0], Array(#"{"code":1,"message":"x"}"#.utf8)], .badBody)
    }

    @Test func errorBodiesAreCompactSortedJSON() throws {
        let body = ErrorBody(code: "internal", message: "a/b \"quoted\" é")
        #expect(String(decoding: body.jsonBytes, as: UTF8.self) == #"{"code":"internal","message":"a/b \"quoted\" é"}"#)
        #expect(try ErrorBody(jsonBytes: body.jsonBytes) == body)
        #expect(body.knownCode == .internal)
        #expect(ErrorBody(code: "from_the_future", message: "").knownCode == nil)
    }

    @Test func everyCodeIsSnakeCaseAndDistinct() {
        let codes = ErrorCode.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        for code in codes {
            #expect(code.allSatisfy { $0.isLowercase || $0 == "_" }, "\(code)")
        }
    }
}
