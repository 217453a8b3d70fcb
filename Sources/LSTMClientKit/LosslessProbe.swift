import WireProtocol
import ZeroMQ

extension DaemonClient {
    /// Whether the daemon serves the lossless path at `endpoints.results`: an END for a stream
    /// that does not exist must be answered `unknown_stream` on the DEALER that sent it
    /// (stream-protocol.md §5.2, §11) within `timeout` seconds. The probe costs the daemon one
    /// `unknown_stream` error count.
    public static func answersOnLosslessPath(_ endpoints: DaemonEndpoints, curve: CurveKeys? = nil, timeout: Double) -> Bool {
        guard let context = try? ZMQContext(),
              let dealer = try? ClientSockets.dealer(context, endpoint: endpoints.results, curve: curve),
              let probe = try? StreamID(defaultPrefix() + "probe")
        else { return false }
        defer {
            try? dealer.set(.linger, .zero)
            dealer.close()
        }
        do {
            try dealer.set(.receiveTimeout, .milliseconds(Int(timeout * 1000)))
            guard try dealer.send(IngestMessage.end(of: probe, sequence: 0).frames, dontWait: true) else { return false }
            let deadline = monotonicNanoseconds() + nanoseconds(timeout)
            while monotonicNanoseconds() < deadline {
                guard let frames = try dealer.receiveMultipart() else { return false }
                if let message = try? PredictionMessage(frames: frames), message.topic == .stream(probe) { return true }
            }
        } catch {
            return false
        }
        return false
    }
}
