/// toml++ 3 (inside TOMLKit 0.6.0) aborts the process on a table header whose name starts with a
/// character no key can start with — `[#`, `[ =`, `[[` at the end of a line — through an assertion
/// (and without one, `__builtin_assume` makes it undefined behaviour). Found by Fuzz/ fuzz-config.
/// lstmd's config has no multi-line values, so every line that starts with `[` is a table header:
/// this finds such a header before the text reaches TOMLKit. `DaemonConfiguration.load` must call
/// it first (integration pending, issue 14).
public enum TOMLHeaderCheck {
    /// "line N: …" for the first table header toml++ cannot survive, or nil.
    public static func problem(in text: String) -> String? {
        var number = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var rest = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            guard rest.first == UInt8(ascii: "[") else { continue }
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
            rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            // toml++ reports an empty name, `[]`, itself.
            guard let first = rest.first, first != UInt8(ascii: "]") else {
                if rest.isEmpty { return "line \(number): a table header without a name" }
                continue
            }
            if !canStartKey(first) {
                return "line \(number): a table name cannot start with \(printable(first))"
            }
        }
        return nil
    }

    /// A bare key character (A-Z a-z 0-9 _ -) or a quote.
    private static func canStartKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
             UInt8(ascii: "\""), UInt8(ascii: "'"): true
        default: false
        }
    }

    private static func printable(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}
