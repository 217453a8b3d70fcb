import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM as a flag that loops check, so that they stop cleanly and report instead
/// of dying mid-output.
enum Interrupts {
    private static let raised = Atomic<Bool>(false)
    /// The installed signal sources, kept alive; touched only by `install()` on the main thread.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Replaces the default handlers (which kill the process) by setting the flag.
    static func install() {
        guard sources.isEmpty else { return }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { raised.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
    }

    /// Whether a signal arrived since `install()`.
    static var isRaised: Bool { raised.load(ordering: .relaxed) }
}
