import Foundation
import CTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a program wrote to a terminal: its standard output and error, as the terminal received
/// them (the line discipline turns each `\n` into `\r\n`).
public struct TerminalRun: Sendable, CustomStringConvertible {
    public var status: Int32
    public var bytes: [UInt8]

    public var text: String { String(decoding: bytes, as: UTF8.self) }
    /// Whether it wrote any escape sequence (ESC, 0x1B) at all.
    public var hasEscapes: Bool { bytes.contains(0x1B) }
    /// Whether it wrote a colour or style sequence (SGR: ESC [ parameters m).
    public var hasColor: Bool { text.range(of: "\u{1B}\\[[0-9;]*m", options: .regularExpression) != nil }

    /// The exit status and the text with its escapes visible, as a failed expectation shows it.
    public var description: String { "exit \(status): \(text.debugDescription)" }
}

/// Runs `executable arguments` as in a terminal window: standard output and error on a
/// pseudo-terminal (so `isatty` is true for both), standard input closed, with this process's
/// environment changed by `environment` (a nil value unsets). Bounded by `seconds`.
public func runOnTerminal(_ executable: URL, _ arguments: [String], environment changes: [String: String?],
                          seconds: Double = 120) throws -> TerminalRun {
    // Close-on-exec, so that no other child started meanwhile keeps the terminal open.
    let master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
    guard master >= 0 else { throw HarnessError("no pseudo-terminal: errno \(errno)") }
    defer { close(master) }
    guard grantpt(master) == 0, unlockpt(master) == 0, let name = ptsname(master) else {
        throw HarnessError("cannot set up the pseudo-terminal: errno \(errno)")
    }
    let terminal = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
    guard terminal >= 0 else { throw HarnessError("cannot open \(String(cString: name)): errno \(errno)") }

    var environment = ProcessInfo.processInfo.environment
    for (name, value) in changes { environment[name] = value }
    let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
    let process: SpawnedProcess
    do {
        process = try SpawnedProcess(executable.path, arguments, environment: environment, standardInput: nothing,
                                     standardOutput: terminal, standardError: terminal)
    } catch {
        close(nothing)
        close(terminal)
        throw error
    }
    close(nothing)
    close(terminal)   // the child has its own copies: reading ends when it has closed them

    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, 100) > 0 {
            let count = read(master, &buffer, buffer.count)
            guard count > 0 else { break }   // EIO: every copy of the terminal's other side is closed
            bytes += buffer[..<count]
        } else if Date() > deadline {
            process.terminate()
            throw HarnessError("\(executable.lastPathComponent) \(arguments) still running after \(seconds) s; it wrote: "
                               + String(decoding: bytes, as: UTF8.self))
        }
    }
    process.waitUntilExit()
    return TerminalRun(status: process.terminationStatus, bytes: bytes)
}
