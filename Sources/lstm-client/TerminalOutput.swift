// The terminal rules and the progress line are shared with lstm-train (module TerminalOutput);
// re-exported so that every file of lstm-client sees them.
@_exported import TerminalOutput

import Foundation

/// Writes `text` to standard output now (the watch and classify output is read live by pipes).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a note for people to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
