#!/usr/bin/env python3
"""Soak driver for one running lstmd (started by Scripts/soak.sh): mixed traffic over every socket for a
bounded time, sampled every 10 s.

Traffic, all at once:
  - valid closed-loop streams over PUSH + SUB and over DEALER (lossless): each sends its next row when the
    previous row's prediction arrived; ids are reused for successive digits, each sequence with a new
    sequence number; every FINAL is compared bit for bit with the first FINAL seen for the same digit
    (lstmd is batch-invariant, and both model files hold the same weights) and its class with the label;
  - malformed messages on ingest and ROUTER (wrong frame counts, sizes, versions, NaN rows, rows out of
    order, unknown streams, oversized messages) and malformed control requests;
  - a SUB that never reads, and a DEALER that sends 50 digits every 10 s and never reads;
  - a `drop` of a stream started for it, `streams` and `status` every 10 s; a control `reload` alternating
    between two model files with the same weights every 30 s; SIGHUP every 45 s.
Every 10 s one line of samples.csv: lstmd's RSS, the row -> prediction latency percentiles of the valid
streams, counts. At the end soak.svg (the chart) and summary.json; exit status 1 when a FINAL was wrong or
lost, a valid stream got an ERROR, lstmd died, or its mean RSS over the last fifth of the run exceeds the
middle fifth's by more than 3 % (the lazy clients' queues fill to their bounds in the first minutes).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Clients" / "python" / "src"))
from lstmd import wire  # noqa: E402
from procinfo import rss_kib  # noqa: E402

ROW_TIMEOUT = 2.0     # resend a row whose prediction has not come (the daemon repeats it)
LOST_AFTER = 15.0     # a sequence with no progress for this long is lost


def read_digits():
    fixture = ROOT / "Tests" / "Fixtures"
    with gzip.open(fixture / "mnist-t10k-100-images-idx3-ubyte.gz") as f:
        raw = f.read()
    with gzip.open(fixture / "mnist-t10k-100-labels-idx1-ubyte.gz") as f:
        labels = f.read()[8:]
    count = struct.unpack(">I", raw[4:8])[0]
    images = [[raw[16 + i * 784 + r * 28:16 + i * 784 + (r + 1) * 28] for r in range(28)] for i in range(count)]
    return images, list(labels)


class Tally:
    """The soak's counts; `window_latencies` is emptied at every sample."""

    def __init__(self):
        self.rows = 0
        self.finals = 0
        self.correct = 0
        self.wrong = []          # "stream seq digit" of FINALs that differ from the reference
        self.lost = 0
        self.resends = 0
        self.valid_errors = {}   # code -> count: ERRORs on valid streams (none expected)
        self.hostile_sent = 0
        self.hostile_blocked = 0 # junk not sent because libzmq's queue to lstmd was full
        self.hostile_errors = 0  # ERRORs answering malformed traffic (expected)
        self.control_errors = 0  # error replies to malformed control requests (expected)
        self.drops = 0
        self.reloads = 0
        self.sighups = 0
        self.window_latencies = []
        self.references = {}     # digit -> FINAL body bytes


class ClosedLoop:
    """`count` streams `prefix-i`, each one sequence after another, over PUSH + SUB or over one DEALER."""

    def __init__(self, context, args, prefix, count, lossless, digits, labels, tally, rng):
        self.prefix, self.lossless, self.digits, self.labels, self.tally, self.rng = \
            prefix, lossless, digits, labels, tally, rng
        if lossless:
            self.sender = context.socket(zmq.DEALER)
            self.sender.connect(args.results)
            self.receiver = self.sender
        else:
            self.sender = context.socket(zmq.PUSH)
            self.sender.connect(args.ingest)
            self.receiver = context.socket(zmq.SUB)
            self.receiver.setsockopt(zmq.SUBSCRIBE, prefix.encode() + b"-")
            self.receiver.connect(args.predictions)
        for s in {self.sender, self.receiver}:
            s.setsockopt(zmq.LINGER, 0)
        self.streams = [self._new(i) for i in range(count)]

    def _new(self, i):
        return {"id": f"{self.prefix}-{i}".encode(), "digit": self.rng.randrange(len(self.digits)),
                "sequence": self.rng.randrange(1 << 32), "row": 0, "sent": None, "first_sent": None,
                "progress": time.monotonic()}

    def wait_until_subscribed(self):
        """PUB drops what it publishes before a subscription arrives: probe until an ERROR comes back."""
        if self.lossless:
            return
        probe = f"{self.prefix}-probe".encode()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.sender.send_multipart(wire.encode_end(probe, sequence=0))
            if self.receiver.poll(100):
                frames = self.receiver.recv_multipart()
                if frames[0] == probe:
                    return
        raise SystemExit(f"{self.prefix}: no subscription after 30 s")

    def pump(self, now):
        for s in self.streams:
            if s["sent"] is None:
                self._send(s, now)
            elif now - s["progress"] > LOST_AFTER:
                self.tally.lost += 1
                s.update(self._new(self.streams.index(s)))
                self._send(s, now)
            elif now - s["sent"] > ROW_TIMEOUT:
                self.tally.resends += 1
                self._send(s, now, resend=True)

    def _send(self, s, now, resend=False):
        r = s["row"]
        frames = wire.encode_row(s["id"], r, self.digits[s["digit"]][r], sequence=s["sequence"], last=r == 27)
        self.sender.send_multipart(frames, flags=zmq.NOBLOCK) if self.lossless else self.sender.send_multipart(frames)
        s["sent"] = now
        if not resend:
            s["first_sent"] = now

    def read(self):
        while self.receiver.poll(0):
            message = wire.decode_prediction(self.receiver.recv_multipart())
            if not message.stream.startswith(self.prefix.encode() + b"-") or message.stream.endswith(b"-probe"):
                continue
            i = int(message.stream.rsplit(b"-", 1)[1])
            s = self.streams[i]
            if message.sequence != s["sequence"]:
                continue   # a late message of an earlier sequence on this id
            now = time.monotonic()
            if isinstance(message, wire.StreamError):
                self.tally.valid_errors[message.code] = self.tally.valid_errors.get(message.code, 0) + 1
                s.update(self._new(i))
                continue
            if message.row != s["row"]:
                continue   # a repeat
            self.tally.rows += 1
            self.tally.window_latencies.append(now - s["first_sent"])
            s["progress"] = now
            if message.final:
                self._check_final(s, message)
                s.update(self._new(i))
            else:
                s["row"] += 1
            s["sent"] = None

    def _check_final(self, s, message):
        body = struct.pack(f"<{len(message.probabilities)}f", *message.probabilities)
        reference = self.tally.references.setdefault(s["digit"], body)
        self.tally.finals += 1
        if body != reference:
            self.tally.wrong.append(f"{s['id'].decode()} seq {s['sequence']} digit {s['digit']}")
        if message.argmax == self.labels[s["digit"]]:
            self.tally.correct += 1


def hostile_messages(rng, digits):
    """One batch of messages lstmd must refuse, each alone."""
    junk = f"junk-{rng.randrange(1000)}".encode()
    row = digits[0][0]
    nan_row = struct.pack("<28f", *([float("nan")] + [0.0] * 27))
    header = lambda kind, dtype, row_index, version=2: (
        struct.pack("<BBBBII", version, kind, dtype, 0, row_index, 7) if version == 2
        else struct.pack("<BBBBI", version, kind, dtype, 0, row_index))
    oversized = [[junk, header(0, 0, 0), b"\x00" * (2 << 20)]] if rng.random() < 0.05 else []
    return oversized + [
        [junk],                                                  # one frame
        [junk, header(0, 0, 0), row, b"extra"],                  # four frames
        [junk, b"\x02\x00", row],                                # short header
        [junk, header(0, 0, 0, version=9), row],                 # unknown version
        [junk, header(0, 0, 0), row[:27]],                       # wrong row size
        [junk, header(0, 1, 0), nan_row],                        # NaN float row
        [junk, header(0, 0, 5), row],                            # row 5 of an unknown stream
        [junk, header(1, 0, 0), b""],                            # END of an unknown stream
        [b"$bad", header(0, 0, 0), row],                         # reserved id
        [b"", header(0, 0, 0), row],                             # empty id
        [b"x" * 300, header(0, 0, 0), row],                      # id too long
        [junk, header(0, 0, 0), bytes(rng.randrange(256) for _ in range(rng.randrange(64)))],
        [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(rng.randrange(1, 5))],
    ]


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def control(context, endpoint, request, timeout_ms=5000):
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        socket.send(request if isinstance(request, bytes) else json.dumps(request).encode())
        if not socket.poll(timeout_ms):
            return None
        return json.loads(socket.recv())
    finally:
        socket.close()


def chart(samples, path):
    """Three panels over time: RSS (MB), latency p50 / p99 (ms), FINALs and ERRORs of valid streams."""
    width, panel, left = 900, 170, 70
    t_max = max(s["seconds"] for s in samples) or 1
    panels = [
        ("lstmd RSS (MiB)", [("rss", "#1f77b4", lambda s: s["rss_kib"] / 1024)]),
        ("row → prediction latency (ms)", [("p50", "#2ca02c", lambda s: s["p50_ms"]),
                                           ("p99", "#d62728", lambda s: s["p99_ms"])]),
        ("valid streams: FINALs (÷1000) and errors", [("FINALs/1000", "#9467bd", lambda s: s["finals"] / 1000),
                                                      ("wrong+lost+errors", "#d62728",
                                                       lambda s: s["wrong"] + s["lost"] + s["valid_errors"])]),
    ]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(panels) * (panel + 40) + 30}" '
           'font-family="sans-serif" font-size="12">', '<rect width="100%" height="100%" fill="white"/>']
    for k, (title, series) in enumerate(panels):
        top = 30 + k * (panel + 40)
        y_max = max([f(s) for s in samples for _, _, f in series] + [1e-9]) * 1.1
        out.append(f'<text x="{left}" y="{top - 8}" font-weight="bold">{title}</text>')
        out.append(f'<rect x="{left}" y="{top}" width="{width - left - 20}" height="{panel}" fill="none" stroke="#999"/>')
        for tick in range(5):
            value = y_max * tick / 4
            y = top + panel - panel * tick / 4
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.3g}</text>')
        for name, color, f in series:
            points = " ".join(f"{left + (width - left - 20) * s['seconds'] / t_max:.1f},"
                              f"{top + panel - panel * f(s) / y_max:.1f}" for s in samples)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>')
        out.append(f'<text x="{width - 20}" y="{top - 8}" text-anchor="end">'
                   + " ".join(f'<tspan fill="{c}">■ {n}</tspan>' for n, c, _ in series) + "</text>")
    bottom = 30 + len(panels) * (panel + 40) - 20
    out.append(f'<text x="{left}" y="{bottom}">0 s</text>')
    out.append(f'<text x="{width - 20}" y="{bottom}" text-anchor="end">{t_max:.0f} s</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pid", type=int, required=True, help="lstmd's process id (RSS, SIGHUP)")
    parser.add_argument("--ingest", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--models", nargs=2, required=True, metavar="FILE",
                        help="two model files in lstmd's model directory, same weights, different SHA-256")
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--streams", type=int, default=48, help="valid streams per path (PUB and DEALER)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    digits, labels = read_digits()
    tally = Tally()
    context = zmq.Context()

    loops = [ClosedLoop(context, args, "pub", args.streams, False, digits, labels, tally, rng),
             ClosedLoop(context, args, "dealer", args.streams, True, digits, labels, tally, rng)]
    for loop in loops:
        loop.wait_until_subscribed()
    hostile_push = context.socket(zmq.PUSH)
    hostile_dealer = context.socket(zmq.DEALER)
    hostile_sub = context.socket(zmq.SUB)     # counts the ERRORs the junk gets
    for s, endpoint in ((hostile_push, args.ingest), (hostile_dealer, args.results), (hostile_sub, args.predictions)):
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
    hostile_sub.setsockopt(zmq.SUBSCRIBE, b"junk-")
    hostile_sub.setsockopt(zmq.SUBSCRIBE, b"$errors")
    hostile_sub.setsockopt(zmq.SUBSCRIBE, b"victim-")
    lazy_sub = context.socket(zmq.SUB)        # subscribes to everything, never reads
    lazy_sub.setsockopt(zmq.SUBSCRIBE, b"")
    lazy_sub.connect(args.predictions)
    lazy_dealer = context.socket(zmq.DEALER)  # sends rows, never reads
    lazy_dealer.setsockopt(zmq.LINGER, 0)
    lazy_dealer.connect(args.results)

    samples = []
    csv = (args.out / "samples.csv").open("w")
    columns = ["seconds", "rss_kib", "p50_ms", "p99_ms", "max_ms", "rows", "finals", "correct", "wrong", "lost",
               "resends", "valid_errors", "hostile_sent", "hostile_blocked", "hostile_errors", "control_errors", "drops",
               "reloads",
               "sighups"]
    csv.write(",".join(columns) + "\n")
    start = time.monotonic()
    next_hostile = next_sample = next_control = start
    next_reload, next_sighup, next_lazy = start + 30, start + 45, start
    victim = 0
    alive = True
    while time.monotonic() - start < args.seconds:
        now = time.monotonic()
        try:
            os.kill(args.pid, 0)
        except ProcessLookupError:
            alive = False
            break
        for loop in loops:
            loop.pump(now)
            loop.read()
        while hostile_dealer.poll(0):
            hostile_dealer.recv_multipart()
            tally.hostile_errors += 1
        while hostile_sub.poll(0):
            frames = hostile_sub.recv_multipart()
            if not frames[0].startswith(b"victim-"):
                tally.hostile_errors += 1
        if now >= next_hostile:
            next_hostile = now + 0.05
            for frames in hostile_messages(rng, digits):
                try:
                    (hostile_push if rng.random() < 0.5 else hostile_dealer).send_multipart(frames, flags=zmq.NOBLOCK)
                    tally.hostile_sent += 1
                except zmq.Again:
                    tally.hostile_blocked += 1
        if now >= next_lazy:
            next_lazy = now + 10
            for i in range(50):
                image, sequence = digits[i], rng.randrange(1 << 32)
                for r in range(28):
                    try:
                        lazy_dealer.send_multipart(wire.encode_row(f"lazy-{i}", r, image[r], sequence=sequence,
                                                                   last=r == 27), flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
        if now >= next_control:
            next_control = now + 10
            victim += 1
            victim_id = f"victim-{victim}"
            for r in range(5):
                hostile_push.send_multipart(wire.encode_row(victim_id, r, digits[0][r], sequence=victim))
            time.sleep(0.2)
            reply = control(context, args.control, {"command": "drop", "stream": victim_id})
            if reply and reply.get("ok"):
                tally.drops += 1
            for request in (b"not json", b'{"command": "no-such"}', b"{" * 10_000, {"command": "drop", "stream": "$x"}):
                reply = control(context, args.control, request)
                if reply is not None and reply.get("ok") is False:
                    tally.control_errors += 1
            control(context, args.control, {"command": "streams"})
            control(context, args.control, {"command": "status"})
        if now >= next_reload:
            next_reload = now + 30
            reply = control(context, args.control, {"command": "reload", "model": args.models[tally.reloads % 2]})
            if reply and reply.get("ok"):
                tally.reloads += 1
            else:
                print(f"reload refused: {reply}", flush=True)
        if now >= next_sighup:
            next_sighup = now + 45
            os.kill(args.pid, signal.SIGHUP)
            tally.sighups += 1
        if now >= next_sample and now > start:
            next_sample = now + 10
            latencies = tally.window_latencies
            tally.window_latencies = []
            sample = {"seconds": round(now - start, 1), "rss_kib": rss_kib(args.pid),
                      "p50_ms": round(percentile(latencies, 50) * 1e3, 3),
                      "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
                      "max_ms": round(max(latencies, default=0) * 1e3, 3),
                      "rows": tally.rows, "finals": tally.finals, "correct": tally.correct, "wrong": len(tally.wrong),
                      "lost": tally.lost, "resends": tally.resends, "valid_errors": sum(tally.valid_errors.values()),
                      "hostile_sent": tally.hostile_sent, "hostile_blocked": tally.hostile_blocked,
                      "hostile_errors": tally.hostile_errors, "control_errors": tally.control_errors, "drops": tally.drops, "reloads": tally.reloads,
                      "sighups": tally.sighups}
            samples.append(sample)
            csv.write(",".join(str(sample[c]) for c in columns) + "\n")
            csv.flush()
            print(" ".join(f"{c}={sample[c]}" for c in columns), flush=True)
        time.sleep(0.0005)

    # Flat memory: the queues of the lazy clients fill up to their bounds during the first half, so
    # the last fifth of the run is compared with the middle fifth; a leak of any steady rate shows.
    def mean_rss(first, last):
        window = [s["rss_kib"] for s in samples if first <= s["seconds"] / args.seconds < last]
        return sum(window) / len(window) if window else 0.0
    middle, end = mean_rss(0.4, 0.6), mean_rss(0.8, 1.01)
    rss_growth = end / middle - 1 if middle and end else 0.0
    summary = {
        "seed": args.seed, "seconds": round(time.monotonic() - start, 1), "lstmd_alive": alive,
        "rows": tally.rows, "finals": tally.finals, "accuracy": tally.correct / max(tally.finals, 1),
        "wrong": tally.wrong[:20], "lost": tally.lost, "resends": tally.resends, "valid_errors": tally.valid_errors,
        "hostile_sent": tally.hostile_sent, "hostile_blocked": tally.hostile_blocked,
        "hostile_errors": tally.hostile_errors, "control_errors": tally.control_errors, "drops": tally.drops, "reloads": tally.reloads,
        "sighups": tally.sighups,
        "rss_mib": {"first": round(samples[0]["rss_kib"] / 1024, 1) if samples else None,
                    "middle_fifth_mean": round(middle / 1024, 1), "last_fifth_mean": round(end / 1024, 1),
                    "max": round(max(s["rss_kib"] for s in samples) / 1024, 1) if samples else None,
                    "growth_last_over_middle": round(rss_growth, 4)},
        "p99_ms": {"median": percentile([s["p99_ms"] for s in samples], 50),
                   "max": max((s["p99_ms"] for s in samples), default=0)},
        "p50_ms_median": percentile([s["p50_ms"] for s in samples], 50),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if samples:
        chart(samples, args.out / "soak.svg")
    print(json.dumps(summary, indent=2))
    failed = (not alive or tally.wrong or tally.lost or tally.valid_errors or rss_growth > 0.03
              or tally.finals == 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
