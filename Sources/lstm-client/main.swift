import ArgumentParser
import LSTMDRelease

/// `lstm-client`: streams digits to lstmd, watches its predictions, controls and measures it.
/// Speaks only the documented protocols (Protocols/stream-protocol.md, control-protocol.md).
struct LSTMClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-client",
        abstract: "Stream digits to lstmd, watch its predictions, control and measure it.",
        discussion: """
            Rows go to the daemon's ingest endpoint (PUSH) or, with --router, to its lossless \
            results endpoint (DEALER); predictions come from its predictions endpoint (SUB) or the \
            same DEALER; control requests go to its control endpoint (REQ). The endpoint options \
            default to lstmd's defaults on 127.0.0.1.

            MNIST digits: 50 test digits are built in; --data DIR (or LSTMD_MNIST_DIR) uses the \
            full test set of an MNIST directory.

            Example:
              lstm-client classify --index 3 && lstm-client status
            """,
        version: LSTMDVersion.current,
        subcommands: [
            Classify.self, Watch.self, Eval.self, Bench.self,
            Status.self, Streams.self, Drop.self, Reload.self, Ping.self, Metrics.self, Keygen.self,
        ])
}

LSTMClient.main()
