import Testing
@testable import WireProtocol

@Suite struct StreamIDTests {
    @Test func acceptsOrdinaryIDs() throws {
        for id in ["a", "digit-7", "host-a/42", "a$", "é", "流-1", "🙂", "\u{10FFFF}"] {
            #expect(try StreamID(id).string == id)
            #expect(try StreamID(bytes: Array(id.utf8)).string == id)
        }
    }

    @Test func accepts255BytesAndRefuses256() throws {
        #expect(try StreamID(String(repeating: "x", count: 255)).bytes.count == 255)
        // 85 three-byte characters: 255 bytes, 85 characters.
        #expect(try StreamID(String(repeating: "€", count: 85)).bytes.count == 255)
        #expect(throws: StreamIDError.tooLong(byteCount: 256)) { try StreamID(String(repeating: "x", count: 256)) }
        #expect(throws: StreamIDError.tooLong(byteCount: 256)) { try StreamID(String(repeating: "€", count: 85) + "x") }
    }

    @Test func refusesEmptyNULAndReservedPrefix() {
        #expect(throws: StreamIDError.empty) { try StreamID("") }
        #expect(throws: StreamIDError.containsNUL(offset: 3)) { try StreamID(bytes: [0x61, 0x62, 0x63, 0x00, 0x64]) }
        #expect(throws: StreamIDError.containsNUL(offset: 0)) { try StreamID("\u{0}") }
        #expect(throws: StreamIDError.reservedPrefix) { try StreamID("$errors") }
        #expect(throws: StreamIDError.reservedPrefix) { try StreamID("$") }
    }

    @Test(arguments: [
        ([0x61, 0xC0, 0x80], 1),             // overlong NUL
        ([0x80], 0),                         // lone continuation byte
        ([0x61, 0x62, 0xE2, 0x82], 2),       // truncated 3-byte sequence
        ([0xED, 0xA0, 0x80], 0),             // surrogate U+D800
        ([0xF4, 0x90, 0x80, 0x80], 0),       // above U+10FFFF
        ([0xF5, 0x80, 0x80, 0x80], 0),       // invalid lead byte
        ([0xE0, 0x80, 0xAF], 0),             // overlong 3-byte
        ([0xF0, 0x80, 0x80, 0xAF], 0),       // overlong 4-byte
        ([0x7A, 0xE2, 0x28, 0xA1], 1),       // bad second byte
        ([0xF0, 0x9F, 0x99, 0x41], 0),       // bad fourth byte
        ([0x61, 0xFF], 1),
    ] as [([UInt8], Int)])
    func refusesInvalidUTF8(bytes: [UInt8], offset: Int) {
        #expect(throws: StreamIDError.invalidUTF8(offset: offset)) { try StreamID(bytes: bytes) }
    }

    /// The hand-written validator agrees with the standard library on many short byte strings made
    /// of bytes around every UTF-8 boundary.
    @Test func validatorAgreesWithStandardLibrary() {
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var state: UInt64 = 0x2545F4914F6CDD1D
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for _ in 0..<20_000 {
            let bytes = (0..<(1 + next() % 6)).map { _ in alphabet[next() % alphabet.count] }
            let ours = bytes.withUnsafeBytes { firstInvalidUTF8Offset($0) } == nil
            let standard = String(validating: bytes, as: UTF8.self) != nil
            #expect(ours == standard, "\(hexString(bytes))")
        }
    }

    @Test func comparesBytesNotCanonicalEquivalence() throws {
        let composed = try StreamID("\u{E9}")          // c3 a9
        let decomposed = try StreamID("e\u{301}")      // 65 cc 81
        #expect("\u{E9}" == "e\u{301}")                // Swift strings say equal...
        #expect(composed != decomposed)                // ...stream ids do not.
        #expect(Set([composed, decomposed]).count == 2)
        #expect(try StreamID("digit-7") == StreamID(bytes: Array("digit-7".utf8)))
    }

    @Test func errorsNameTheProblem() {
        #expect(StreamIDError.tooLong(byteCount: 300).description.contains("300"))
        #expect(StreamIDError.invalidUTF8(offset: 4).description.contains("byte 4"))
        #expect(StreamIDError.containsNUL(offset: 2).description.contains("NUL"))
        #expect(StreamIDError.reservedPrefix.description.contains("$"))
    }
}
