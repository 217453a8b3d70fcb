@testable import LSTMServer
import TestSupport
import Testing

/// The count behind `max-subscribers` and `max-results-peers`, driven by the events libzmq 4.3.4
/// reports with one I/O thread: a connection's ACCEPTED before its ZAP request, its DISCONNECTED
/// when it closes; which connection a request is for is not reported.
@Suite struct AdmittedConnectionsTests {
    /// A burst larger than the limit: exactly `limit` are admitted, whatever the order of the
    /// accepts and the requests. (Counting every accepted connection, as lstmd once did, refused
    /// all of them.)
    @Test(arguments: [(5, 3), (60, 50), (20, 20), (2, 5)])
    func aBurstAdmitsExactlyTheLimit(burst: Int, limit: Int) {
        var ledger = AdmittedConnections()
        for descriptor in 0..<burst { ledger.accepted(UInt32(100 + descriptor)) }
        let admitted = (0..<burst).filter { _ in ledger.admit(limit: limit) }.count
        #expect(admitted == min(burst, limit))
        #expect(ledger.places == min(burst, limit))
    }

    /// Refused connections close (their clients do at once); then the admitted ones are known and
    /// each frees its place when it closes.
    @Test func placesAreFreedWhenAdmittedConnectionsClose() {
        var ledger = AdmittedConnections()
        for descriptor in UInt32(10)..<15 { ledger.accepted(descriptor) }
        // The requests come in another order than the accepts: 12, 10, 14 admitted, 11, 13 refused.
        let decisions = (0..<5).map { _ in ledger.admit(limit: 3) }
        #expect(decisions == [true, true, true, false, false])
        ledger.disconnected(11)
        ledger.disconnected(13)
        #expect(ledger.admitted == [10, 12, 14] && ledger.unresolved.isEmpty)
        ledger.disconnected(12)
        #expect(ledger.places == 2)
        ledger.accepted(12)   // the descriptor reused by a new connection
        let reusedDescriptorAdmitted = ledger.admit(limit: 3)
        #expect(reusedDescriptorAdmitted)
        #expect(ledger.places == 3 && ledger.admitted == [10, 12, 14])
        ledger.accepted(20)
        let oneMoreAdmitted = ledger.admit(limit: 3)
        #expect(!oneMoreAdmitted)
    }

    /// A handshake that never reaches ZAP takes no place; while it is open, an admitted connection
    /// that closes keeps its place (the count cannot tell them apart) until it closes too.
    @Test func aHandshakeThatNeverFinishesTakesNoPlace() {
        var ledger = AdmittedConnections()
        ledger.accepted(7)   // never sends its greeting
        ledger.accepted(8)
        let firstAdmitted = ledger.admit(limit: 1)
        #expect(firstAdmitted)
        ledger.accepted(9)
        let secondAdmitted = ledger.admit(limit: 1)
        #expect(!secondAdmitted)
        ledger.disconnected(9)
        ledger.disconnected(8)   // the admitted one leaves: 7 or 8 was it
        #expect(ledger.places == 1)
        ledger.disconnected(7)   // libzmq's handshake interval closes the silent one
        #expect(ledger.places == 0)
        ledger.accepted(7)
        let nextAdmitted = ledger.admit(limit: 1)
        #expect(nextAdmitted)
    }

    /// Random interleavings of what libzmq may report: the count is never below the connections
    /// truly admitted and open, never above the limit, and equals the truth once no connection is
    /// left unjudged or refused.
    @Test func randomInterleavingsNeverAdmitMoreThanTheLimit() {
        var random = SplitMix64(state: 13)
        enum Fate { case waiting, requested, admitted, refused }
        for round in 0..<200 {
            let limit = Int(random.next() % 6) + 1
            var ledger = AdmittedConnections()
            var open: [UInt32: Fate] = [:]
            /// Requests sent by connections that closed before the handler judged them.
            var orphanRequests = 0
            var freeDescriptors = Array(UInt32(3)..<UInt32(40))
            for _ in 0..<300 {
                switch random.next() % 5 {
                case 0 where !freeDescriptors.isEmpty:
                    let descriptor = freeDescriptors.remove(at: Int(random.next() % UInt64(freeDescriptors.count)))
                    open[descriptor] = .waiting
                    ledger.accepted(descriptor)
                case 1:
                    let waiting = open.filter { $0.value == .waiting }.keys.sorted()
                    if !waiting.isEmpty { open[waiting[Int(random.next() % UInt64(waiting.count))]] = .requested }
                case 2:
                    // The handler judges one pending request, which may be an orphan's.
                    let pending = open.filter { $0.value == .requested }.keys.sorted()
                    let choice = Int(random.next() % UInt64(pending.count + orphanRequests + 1))
                    if choice < pending.count {
                        open[pending[choice]] = ledger.admit(limit: limit) ? .admitted : .refused
                    } else if choice < pending.count + orphanRequests {
                        orphanRequests -= 1
                        _ = ledger.admit(limit: limit)
                    }
                default:
                    let all = open.keys.sorted()
                    if !all.isEmpty {
                        let descriptor = all[Int(random.next() % UInt64(all.count))]
                        if open[descriptor] == .requested { orphanRequests += 1 }
                        open[descriptor] = nil
                        ledger.disconnected(descriptor)
                        freeDescriptors.append(descriptor)
                    }
                }
                let truth = open.values.filter { $0 == .admitted }.count
                #expect(truth <= ledger.places && ledger.places <= limit, "round \(round): \(truth) admitted, \(ledger.places) places")
                if truth > limit || ledger.places > limit { return }
            }
            // Every request judged, the refused and unjudged closed: the count is exact.
            while orphanRequests > 0 { orphanRequests -= 1; _ = ledger.admit(limit: limit) }
            for (descriptor, fate) in open where fate != .admitted {
                open[descriptor] = nil
                ledger.disconnected(descriptor)
            }
            #expect(ledger.places == open.count, "round \(round)")
        }
    }
}
