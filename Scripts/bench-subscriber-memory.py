#!/usr/bin/env python3
"""Memory of lstmd's PUB socket with subscribers that never read (issue 13 #6, max-subscribers).

    Scripts/bench-subscriber-memory.py [--lstmd .build/release/lstmd] [--subscribers 4] [--pub-hwm 100000]
                                       [--id-bytes 8]

Starts lstmd on ipc endpoints in a temporary directory with max-subscribers = --subscribers; that
many SUB sockets subscribe to everything and never read (receive HWM 1, a 4 KiB socket buffer: the
predictions wait on the daemon's side), and one more SUB, past the limit, reads. A PUSH client sends
rows of 1,000 streams (ids of --id-bytes bytes) until every subscriber's queue is full: pub-hwm
predictions each, 20 % more sent. Prints lstmd's RSS (VmRSS) before and after, the bytes per queued
prediction, the documented bound (stream-protocol.md §14: subscribers × pub-hwm × the largest
prediction message), and what the extra subscriber received (nothing: it was refused). Needs pyzmq.
"""
import argparse, json, os, signal, subprocess, sys, time

import zmq

import benchdaemon
from procinfo import rss_kib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Clients", "python", "src"))
from lstmd import wire  # noqa: E402




def message_bound(id_bytes, classes):
    """Bytes libzmq holds for one queued prediction (stream-protocol.md §14): three frames of 64-byte
    message structures, plus the topic and the body on the heap (frames over 33 bytes), each with
    libzmq's 40-byte content header and malloc's 16 bytes."""
    heap = lambda n: 0 if n <= 33 else n + 40 + 16
    return 3 * 64 + heap(id_bytes) + heap(4 * classes)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # run the finally: stop lstmd
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lstmd", default=".build/release/lstmd")
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--pub-hwm", type=int, default=100_000)
    parser.add_argument("--id-bytes", type=int, default=8, help="length of the stream ids (3-255)")
    args = parser.parse_args()
    daemon, ep, _ = benchdaemon.start(args.lstmd, ["--idle-timeout", "0", "--log-level", "warning",
                                                   "--max-subscribers", str(args.subscribers),
                                                   "--pub-hwm", str(args.pub_hwm)], prefix="lstmd-pubmem-")
    context = zmq.Context()
    try:
        benchdaemon.wait_for_ping(context, ep["control"], 60)
        control = context.socket(zmq.REQ)
        control.connect(ep["control"])
        push = context.socket(zmq.PUSH)
        push.connect(ep["ingest"])
        pixels = bytes(28)
        ids = [str(i).encode().rjust(args.id_bytes, b"x") for i in range(1000)]
        target = int(args.pub_hwm * 1.2)
        sent = 0

        def publish(count):
            """Sends `count` rows (rows 0..26 of the streams in turn, a new sequence each pass) and
            waits until the daemon has applied them all."""
            nonlocal sent
            for _ in range(count):
                i, passes = sent % len(ids), sent // len(ids)
                push.send_multipart(wire.encode_row(ids[i], passes % 27, pixels, sequence=1 + i + 1000 * (passes // 27)))
                sent += 1
            while True:
                control.send(b'{"command":"status"}')
                if not control.poll(300_000):
                    sys.exit("lstmd did not answer status within 300 s")
                if json.loads(control.recv())["counters"].get("rows_applied", 0) >= sent:
                    return
                time.sleep(0.2)

        # The same traffic once without subscribers first: the daemon's own buffers (streams, queued
        # rows, the ingest socket) reach their size before the baseline is taken.
        publish(target)
        time.sleep(0.5)
        start_kib = rss_kib(daemon.pid)
        sleepers = []
        for _ in range(args.subscribers):
            sub = context.socket(zmq.SUB)
            sub.setsockopt(zmq.RCVHWM, 1)
            sub.setsockopt(zmq.RCVBUF, 4096)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(ep["predictions"])
            sleepers.append(sub)
        time.sleep(1)   # every subscription in place before the extra one and the rows
        extra = context.socket(zmq.SUB)
        extra.setsockopt(zmq.SUBSCRIBE, b"")
        extra.connect(ep["predictions"])
        time.sleep(0.5)
        publish(target)
        time.sleep(1)
        received_by_extra = 0
        while extra.poll(100):
            extra.recv_multipart()
            received_by_extra += 1
        end_kib = rss_kib(daemon.pid)
        queued = args.subscribers * args.pub_hwm
        per_message = (end_kib - start_kib) * 1024 / queued
        bound = message_bound(args.id_bytes, 10)
        print(f"{args.subscribers} subscribers that never read, pub-hwm {args.pub_hwm}, stream ids of {args.id_bytes} bytes, "
              f"{target} predictions published to them")
        print(f"RSS {start_kib / 1024:.1f} MiB before, {end_kib / 1024:.1f} MiB after: "
              f"{per_message:.0f} bytes per queued prediction; documented bound {bound} bytes "
              f"({args.subscribers} × {args.pub_hwm} × {bound} B = {queued * bound / 2**20:.1f} MiB)")
        print(f"the subscriber past the limit received {received_by_extra} messages")
        return 0 if per_message <= bound and received_by_extra == 0 else 1
    finally:
        daemon.terminate()
        try:
            daemon.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        context.destroy(linger=0)


if __name__ == "__main__":
    sys.exit(main())
