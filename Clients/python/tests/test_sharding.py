"""Scale-out by stream id through the Python package: 3 real daemons, 3,000 digits over 600 stream ids
routed by rendezvous hashing; every FINAL equals the model's reference; one daemon stopped mid-run fails
only the streams routed to it, and all of them, with an error."""
from __future__ import annotations

import gzip
import struct
import time

import numpy as np
import pytest

from conftest import FIXTURES

zmq = pytest.importorskip("zmq")
import lstmd  # noqa: E402
from lstmd.model import Model  # noqa: E402

MODEL = FIXTURES / "keras-lstm1-h20.safetensors"   # small: the debug build steps it quickly
STREAM_IDS, ROUNDS = 600, 5


def fixture_digits() -> np.ndarray:
    with gzip.open(FIXTURES / "mnist-t10k-100-images-idx3-ubyte.gz") as f:
        raw = f.read()
    count = struct.unpack(">I", raw[4:8])[0]
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, 28, 28)


def test_three_daemons_3000_digits_600_stream_ids_one_stopped_mid_run(daemon_factory) -> None:
    daemons = [daemon_factory(MODEL) for _ in range(3)]
    images = fixture_digits()
    model = Model.load(MODEL)
    reference = [model.probabilities(image.astype(np.float32) * np.float32(model.input_scale))[-1] for image in images]
    endpoints = [lstmd.Endpoints(**d.endpoints) for d in daemons]
    ids = [f"shard-test/{i}" for i in range(STREAM_IDS)]
    with lstmd.ShardedClient(endpoints, lossless=True, timeout=10) as client:
        placement = [client.daemon_for(i) for i in ids]
        assert all(STREAM_IDS / 3 * 0.8 < placement.count(d) < STREAM_IDS / 3 * 1.2 for d in range(3))
        finals, worst, failures = 0, 0.0, {}
        for round_ in range(ROUNDS):
            stop_mid_run = round_ == ROUNDS - 1
            streams = {sid: client.stream(sid) for sid in ids}
            digit = {sid: (round_ * STREAM_IDS + n) % len(images) for n, sid in enumerate(ids)}
            unsent = set()
            for row in range(28):
                if stop_mid_run and row == 14:
                    daemons[1].stop()             # SIGTERM: its live streams get ERROR shutting_down
                for sid, stream in streams.items():
                    if sid in unsent:
                        continue
                    try:
                        stream.send(images[digit[sid]][row].tobytes(), last=row == 27)
                    except ConnectionError:
                        unsent.add(sid)
            started = time.monotonic()
            results = lstmd.gather(streams.values(), timeout=20)
            print(f"round {round_}: {time.monotonic() - started:.1f} s")
            for sid, message in results.items():
                sid = sid.decode()
                if isinstance(message, lstmd.Prediction) and message.final:
                    finals += 1
                    expected = reference[digit[sid]]
                    worst = max(worst, float(np.abs(np.array(message.probabilities) - expected).max()))
                    assert message.argmax == int(np.argmax(expected))
                else:
                    failures[sid] = message.code if message is not None else "timeout"
        on_stopped = {sid for sid, d in zip(ids, placement) if d == 1}
        assert set(failures) == on_stopped                 # only, and all, the stopped daemon's streams
        assert finals == ROUNDS * STREAM_IDS - len(on_stopped)
        assert worst <= 1e-5
        # The daemon says so to its live streams as it stops; a stream it never saw gets no answer.
        assert set(failures.values()) <= {"shutting_down", "timeout"}
        print(f"{finals} FINALs right; {len(failures)} streams on the stopped daemon failed: "
              f"{sorted(set(failures.values()))}")
