import Testing
@testable import WireProtocol

@Suite struct IngestTests {
    let id = try! StreamID("digit-7")

    @Test func roundTripsEveryKind() throws {
        let messages: [IngestMessage] = [
            .row(0, of: id, sequence: nil, pixels: [0, 128, 255, 16]),
            .row(27, of: id, sequence: 9, pixels: Array(repeating: 9, count: 28), last: true),
            .row(5, of: id, sequence: 0xFFFF_FFFF, values: [0, -1.5, .pi, 1e-30]),
            .end(of: id, sequence: nil, at: 3),
            .end(of: id, sequence: 12, at: 3),
        ]
        for message in messages {
            #expect(try decodeIngest(frames: message.frames) == message)
        }
        #expect(IngestMessage.end(of: id, sequence: nil).frames.count == 2)
    }

    @Test func acceptsEndWithEmptyThirdFrame() throws {
        let frames = [id.bytes, IngestHeader(kind: .end, row: 4).bytes, []]
        let message = try decodeIngest(frames: frames)
        #expect(message.header.kind == .end && message.header.row == 4 && message.row.isEmpty)
    }

    @Test func encodesHeaderFields() {
        let header = IngestHeader(kind: .row, dtype: .float32, flags: .last, row: 0x0403_0201)
        #expect(header.bytes == [1, 0, 1, 1, 0x01, 0x02, 0x03, 0x04])
        var buffer: [UInt8] = Array(repeating: 0xAA, count: 20)
        header.encode(into: &buffer)
        #expect(buffer == header.bytes)
    }

    /// Frames of a valid ROW for `id`, with one frame replaced by the caller.
    func frames(id idBytes: [UInt8]? = nil, header: [UInt8] = [1, 0, 0, 0, 3, 0, 0, 0], row: [UInt8]? = [1, 2, 3, 4]) -> [[UInt8]] {
        [idBytes ?? id.bytes, header] + (row.map { [$0] } ?? [])
    }

    func expectError(_ frames: [[UInt8]], _ code: ErrorCode, streamID: StreamID?, row: UInt32?,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let message = try decodeIngest(frames: frames)
            Issue.record("decoded \(message) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
            #expect(error.streamID == streamID, sourceLocation: sourceLocation)
            #expect(error.row == row, sourceLocation: sourceLocation)
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        }
    }

    @Test func reportsEveryDecodeError() {
        expectError([], .badFrameCount, streamID: nil, row: nil)
        expectError(frames(id: []), .badStreamID, streamID: nil, row: nil)
        expectError(frames(id: Array("$x".utf8)), .badStreamID, streamID: nil, row: nil)
        expectError(frames(id: [0x61, 0x00]), .badStreamID, streamID: nil, row: nil)
        expectError(frames(id: [0x61, 0xC3]), .badStreamID, streamID: nil, row: nil)
        expectError(frames(id: Array(repeating: 0x61, count: 256)), .badStreamID, streamID: nil, row: nil)
        expectError([id.bytes], .badFrameCount, streamID: id, row: nil)
        expectError(frames() + [[]], .badFrameCount, streamID: id, row: nil)
        expectError(frames(header: [1, 0, 0, 0, 3, 0, 0]), .badHeaderSize, streamID: id, row: nil)
        expectError(frames(header: [1, 0, 0, 0, 3, 0, 0, 0, 0]), .badHeaderSize, streamID: id, row: nil)
        expectError(frames(header: []), .badHeaderSize, streamID: id, row: nil)
        expectError(frames(header: [0, 0, 0, 0, 3, 0, 0, 0]), .badVersion, streamID: id, row: 3)
        expectError(frames(header: [3, 0, 0, 0, 3, 0, 0, 0]), .badVersion, streamID: id, row: 3)
        // Version 2 headers are 12 bytes; the size must be that of the version.
        expectError(frames(header: [2, 0, 0, 0, 3, 0, 0, 0]), .badHeaderSize, streamID: id, row: 3)
        expectError(frames(header: [1, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0]), .badHeaderSize, streamID: id, row: 3)
        expectError(frames(header: [1, 2, 0, 0, 3, 0, 0, 0]), .badKind, streamID: id, row: 3)
        expectError(frames(header: [1, 0, 2, 0, 3, 0, 0, 0]), .badDType, streamID: id, row: 3)
        expectError(frames(header: [1, 0, 0, 2, 3, 0, 0, 0]), .badFlags, streamID: id, row: 3)
        expectError(frames(header: [1, 0, 0, 0x81, 0, 1, 0, 0]), .badFlags, streamID: id, row: 256)
        expectError(frames(header: [1, 1, 0, 0x80, 3, 0, 0, 0], row: nil), .badFlags, streamID: id, row: 3)
        expectError(frames(header: [1, 1, 7, 0, 3, 0, 0, 0], row: nil), .badDType, streamID: id, row: 3)
        expectError(frames(row: nil), .badFrameCount, streamID: id, row: 3)
        expectError(frames(header: [1, 1, 0, 0, 3, 0, 0, 0], row: [0]), .badRowSize, streamID: id, row: 3)
    }

    @Test func checksInTheSpecifiedOrder() {
        // Bad version, kind, dtype and flags at once: the version is reported.
        expectError(frames(header: [9, 9, 9, 9, 1, 0, 0, 0]), .badVersion, streamID: id, row: 1)
        // Bad kind, dtype and flags: the kind.
        expectError(frames(header: [1, 9, 9, 9, 1, 0, 0, 0]), .badKind, streamID: id, row: 1)
        // Bad stream id and frame count: the stream id (answered on $errors).
        expectError([[0x24], [1]], .badStreamID, streamID: nil, row: nil)
    }

    @Test func errorsPublishOnTheRightTopic() {
        do {
            _ = try decodeIngest(frames: frames(id: [0xFF]))
            Issue.record("invalid id accepted")
        } catch {
            #expect(error.topic == "$errors")
            #expect(error.header == PredictionHeader(kind: .error, argmax: 255, row: .max))
            #expect(error.predictionFrames[0] == Array("$errors".utf8))
            #expect(error.message.contains("UTF-8"))
        }
        do {
            _ = try decodeIngest(frames: frames(header: [1, 0, 5, 0, 9, 0, 0, 0]))
            Issue.record("bad dtype accepted")
        } catch {
            #expect(error.topic == "digit-7")
            #expect(error.predictionFrames[1] == [1, 2, 255, 0, 9, 0, 0, 0])
            #expect(error.body.code == "bad_dtype")
            #expect(error.description.contains("bad_dtype") && error.description.contains("digit-7"))
        }
    }

    @Test func decodesRawFramesWithoutCopyingTheRow() throws {
        let idBytes = id.bytes, header = IngestHeader(kind: .row, row: 2).bytes, row: [UInt8] = [7, 8, 9, 10]
        try idBytes.withUnsafeBytes { idRaw in
            try header.withUnsafeBytes { headerRaw in
                try row.withUnsafeBytes { rowRaw in
                    let view = try decodeIngest(frames: [idRaw, headerRaw, rowRaw])
                    #expect(view.streamID == id && view.header.row == 2)
                    #expect(view.row.baseAddress == rowRaw.baseAddress && view.row.count == 4)
                }
            }
        }
    }
}
