"""The hex examples of Protocols/stream-protocol.md §13 (E1–E16, LSP/1 and LSP/2) checked against
`lstmd.wire`: every ingest example is what the encoder writes, every prediction example decodes to the
values its comment names. Used by the package's tests; an example in the spec without a check here is a
failure, so new examples get one."""
from __future__ import annotations

import re
from typing import Callable, Dict, List

from . import wire

Frames = List[bytes]
PIXELS = [0, 128, 255, 16]
PROBABILITIES = (0, 0, 0.125, 0, 0, 0, 0, 0.75, 0.125, 0)


def parse_examples(spec: str) -> Dict[str, Frames]:
    """The ```wire blocks of the spec by name: `[n] hex ; comment` or `[n] json text` lines, one per frame."""
    examples = {}
    for block in re.findall(r"```wire\n(.*?)```", spec, re.S):
        lines = block.splitlines()
        examples[lines[0].split()[0]] = [
            text[5:].encode() if text.startswith("json ") else bytes.fromhex(text.split(";")[0])
            for text in (line.split("] ", 1)[1] for line in lines[1:])]
    return examples


def _with_flags(frames: Frames, flags: int) -> Frames:
    header = bytearray(frames[1])
    header[3] = flags
    return [frames[0], bytes(header), *frames[2:]]


def _reserved_id_refused(frames: Frames) -> bool:
    try:
        wire.stream_id_bytes(frames[0])
    except wire.ProtocolError:
        return True
    return False


def _error(topic: bytes, row, code: str, message: str, sequence=None) -> wire.StreamError:
    return wire.StreamError(topic, row, code, message, sequence=sequence)


D7 = b"digit-7"
CHECKS: Dict[str, Callable[[Frames], bool]] = {
    # LSP/1 (§16): what a version 1 client sends (sequence=None) and what the daemon answers it.
    "E1": lambda f: f == wire.encode_row("digit-7", 0, PIXELS, sequence=None)
    == wire.encode_row("digit-7", 0, bytes(PIXELS), sequence=None),
    "E2": lambda f: f == wire.encode_row("digit-7", 14, bytes(12) + b"\x40\xff\xff\x40" + bytes(12), sequence=None),
    "E3": lambda f: f == wire.encode_row("digit-7", 27, [0.0, 0.5, 1.0, -2.0], last=True, sequence=None),
    "E4": lambda f: wire.decode_prediction(f) == wire.Prediction(D7, wire.Kind.PARTIAL, 14, 7, PROBABILITIES, None),
    "E5": lambda f: wire.decode_prediction(f) == wire.Prediction(D7, wire.Kind.FINAL, 27, 7, PROBABILITIES, None),
    "E6": lambda f: f == wire.encode_end("digit-7", 3, sequence=None),
    # the encoder never sets flag bit 1: E7 is its row 3 with that bit forced
    "E7": lambda f: f == _with_flags(wire.encode_row("digit-7", 3, PIXELS, sequence=None), 0x02),
    "E8": lambda f: wire.decode_prediction(f) == _error(
        D7, 3, "bad_flags", "flags 0x02 set undefined bits 0x02; only bit 0 (LAST) is defined"),
    # the encoder refuses a reserved id; the rest of E9 is a plain version 1 row 0
    "E9": lambda f: _reserved_id_refused(f) and f[1:] == wire.encode_row("x", 0, PIXELS, sequence=None)[1:],
    "E10": lambda f: wire.decode_prediction(f) == _error(
        b"$errors", None, "bad_stream_id",
        "stream id starts with '$', which is reserved for daemon topics such as $errors"),
    "E11": lambda f: wire.decode_prediction(f) == _error(
        D7, 5, "gap", "row 5 arrived; row 3 was expected: stream dropped"),
    # LSP/2: what this package sends.
    "E12": lambda f: f == wire.encode_row("digit-7", 0, PIXELS, sequence=42),
    "E13": lambda f: wire.decode_prediction(f) == wire.Prediction(D7, wire.Kind.PARTIAL, 14, 7, PROBABILITIES, 42),
    "E14": lambda f: f == wire.encode_row("digit-7", 10, PIXELS, sequence=43),
    "E15": lambda f: wire.decode_prediction(f) == _error(
        D7, 10, "gap", "row 10 of sequence 43 arrived while the stream runs sequence 42: its rows before 10 never "
        "arrived; the stream is dropped, restart it with row 0", sequence=43),
    "E16": lambda f: f == wire.encode_end("digit-7", 3, sequence=43),
}


def check_spec_examples(spec: str) -> List[str]:
    """Checks every example of the spec text; returns their names, raises AssertionError naming the first
    example that the codec does not reproduce (or that has no check, or a check without an example)."""
    examples = parse_examples(spec)
    unchecked = sorted(set(examples) ^ set(CHECKS))
    assert not unchecked, f"examples without a check, or checks without an example: {unchecked}"
    for name, frames in examples.items():
        try:
            reproduced = CHECKS[name](frames)
        except wire.ProtocolError as error:
            raise AssertionError(f"{name}: lstmd.wire refuses it: {error}") from None
        assert reproduced, f"{name}: lstmd.wire does not reproduce {[f.hex(' ') for f in frames]}"
    return list(examples)
