#!/usr/bin/env python3
"""Closed-loop throughput of the Python client, to compare with `lstm-client bench` on the same daemon:
S streams, each sending its next row when the previous row's prediction arrived (lossless DEALER path
by default), for D seconds; prints rows/s and images/s.

    python3 Clients/python/benchmarks/bench_client.py --streams 64 --duration 5 \\
        --results tcp://127.0.0.1:5558
"""
from __future__ import annotations

import argparse
import gzip
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "Clients" / "python" / "src"))
import lstmd  # noqa: E402
from lstmd.client import gather  # noqa: E402


def digits() -> list:
    with gzip.open(ROOT / "Tests" / "Fixtures" / "mnist-t10k-100-images-idx3-ubyte.gz") as f:
        raw = f.read()
    count = struct.unpack(">I", raw[4:8])[0]
    return [[raw[16 + i * 784 + r * 28:16 + i * 784 + (r + 1) * 28] for r in range(28)] for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", default="tcp://127.0.0.1:5555")
    parser.add_argument("--predictions", default="tcp://127.0.0.1:5556")
    parser.add_argument("--results", default="tcp://127.0.0.1:5558")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--pub", action="store_true", help="PUSH + SUB instead of the lossless path")
    args = parser.parse_args()
    images = digits()
    endpoints = lstmd.Endpoints(ingest=args.ingest, predictions=args.predictions, results=args.results)
    rows = images_done = 0
    with lstmd.Client(endpoints, lossless=not args.pub) as client:
        active = {}
        next_image = 0

        def start() -> None:
            nonlocal next_image
            stream = client.stream()
            active[stream.id] = (stream, images[next_image % len(images)])
            next_image += 1
            stream.send(active[stream.id][1][0])

        for _ in range(args.streams):
            start()
        began = time.monotonic()
        end = began + args.duration
        while time.monotonic() < end:
            client.receive(0.1)   # read what arrived, then answer each stream whose prediction came
            for stream_id, (stream, image) in list(active.items()):
                while (message := stream.take()) is not None:
                    rows += 1
                    if stream.done:
                        images_done += 1
                        del active[stream_id]
                        start()
                        break
                    stream.send(image[message.row + 1], last=message.row + 1 == 27)
        elapsed = time.monotonic() - began
        gather([s for s, _ in active.values()], timeout=5)
    print(f"python client, {args.streams} streams, {'PUB' if args.pub else 'lossless'}: {rows / elapsed:,.0f} rows/s, "
          f"{images_done / elapsed:,.0f} images/s over {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
