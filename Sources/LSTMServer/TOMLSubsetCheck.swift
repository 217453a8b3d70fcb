/// The TOML lstmd reads: flat `key = value` lines (a bare or quoted key; a one-line string, number
/// or boolean), comments and blank lines. Every setting is a scalar at the top level, so nothing
/// else can be a valid config; this refuses anything else before the text reaches TOMLKit, because
/// toml++ 3 (inside TOMLKit 0.6.0) aborts the process through an assertion on some malformed
/// tables and arrays (`[#` as a header, `[}` as an array: both found by Fuzz/ fuzz-config) instead
/// of reporting them. toml++ still parses each value, with its own errors.
public enum TOMLSubsetCheck {
    /// "line N: …" for the first line outside lstmd's subset of TOML, or nil.
    public static func problem(in text: String) -> String? {
        var number = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let rest = line.drop(while: isBlank)
            guard let first = rest.first, first != UInt8(ascii: "#"), first != UInt8(ascii: "\r") else { continue }
            if first == UInt8(ascii: "[") {
                return "line \(number): lstmd's config has no tables; write each setting as a `key = value` line"
            }
            guard let equals = keyEnd(rest), equals < rest.endIndex, rest[equals] == UInt8(ascii: "=") else {
                return "line \(number): expected `key = value`, with a key of letters, digits, '-' and '_' or a quoted one"
            }
            let value = rest[rest.index(after: equals)...].drop(while: isBlank)
            switch value.first {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                return "line \(number): no setting takes an array or an inline table"
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if value.starts(with: [value.first!, value.first!, value.first!]) {
                    return "line \(number): no setting takes a multi-line string"
                }
            case let byte? where startsScalar(byte):
                break
            default:
                return "line \(number): expected a value after '=': a string in quotes, a number, true or false"
            }
        }
        return nil
    }

    /// Where the key that starts `line` ends (after it and any blanks), or nil when it is no key.
    private static func keyEnd(_ line: Substring.UTF8View.SubSequence) -> Substring.UTF8View.Index? {
        guard let first = line.first else { return nil }
        var index = line.startIndex
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            guard let close = line.dropFirst().firstIndex(of: first) else { return nil }
            index = line.index(after: close)
        } else {
            index = line.firstIndex { !isBareKey($0) } ?? line.endIndex
            guard index > line.startIndex else { return nil }
        }
        return line[index...].firstIndex { !isBlank($0) } ?? line.endIndex
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    /// A number (digit, sign, `inf`, `nan`) or a boolean.
    private static func startsScalar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"),
             UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "i"), UInt8(ascii: "n"): true
        default: false
        }
    }
}
