import Dispatch
import Synchronization

/// Whether the daemon is alive and ready, for HTTP probes (`/healthz`, `/readyz`) that must not
/// touch the serving loop: the loop writes its state here, any thread reads it.
///
/// Ready means the model is loaded, every socket is bound and no stop has begun. Alive means the
/// loop still turns: it beats at least once a second while serving, so a loop stuck for longer than
/// `stallSeconds` is reported dead (the same condition systemd's watchdog acts on).
public final class Readiness: Sendable {
    public enum Phase: String, Sendable {
        /// Loading the model, binding the sockets.
        case starting
        /// Serving rows.
        case serving
        /// A stop began: queued rows are drained, no new work should be sent here.
        case draining
    }

    /// Seconds without a beat after which a serving loop counts as stuck.
    public let stallSeconds: Double
    private let state = Mutex<(phase: Phase, lastBeat: UInt64)>((.starting, 0))

    public init(stallSeconds: Double = 10) {
        self.stallSeconds = stallSeconds
    }

    /// Enters `phase` (and counts as a beat).
    public func enter(_ phase: Phase, now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        state.withLock { $0 = (phase, now) }
    }

    /// The loop turned.
    public func beat(now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        state.withLock { $0.lastBeat = now }
    }

    public var phase: Phase { state.withLock { $0.phase } }

    /// Why the process is not alive (a serving loop that stopped beating), or nil when it is.
    public func deadReason(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> String? {
        let (phase, lastBeat) = state.withLock { ($0.phase, $0.lastBeat) }
        let silent = Double(now &- lastBeat) / 1e9
        guard phase == .serving, now > lastBeat, silent > stallSeconds else { return nil }
        return "the serving loop has not turned for \(Int(silent)) s"
    }

    /// Why the daemon is not ready, or nil when it is.
    public func notReadyReason(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> String? {
        if let dead = deadReason(now: now) { return dead }
        switch phase {
        case .serving: return nil
        case .starting: return "starting: loading the model and binding the sockets"
        case .draining: return "draining: stopping"
        }
    }
}

/// The answers of the health endpoints, independent of the HTTP server that serves them:
/// `GET /healthz` (liveness, as Kubernetes' livenessProbe expects) and `GET /readyz` (readiness),
/// 200 with `ok`, else 503 with the reason.
public enum HealthEndpoints {
    /// Status code and body for `path`, or nil when it is not a health path.
    public static func response(path: String, readiness: Readiness,
                                now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> (status: Int, body: String)? {
        let problem: String?
        switch path {
        case "/healthz": problem = readiness.deadReason(now: now)
        case "/readyz": problem = readiness.notReadyReason(now: now)
        default: return nil
        }
        return problem.map { (503, $0 + "\n") } ?? (200, "ok\n")
    }
}
