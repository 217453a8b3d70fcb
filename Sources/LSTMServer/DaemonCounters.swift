import LSTMStreaming
import WireProtocol

/// What the daemon counts itself: the totals of ingest messages, predictions and errors sent (the
/// engine counts the rest), and the histograms of its rows and steps. One instance, shared by the
/// loop, the output and the control service, all on the loop thread: updates are plain increments.
final class DaemonCounters {
    var value = Counters()
    let histograms = ServingHistograms()

    /// Everything counted so far: the daemon's totals and the engine's.
    func total(with engine: StreamEngine) -> Counters { value + engine.counters }
}
