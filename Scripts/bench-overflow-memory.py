#!/usr/bin/env python3
"""Memory of lstmd while 1,000 streams are bound to a DEALER that stops reading (issue 13 #6).

    Scripts/bench-overflow-memory.py [--lstmd .build/release/lstmd] [--rows 810000]

Starts lstmd on ipc endpoints in a temporary directory; one DEALER starts 1,000 streams (row 0 of
each) and then never reads; a PUSH client sends the remaining rows of those streams round robin
(the rows and predictions the daemon must hold for the non-reading peer); a second DEALER keeps
streaming digits closed-loop and counts its answers. Prints lstmd's RSS (VmRSS, /proc) over time,
its peak, and the documented bound (stream-protocol.md §11, §14): the RSS at start, plus 8 MiB for
the peer (4 MiB of parked rows, 4 MiB of outbox), ~200 B per bound stream, the rows accepted and
not yet stepped (at most 65,536 of 28 floats and 32 bytes of bookkeeping), and libzmq's queues
(results-hwm messages each way for the peer, the PULL socket's receive HWM), ~400 B a message.
Needs pyzmq. Rows are zeros: what is measured is queueing, not the model.
"""
import argparse, json, os, signal, subprocess, sys, time

import zmq

import benchdaemon
from procinfo import rss_kib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Clients", "python", "src"))
from lstmd import wire  # noqa: E402




def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # run the finally: stop lstmd
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lstmd", default=".build/release/lstmd")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=810_000, help="rows PUSHed for the bound streams")
    parser.add_argument("--model", help="model file (default: the embedded one); its input size must be 28")
    args = parser.parse_args()
    # Sequence length 28 ends a stream at row 27: the PUSHed rows cycle through rows 0..26, each
    # pass of 27 a new sequence (a restart keeps the stream, and its binding to the DEALER).
    daemon, ep, _ = benchdaemon.start(args.lstmd, ["--idle-timeout", "0", "--log-level", "warning"]
                                      + (["--model", args.model] if args.model else []), prefix="lstmd-mem-")
    context = zmq.Context()
    try:
        benchdaemon.wait_for_ping(context, ep["control"], 20)
        control = context.socket(zmq.REQ)
        control.connect(ep["control"])
        time.sleep(0.2)
        start_kib = rss_kib(daemon.pid)
        sleeper = context.socket(zmq.DEALER)
        sleeper.setsockopt(zmq.RCVHWM, 10)
        sleeper.connect(ep["results"])
        pixels = bytes(28)
        ids = [f"sleeper-{i}".encode() for i in range(args.streams)]
        for i, stream in enumerate(ids):
            sleeper.send_multipart(wire.encode_row(stream, 0, pixels, sequence=i + 1))
        # The PUSHed rows must come after each stream's row 0 (two sockets: no order between them).
        while True:
            control.send(b'{"command":"status"}')
            if control.poll(20000) and json.loads(control.recv()).get("live_streams", 0) >= args.streams:
                break
            time.sleep(0.05)
        push = context.socket(zmq.PUSH)
        push.connect(ep["ingest"])
        quick = context.socket(zmq.DEALER)
        quick.connect(ep["results"])
        sent, answered, quick_row, quick_seq = 0, 0, 0, 1_000_000
        peak, samples, t0, last_sample = start_kib, [], time.monotonic(), 0.0
        quick.send_multipart(wire.encode_row(b"quick", 0, pixels, sequence=quick_seq))
        while sent < args.rows:
            for _ in range(2000):
                i = sent % args.streams
                passes = 1 + sent // args.streams
                row, sequence = passes % 27, i + 1 + 1000 * (passes // 27)
                push.send_multipart(wire.encode_row(ids[i], row, pixels, sequence=sequence))
                sent += 1
            while quick.poll(0):
                quick.recv_multipart()
                answered += 1
                quick_row = (quick_row + 1) % 28
                if quick_row == 0:
                    quick_seq += 1
                quick.send_multipart(wire.encode_row(b"quick", quick_row, pixels, sequence=quick_seq, last=quick_row == 27))
            now = time.monotonic()
            if now - last_sample > 0.5:
                last_sample = now
                kib = rss_kib(daemon.pid)
                peak = max(peak, kib)
                samples.append((round(now - t0, 1), sent, kib // 1024))
        settle = time.monotonic() + 3
        while time.monotonic() < settle:
            if quick.poll(50):
                quick.recv_multipart()
                answered += 1
                quick_row = (quick_row + 1) % 28
                if quick_row == 0:
                    quick_seq += 1
                quick.send_multipart(wire.encode_row(b"quick", quick_row, pixels, sequence=quick_seq, last=quick_row == 27))
            peak = max(peak, rss_kib(daemon.pid))
        control.send(b'{"command":"status"}')
        counters = json.loads(control.recv())["counters"] if control.poll(20000) else {}
        print(f"daemon counters: rows applied {counters.get('rows_applied')}, errors {counters.get('errors')}")
        results_hwm, pull_hwm, message = 10_000, 1000, 400
        queued_rows, queued_row_bytes = 65_536, 4 * 28 + 32
        bound_kib = start_kib + (8 << 10) + (args.streams * 200 + 2 * results_hwm * message + pull_hwm * message
                                             + queued_rows * queued_row_bytes) // 1024
        for t, n, mib in samples[:: max(1, len(samples) // 12)]:
            print(f"  t={t:5.1f}s rows sent {n:7d}  RSS {mib} MiB")
        print(f"RSS at start {start_kib / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, documented bound {bound_kib / 1024:.1f} MiB; "
              f"{sent} rows pushed for {args.streams} streams bound to a DEALER that does not read; "
              f"the other DEALER got {answered} predictions meanwhile")
    finally:
        daemon.terminate()
        try:
            _, log = daemon.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            log = ""
        context.destroy(linger=0)
    overflowed = log.count("results client overflowed")
    print(f"the non-reading DEALER overflowed {overflowed} time(s) (its streams dropped with 'overflow')")
    return 0 if peak <= bound_kib else 1


if __name__ == "__main__":
    sys.exit(main())
