import Foundation
import Logging

/// lstmd's log lines: logfmt (`level=info msg="serving" model=/m.safetensors`), one `write(2)` per
/// line on standard error. Under journald (sd-daemon(3): `JOURNAL_STREAM` names standard error)
/// each line starts with its syslog priority, `<6>`, and carries no timestamp (the journal keeps
/// its own); elsewhere it starts with `ts=` in UTC, milliseconds.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// Whether lines go to the journal: priority prefix, no timestamp.
    public let journal: Bool
    private let write: @Sendable (String) -> Void

    public init(level: Logger.Level, journal: Bool, write: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError) {
        logLevel = level
        self.journal = journal
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error { all["error"] = "\(error)" }
        write(Self.format(level: event.level, message: event.message.description, metadata: all, journal: journal, date: Date()))
    }

    /// One line, ending in a newline. Metadata keys are sorted, so lines diff well.
    public static func format(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool,
                              date: Date) -> String {
        var line = journal ? "<\(syslogPriority(level))>" : "ts=\(timestamp(date)) "
        line += "level=\(level.rawValue) msg=\(quoted(message))"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(quoted(metadata[key]!.description))"
        }
        return line + "\n"
    }

    /// The syslog priority sd-daemon(3) prefixes lines with: `<7>` debug … `<2>` critical.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `value` as a logfmt value: bare when it is a plain word, else in double quotes with `"`, `\`
    /// and control characters escaped (so a value can never start a new line or a new key).
    public static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "=" && scalar != "\\"
        }
        if plain { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Whether standard error is the journal: `JOURNAL_STREAM` is `DEVICE:INODE` of the stream
    /// systemd connected, which must still be file descriptor 2 (a child may have redirected it).
    public static func standardErrorIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return journalStream(value, matchesDevice: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Whether `JOURNAL_STREAM`'s `DEVICE:INODE` is `device`, `inode`.
    public static func journalStream(_ value: String, matchesDevice device: UInt64, inode: UInt64) -> Bool {
        let parts = value.split(separator: ":")
        guard parts.count == 2, let d = UInt64(parts[0]), let i = UInt64(parts[1]) else { return false }
        return d == device && i == inode
    }

    /// Writes a whole line with one `write(2)`, so that lines of different threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Foundation.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
