import Logging
import LSTMCore
import Synchronization

/// Where the loop reports how it is doing, besides its log: Prometheus metrics and systemd's
/// notify protocol. A failing notification is logged once and never stops serving.
final class StatusChannels: Sendable {
    let metrics: ServerMetrics
    let notifier: SystemdNotifier
    let logger: Logger
    /// What the health endpoints report (issue 15).
    let readiness: Readiness
    private let notifyFailed = Atomic<Bool>(false)

    init(metrics: ServerMetrics, notifier: SystemdNotifier, readiness: Readiness, logger: Logger) {
        self.metrics = metrics
        self.readiness = readiness
        self.notifier = notifier
        self.logger = logger
    }

    /// Half of systemd's `WATCHDOG_USEC`, when the watchdog is on for this process.
    var watchdogNanoseconds: UInt64? {
        notifier.watchdogInterval.map { UInt64($0.components.seconds) * 1_000_000_000 + UInt64($0.components.attoseconds / 1_000_000_000) }
    }

    func notify(_ message: (SystemdNotifier) throws -> Void) {
        guard notifier.isEnabled else { return }
        do { try message(notifier) } catch {
            if !notifyFailed.exchange(true, ordering: .relaxed) {
                logger.warning("cannot notify systemd; further failures are not logged", metadata: ["error": "\(error)"])
            }
        }
    }

    func modelChanged(_ model: LSTMModel) {
        metrics.setModel(sha256: model.sha256, hiddenUnits: model.shape.hiddenSize, layers: model.shape.layers)
    }
}
