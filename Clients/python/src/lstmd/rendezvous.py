"""Rendezvous (highest-random-weight) hashing of stream ids over daemons (Protocols/rendezvous.md):
every client that knows the same daemon names sends a stream's rows to the same daemon, adding a
daemon moves about 1/N of the stream ids to it, and removing one moves only the streams it had."""
from __future__ import annotations

import hashlib
from typing import Sequence, Union

StreamID = Union[str, bytes]


def _bytes(value: StreamID) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def weight(daemon: str, stream_id: StreamID) -> int:
    """The first 8 bytes of SHA-256(daemon name ‖ 0x00 ‖ stream id), big-endian unsigned."""
    digest = hashlib.sha256(_bytes(daemon) + b"\x00" + _bytes(stream_id)).digest()
    return int.from_bytes(digest[:8], "big")


def choose(daemons: Sequence[str], stream_id: StreamID) -> int:
    """The index of the daemon with the highest weight for the stream; equal weights (a 2^-64 chance)
    go to the name greater in byte order, so the order of `daemons` never matters."""
    if not daemons:
        raise ValueError("no daemons to choose from")
    if len(set(daemons)) != len(daemons):
        raise ValueError(f"daemon names must be unique: {list(daemons)}")
    return max(range(len(daemons)), key=lambda i: (weight(daemons[i], stream_id), _bytes(daemons[i])))
