"""LSP/2 sequences against a real lstmd: one stream id carrying several sequences, each with its own
sequence number, the client ignoring the messages of the others; and a stream continued across a daemon
restart (SIGTERM with --state-dir, start again, go on sending) that ends exactly as an uninterrupted one."""
from __future__ import annotations

import pytest

from conftest import FIXTURES, expected

zmq = pytest.importorskip("zmq")
import lstmd  # noqa: E402

MODEL = FIXTURES / "keras-lstm1-h20.safetensors"


def digit(index: int) -> list:
    pixels = bytes(expected("keras-lstm1-h20")["digits"][index]["pixels"])
    return [pixels[r * 28:(r + 1) * 28] for r in range(28)]


def client_for(daemon, lossless: bool) -> lstmd.Client:
    return lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=lossless, timeout=3)


@pytest.mark.parametrize("lossless", [False, True], ids=["pub", "router"])
def test_a_stream_id_reused_for_two_digits_runs_two_sequences(daemon_factory, lossless: bool) -> None:
    daemon = daemon_factory(MODEL, "--idle-timeout", "30")
    with client_for(daemon, lossless) as client:
        reference = [client.classify(digit(i)) for i in (1, 2)]
        stream = client.stream()
        for row in digit(0)[:14]:                  # half of digit 0, its predictions not read
            stream.send(row)
        first = stream.sequence
        stream.send_rows(digit(1))                 # row 0 again: a new sequence restarts the stream
        second = stream.sequence
        messages = list(stream)
        assert first is not None and second is not None and first != second
        # The daemon publishes digit 0's 14 PARTIALs first (rule 2); the stream skips them.
        assert [(m.sequence, m.row) for m in messages] == [(second, r) for r in range(28)]
        assert all(isinstance(m, lstmd.Prediction) for m in messages)
        assert messages[-1].final and messages[-1].probabilities == reference[0].probabilities
        assert stream.ignored == 14 if lossless else stream.ignored <= 14
        stream.send_rows(digit(2))                 # after its FINAL: a third sequence on the same id
        final = stream.result()
        assert stream.sequence not in (first, second)
        assert final.final and final.sequence == stream.sequence
        assert final.probabilities == reference[1].probabilities
        assert client.status()["counters"]["streams_restarted"] == 1


@pytest.mark.parametrize("lossless", [False, True], ids=["pub", "router"])
def test_a_stream_continues_across_a_daemon_restart(daemon_factory, tmp_path, lossless: bool) -> None:
    state = tmp_path / "state"
    state.mkdir()
    daemon = daemon_factory(MODEL, "--idle-timeout", "30", "--state-dir", str(state))
    rows = digit(3)
    with client_for(daemon, lossless) as client:
        uninterrupted = client.classify(rows)
        stream = client.stream()
        for row in rows[:14]:
            stream.send(row)
        for message in stream:
            assert isinstance(message, lstmd.Prediction)
            if message.row == 13:
                break
        sequence = stream.sequence

        assert daemon.restart() == 0                # SIGTERM: drain, snapshot, exit; then start again
        assert client.status()["counters"]["streams_restored"] == 1

        stream.send(rows[14])                       # the next row of the same sequence
        after = []
        for message in stream:                      # PUB: a PARTIAL lost while SUB reconnected is asked again
            after.append(message)
            if message.row == 14:
                break
        for index in range(15, 28):
            stream.send(rows[index], last=index == 27)
        after += list(stream)
        assert all(isinstance(m, lstmd.Prediction) and m.sequence == sequence for m in after)
        assert [m.row for m in after] == list(range(14, 28))
        assert after[-1].final
        assert after[-1].probabilities == uninterrupted.probabilities   # bitwise
        assert stream.resends == 0 if lossless else stream.resends <= 1   # PUB: row 14 again, at most
        assert client.status()["counters"]["streams_restored"] == 1
