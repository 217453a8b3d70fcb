"""The client's framing against the spec's test vectors, rendezvous hashing against Protocols/, and the
client against a real lstmd: errors typed, float rows, END, control calls, recovery of a prediction PUB
dropped, in iteration and async iteration."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter

import pytest

from conftest import FIXTURES, ROOT
from lstmd import wire, wire_examples
from lstmd.rendezvous import choose, weight

SPEC = (ROOT / "Protocols" / "stream-protocol.md").read_text()


def test_the_codec_reproduces_every_example_of_the_spec() -> None:
    """E1–E16 (LSP/1 and LSP/2)."""
    names = wire_examples.check_spec_examples(SPEC)
    assert len(names) == 16 and {"E1", "E12", "E15", "E16"} <= set(names)


def test_the_spec_check_catches_a_codec_that_differs(monkeypatch) -> None:
    monkeypatch.setattr(wire, "VERSION", 3)
    with pytest.raises(AssertionError, match="E12"):
        wire_examples.check_spec_examples(SPEC)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="without a check"):
        wire_examples.check_spec_examples(SPEC + "\n```wire\nE99 extra\n[1] 00\n```\n")


def test_version_2_and_version_1_headers() -> None:
    examples = wire_examples.parse_examples(SPEC)
    v2, v1 = wire.decode_prediction(examples["E13"]), wire.decode_prediction(examples["E4"])
    assert (v2.sequence, v2.row, v1.sequence, v1.row) == (42, 14, None, 14)
    assert wire.decode_prediction(examples["E15"]).sequence == 43
    assert wire.encode_row("s", 0, b"\x01", sequence=0xFFFF_FFFF)[1][8:] == b"\xff\xff\xff\xff"
    with pytest.raises(wire.ProtocolError, match="sequence number 4294967296 out of range"):
        wire.encode_row("s", 0, b"\x01", sequence=1 << 32)
    body = bytes(40)
    with pytest.raises(wire.ProtocolError, match="version 1 prediction header of 12 bytes; expected 8"):
        wire.decode_prediction([b"s", b"\x01" + bytes(11), body])
    with pytest.raises(wire.ProtocolError, match="version 2 prediction header of 8 bytes; expected 12"):
        wire.decode_prediction([b"s", b"\x02" + bytes(7), body])
    with pytest.raises(wire.ProtocolError, match="protocol version 3; expected 1 or 2"):
        wire.decode_prediction([b"s", b"\x03" + bytes(11), body])
    with pytest.raises(wire.ProtocolError, match="header of 10 bytes"):
        wire.decode_prediction([b"s", b"\x02" + bytes(9), body])


def test_numpy_rows_and_bad_values() -> None:
    np = pytest.importorskip("numpy")
    assert wire.encode_row("s", 1, np.array([1, 2], np.uint8), sequence=7)[2] == b"\x01\x02"
    assert wire.encode_row("s", 1, np.array([0.5], np.float32), sequence=7)[1][2] == wire.DType.FLOAT32
    for bad_id in ("", "$x", "a\x00b", "x" * 256, b"\xff"):
        with pytest.raises(wire.ProtocolError):
            wire.encode_row(bad_id, 0, b"\x00", sequence=7)
    with pytest.raises(wire.ProtocolError, match="0…255"):
        wire.encode_row("s", 0, [256], sequence=7)
    with pytest.raises(wire.ProtocolError, match="2 frames; expected 3"):
        wire.decode_prediction([b"s", b"\x01\x00\x00\x00\x00\x00\x00\x00"])


def test_rendezvous_vectors() -> None:
    vectors = json.loads((ROOT / "Protocols" / "rendezvous-vectors.json").read_text())
    for entry in vectors["weights"]:
        digest = hashlib.sha256(entry["daemon"].encode() + b"\x00" + entry["stream"].encode()).digest()
        assert f"{weight(entry['daemon'], entry['stream']):016x}" == entry["weight_hex"] == digest[:8].hex()
    assert len(vectors["sets"]) == 3
    for case in vectors["sets"]:
        daemons = case["daemons"]
        for stream_id, daemon in case["choices"].items():
            assert daemons[choose(daemons, stream_id)] == daemon
            assert list(reversed(daemons))[choose(list(reversed(daemons)), stream_id)] == daemon


def test_rendezvous_moves_only_what_it_must() -> None:
    three = ["tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555"]
    four = three + ["tcp://10.0.0.4:5555"]
    ids = [f"host/{i}" for i in range(6000)]
    before = [three[choose(three, s)] for s in ids]
    after = [four[choose(four, s)] for s in ids]
    moved = [(a, b) for a, b in zip(before, after) if a != b]
    assert all(b == four[3] for _, b in moved)             # only to the new daemon
    assert 0.20 < len(moved) / len(ids) < 0.30             # about 1/4
    counts = Counter(before)
    assert all(1800 < counts[d] < 2200 for d in three)    # about 1/3 each
    without = [three[:2][choose(three[:2], s)] for s in ids]
    assert all(a == b for a, b in zip(before, without) if a != three[2])   # only the removed one's ids move


# -- against a real daemon --

@pytest.fixture
def client(daemon_factory):
    import lstmd
    daemon = daemon_factory(FIXTURES / "keras-lstm1-h20.safetensors", "--idle-timeout", "30")
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), timeout=3) as client:
        yield client


@pytest.fixture
def lossless_client(daemon_factory):
    import lstmd
    daemon = daemon_factory(FIXTURES / "keras-lstm1-h20.safetensors")
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=True, timeout=3) as client:
        yield client


def digit(index: int = 0) -> list:
    pixels = bytes(json.loads((FIXTURES / "keras-lstm1-h20-expected.json").read_text())["digits"][index]["pixels"])
    return [pixels[r * 28:(r + 1) * 28] for r in range(28)]


def test_float_rows_equal_scaled_uint8_rows(lossless_client) -> None:
    rows = digit(1)
    as_uint8 = lossless_client.classify(rows)
    as_float = lossless_client.classify([[p / 255 for p in row] for row in rows])
    assert as_uint8.final and as_float.final
    assert max(abs(a - b) for a, b in zip(as_uint8.probabilities, as_float.probabilities)) < 1e-6


@pytest.mark.parametrize("mode", ["pub", "router"])
def test_errors_are_typed(request, mode: str) -> None:
    import lstmd
    client = request.getfixturevalue("client" if mode == "pub" else "lossless_client")
    stream = client.stream()
    stream.send(digit()[0])
    messages = iter(stream)
    first = next(messages)
    assert isinstance(first, lstmd.Prediction) and first.row == 0 and not first.final
    stream.next_row = 3                              # skip rows 1 and 2
    stream.send(digit()[3])
    (gap,) = list(messages)
    assert isinstance(gap, lstmd.StreamError)
    assert (gap.code, gap.row) == ("gap", 3) and stream.done

    late = client.stream()
    late.next_row = 5
    late.send(digit()[5])
    (error,) = list(late)
    assert (error.code, error.row) == ("not_started", 5)

    short = client.stream()
    short.send(b"\x00" * 27)
    (error,) = list(short)
    assert error.code == "bad_row_size" and "27" in error.message


def test_end_and_control_calls(client) -> None:
    import lstmd
    assert client.ping()["protocol_version"] == 2
    stream = client.stream()
    stream.send(digit()[0])
    assert next(iter(stream)).row == 0
    assert [(s["id"], s["sequence"], s["next_row"]) for s in client.streams()] == [(stream.id.decode(), stream.sequence, 1)]
    others = [client.stream() for _ in range(4)]
    for other in others:
        other.send(digit()[0])
        assert next(iter(other)).row == 0
    everyone = sorted(s.id.decode() for s in [stream] + others)
    assert [s["id"] for s in client.streams(page_size=2)] == everyone     # three pages
    for other in others:
        other.end()
    stream.end()
    assert stream.done
    for _ in range(100):                             # END travels over PUSH, status over REQ: no order
        if client.status()["live_streams"] == 0:
            break
        time.sleep(0.02)
    status = client.status()
    assert status["live_streams"] == 0 and status["counters"]["streams_dropped"] == 5   # the five ENDs
    other = client.stream()
    other.send(digit()[0])
    assert next(iter(other)).row == 0
    assert client.drop(other.id.decode())["next_row"] == 1
    (dropped,) = list(other)
    assert dropped.code == "dropped"
    with pytest.raises(lstmd.ControlError) as raised:
        client.drop("no-such-stream")
    assert raised.value.code == "unknown_stream"
    with pytest.raises(lstmd.ControlError) as raised:
        client.control("stats")
    assert raised.value.code == "unknown_command"


def test_a_daemon_that_does_not_answer_times_out(tmp_path) -> None:
    import lstmd
    endpoints = lstmd.Endpoints(*(f"ipc://{tmp_path}/{n}" for n in ("i", "p", "c", "r")))
    with lstmd.Client(endpoints, timeout=0.3) as client:
        with pytest.raises(TimeoutError, match="no reply to 'ping'"):
            client.ping()
        stream = client.stream()
        stream.send(b"\x00" * 28)
        with pytest.raises(TimeoutError, match="no prediction within 0.3 s"):
            list(stream)


def test_a_prediction_lost_on_pub_is_recovered_by_resending_the_last_row(daemon_factory) -> None:
    """Rows sent before the subscription reaches the daemon (no wait at all) lose their PARTIALs; the
    stream then resends its last row, and the daemon publishes that row's prediction again."""
    import lstmd
    daemon = daemon_factory(FIXTURES / "keras-lstm1-h20.safetensors")
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), timeout=1, subscription_wait=0) as client:
        stream = client.stream("late-joiner")        # a subscription of its own, sent just now
        for row in digit()[:4]:
            stream.send(row)
        rows = []
        for message in stream:
            assert isinstance(message, lstmd.Prediction)
            rows.append(message.row)
            if message.row == 3:
                break
        assert rows[-1] == 3 and rows == sorted(set(rows))
        # Only rows whose answer had not come are resent, never row 0 (it would restart the stream);
        # how many were lost depends on when the subscription arrived.
        assert stream.resends <= 3
        status = client.status()["counters"]
        assert status["duplicates"] == stream.resends


class LossyRelay:
    """Between the daemon's PUB and a client's SUB: forwards every message but the first prediction of
    `row` for `stream`, which it drops as a PUB that is too slow would. Its sockets live on its thread."""

    def __init__(self, upstream: str, directory, stream: bytes, row: int):
        self.endpoint = f"ipc://{directory}/relay"
        self.upstream, self.stream, self.row = upstream, stream, row
        self.dropped = 0
        self._bound, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()
        assert self._bound.wait(5), "the relay did not start"

    def _relay(self) -> None:
        import zmq
        context = zmq.Context.instance()
        sub, pub = context.socket(zmq.SUB), context.socket(zmq.PUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.upstream)
        pub.bind(self.endpoint)
        self._bound.set()
        while not self._stop.is_set():
            if not sub.poll(50):
                continue
            frames = sub.recv_multipart()
            message = wire.decode_prediction(frames)
            if message.stream == self.stream and message.row == self.row and not self.dropped:
                self.dropped += 1
                continue
            pub.send_multipart(frames)
        sub.close(0)
        pub.close(0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize("iteration", ["sync", "async"])
def test_a_prediction_dropped_on_pub_is_recovered_in_either_iteration(daemon_factory, tmp_path_factory,
                                                                      iteration: str) -> None:
    """The relay drops row 3's PARTIAL: after one timeout the stream resends row 3, the daemon publishes
    that row's prediction again (a duplicate), and the stream goes on to a FINAL equal to Keras'."""
    import lstmd
    daemon = daemon_factory(FIXTURES / "keras-lstm1-h20.safetensors")
    relay = LossyRelay(daemon.endpoints["predictions"], tmp_path_factory.mktemp("r"), b"lossy", row=3)
    endpoints = lstmd.Endpoints(**{**daemon.endpoints, "predictions": relay.endpoint})
    rows = digit(0)

    def read(stream, until_row=None) -> list:
        """The stream's messages up to row `until_row`'s (or to its end), by the iteration under test."""
        async def read_async() -> list:
            seen = []
            async for message in stream:
                seen.append(message)
                if message.row == until_row:
                    break
            return seen
        if iteration == "async":
            return asyncio.run(read_async())
        seen = []
        for message in stream:
            seen.append(message)
            if message.row == until_row:
                break
        return seen

    try:
        # Half a second for both subscriptions (relay → daemon, client → relay) to arrive before row 0.
        with lstmd.Client(endpoints, timeout=1, subscription_wait=0.5) as client:
            stream = client.stream("lossy")
            for row in rows[:4]:
                stream.send(row)
            first = read(stream, until_row=3)
            assert [(type(m), m.row) for m in first] == [(lstmd.Prediction, r) for r in range(4)]
            assert (relay.dropped, stream.resends) == (1, 1)
            for index in range(4, 28):
                stream.send(rows[index], last=index == 27)
            rest = read(stream)
            assert [m.row for m in rest] == list(range(4, 28)) and rest[-1].final
            truth = json.loads((FIXTURES / "keras-lstm1-h20-expected.json").read_text())["digits"][0]["probabilities"][27]
            assert max(abs(a - b) for a, b in zip(rest[-1].probabilities, truth)) < 1e-5
            assert client.status()["counters"]["duplicates"] == 1
    finally:
        relay.stop()
