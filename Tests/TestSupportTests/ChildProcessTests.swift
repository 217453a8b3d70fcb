import Foundation
import Testing
import TestSupport

/// The harness every process test stands on. CI once lost a whole run to a SIGSEGV in libdispatch's
/// epoll code (`_dispatch_event_loop_drain`) while many tests started and finished children at once:
/// the harness then read their pipes through `FileHandle.readabilityHandler`, whose read sources race
/// their own teardown on Linux (swift-corelibs-libdispatch#949). Many children, started and collected
/// on several threads at once, must all give back exactly what they wrote.
@Suite struct ChildProcessTests {
    @Test func manyChildrenOnManyThreadsEachGiveBackExactlyWhatTheyWrote() throws {
        let threads = 8, childrenPerThread = 40
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for child in 0..<childrenPerThread {
                let tag = "\(thread)-\(child)"
                do {
                    let result = try ChildProcess(URL(fileURLWithPath: "/bin/sh"),
                                                  ["-c", "echo out-\(tag); echo err-\(tag) >&2; exit \(child % 3)"])
                        .finish(seconds: 60)
                    if result.stdout != "out-\(tag)\n" || result.stderr != "err-\(tag)\n" || result.status != Int32(child % 3) {
                        failures.add("\(tag): status \(result.status), stdout \(result.stdout.debugDescription), stderr \(result.stderr.debugDescription)")
                    }
                } catch {
                    failures.add("\(tag): \(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
    }

    @Test func outputLargerThanAPipeBufferIsCollectedWhileTheChildRuns() throws {
        // 1 MiB on each stream: a pipe holds 64 KiB, so the child blocks unless it is read meanwhile.
        let result = try ChildProcess(URL(fileURLWithPath: "/bin/sh"),
                                      ["-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"])
            .finish(seconds: 60)
        #expect(result.status == 0)
        #expect(result.stdoutBytes.count == 1_048_576)
        #expect(result.stderr.utf8.count == 1_048_576)
    }

    @Test func terminateEndsAChildStartedFromAThreadThatBlocksSignals() throws {
        // Dispatch's worker threads block nearly every signal, and posix_spawn passes the calling
        // thread's mask on: with Foundation's Process this child never saw its SIGTERM.
        let started = Started()
        let thread = Thread {
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            started.set(Result { try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo ready >&2; exec sleep 30"]) })
        }
        thread.start()
        let child = try started.wait().get()
        try child.waitForStderr(containing: "ready", seconds: 10)
        child.process.terminate()
        let result = try child.finish(seconds: 10)
        #expect(!result.exitedNormally)
        #expect(result.status == SIGTERM)
    }
}

private final class Started: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<ChildProcess, any Error>?
    func set(_ value: Result<ChildProcess, any Error>) {
        condition.withLock { result = value; condition.broadcast() }
    }
    func wait() -> Result<ChildProcess, any Error> {
        condition.withLock {
            while result == nil { condition.wait() }
            return result!
        }
    }
}

private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ failure: String) { lock.withLock { list.append(failure) } }
    var all: [String] { lock.withLock { list } }
}
