// The terminal rules and the progress line are shared with lstm-train (module TerminalOutput);
// re-exported so that every file of lstm-client sees them.
@_exported import TerminalOutput
