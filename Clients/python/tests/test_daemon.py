"""Converted Keras / TF 1 models served by a real lstmd (the worktree's build): the probabilities it
publishes after every row equal the source framework's within 1e-5, on the PUB path and the lossless
ROUTER path, and its status names the converted file."""
from __future__ import annotations

import asyncio
import hashlib

import numpy as np
import pytest

from conftest import CONVERTED_FIXTURES, FIXTURES, expected

zmq = pytest.importorskip("zmq")
import lstmd  # noqa: E402

TOLERANCE = 1e-5


def digit_rows(digit: dict) -> list:
    pixels = bytes(digit["pixels"])
    return [pixels[r * 28:(r + 1) * 28] for r in range(28)]


@pytest.mark.parametrize("lossless", [False, True], ids=["pub", "router"])
@pytest.mark.parametrize("name", CONVERTED_FIXTURES)
def test_daemon_serves_converted_model_like_the_source_framework(daemon_factory, name: str, lossless: bool) -> None:
    model = FIXTURES / f"{name}.safetensors"
    daemon = daemon_factory(model)
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=lossless) as client:
        status = client.status()
        assert status["model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
        assert status["model"]["sequence_length"] == 28
        worst = 0.0
        for digit in expected(name)["digits"]:
            stream = client.stream()
            stream.send_rows(digit_rows(digit))
            messages = list(stream)
            assert [m.row for m in messages] == list(range(28))
            assert all(isinstance(m, lstmd.Prediction) for m in messages)
            assert [m.final for m in messages] == [False] * 27 + [True]
            got = np.array([m.probabilities for m in messages])
            worst = max(worst, float(np.abs(got - np.array(digit["probabilities"])).max()))
            assert [m.argmax for m in messages] == list(got.argmax(axis=1))
    assert worst <= TOLERANCE


def test_async_iteration_of_several_streams(daemon_factory) -> None:
    name = "keras-lstm2-h18"
    daemon = daemon_factory(FIXTURES / f"{name}.safetensors")
    digits = expected(name)["digits"]

    async def run(client: lstmd.Client) -> list:
        streams = [client.stream() for _ in digits]
        for row in range(28):   # rows of all digits interleaved, as concurrent producers would send them
            for stream, digit in zip(streams, digits):
                stream.send(digit_rows(digit)[row], last=row == 27)

        async def final(stream):
            return [m async for m in stream][-1]
        return await asyncio.gather(*(final(s) for s in streams))

    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=True) as client:
        finals = asyncio.run(run(client))
    for message, digit in zip(finals, digits):
        assert message.final and message.row == 27
        assert np.abs(np.array(message.probabilities) - digit["probabilities"][27]).max() <= TOLERANCE
