#!/usr/bin/env python3
"""How long the serving loop stalls while lstmd writes its periodic snapshots of many streams.

    Scripts/bench-snapshot-stall.py [--lstmd .build/release/lstmd] [--streams 99000] [--seconds 10]

Starts lstmd on ipc endpoints in a temporary directory with a state directory and a 1-second
snapshot interval, opens `--streams` streams (row 0 of each: ~1.1 KB of state apiece with the
default model), then for `--seconds` keeps one stream moving (so that every interval has something
to save) while it sends `ping` every 5 ms and times each round trip. A loop that writes its
snapshot itself answers nothing while it does; prints the round trips' p50, p99 and maximum and
how many snapshots were saved. Needs pyzmq.
"""
import argparse, json, os, sys, tempfile, time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Clients", "python", "src"))
from lstmd import wire  # noqa: E402
import benchdaemon  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lstmd", default=".build/release/lstmd")
    parser.add_argument("--streams", type=int, default=99_000, help="live streams (below --max-streams, 100,000)")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="lstmd-snapshot-stall-state-")
    daemon, endpoints, directory = benchdaemon.start(
        args.lstmd, ["--state-dir", state, "--snapshot-interval", "1", "--idle-timeout", "600"],
        prefix="lstmd-snapshot-stall-", log_file=True)
    log = os.path.join(directory, "log")
    context = zmq.Context()

    def request(command, timeout_ms=10_000):
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVTIMEO, timeout_ms)
        socket.connect(endpoints["control"])
        try:
            socket.send(json.dumps({"command": command}).encode())
            return json.loads(socket.recv())
        finally:
            socket.close()

    try:
        benchdaemon.wait_for_ping(context, endpoints["control"], 20)
        push = context.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 0)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(endpoints["ingest"])
        pixels = bytes(28)
        for i in range(args.streams):
            push.send_multipart(wire.encode_row(f"s{i}", 0, pixels, sequence=1))
        while request("status")["live_streams"] < args.streams:
            time.sleep(0.2)
        saved_before = open(log).read().count('msg="streams saved"')

        round_trips, mover, row = [], 0, 0
        end = time.time() + args.seconds
        while time.time() < end:
            push.send_multipart(wire.encode_row(f"m{mover}", row, pixels, sequence=1, last=row == 27))
            row += 1
            if row == 28:
                row, mover = 0, mover + 1
            started = time.perf_counter()
            request("ping")
            round_trips.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
        saved = open(log).read().count('msg="streams saved"') - saved_before
        round_trips.sort()
        size = os.path.getsize(os.path.join(state, "streams.safetensors")) / 2**20
        print(f"{args.streams} streams ({size:.0f} MiB snapshot), {saved} snapshots saved in {args.seconds:g} s; "
              f"{len(round_trips)} pings: p50 {round_trips[len(round_trips) // 2]:.2f} ms, "
              f"p99 {round_trips[int(len(round_trips) * 0.99)]:.2f} ms, max {round_trips[-1]:.2f} ms")
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    main()
