import LSTMStreaming
import WireProtocol

/// The totals the daemon counts itself (ingest messages, predictions and errors sent); the engine
/// counts the rest. One instance, shared by the loop, the output and the control service.
final class DaemonCounters {
    var value = Counters()

    /// Everything counted so far: the daemon's totals and the engine's.
    func total(with engine: StreamEngine) -> Counters { value + engine.counters }
}
