import Foundation

/// What the terminal on a stream can show, the one rule of lstm-client and lstm-train: live
/// drawing and progress need a TTY that is not `TERM=dumb` (no cursor movement); colour also needs
/// `NO_COLOR` unset or empty (no-color.org).
public enum Terminal {
    /// Whether `descriptor` is a terminal that understands cursor movement.
    public static func isCapable(_ descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        isatty(descriptor) == 1 && environment["TERM"] != "dumb"
    }

    /// Whether colour may be used on `descriptor`.
    public static func allowsColor(_ descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        isCapable(descriptor, environment: environment) && (environment["NO_COLOR"] ?? "").isEmpty
    }
}

/// A one-line status on standard error, rewritten in place at most every `interval`, and erased by
/// `finish()`: progress for people, never mixed into the results on standard output.
public final class ProgressLine {
    private let interval: UInt64
    private var lastDrawn: UInt64 = 0
    private var drawn = false

    public init(intervalMilliseconds: UInt64 = 250) {
        interval = intervalMilliseconds * 1_000_000
    }

    /// Shows `text()` if the last update is older than the interval.
    public func update(now: UInt64, _ text: () -> String) {
        guard now &- lastDrawn >= interval else { return }
        lastDrawn = now
        drawn = true
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text()).utf8))
    }

    /// Erases the line.
    public func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        drawn = false
    }
}
