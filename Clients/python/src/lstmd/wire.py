"""LSP/2 framing (Protocols/stream-protocol.md): ingest messages out (version 2: 12-byte headers with the
client's sequence number), prediction messages in (version 2, and version 1 for streams started by LSP/1
clients). The only module that knows the bytes; no sockets here. Needs only the standard library (numpy arrays are accepted
as row values when numpy is installed)."""
from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

VERSION = 2                          # what this client sends
HEADER_V1 = struct.Struct("<BBBBI")  # version, kind, dtype | argmax, flags | reserved, row index (LE)
HEADER = struct.Struct("<BBBBII")    # version 2: the same, then the sequence number (LE)
SEQUENCE_LIMIT = 1 << 32             # sequence numbers are uint32
NO_ROW = 0xFFFF_FFFF               # the row index of an ERROR that concerns no row
ERRORS_TOPIC = b"$errors"
FLAG_LAST = 0x01

StreamID = Union[str, bytes]


class IngestKind(enum.IntEnum):
    ROW = 0
    END = 1


class DType(enum.IntEnum):
    UINT8 = 0
    FLOAT32 = 1


class Kind(enum.IntEnum):
    """A prediction message's kind."""
    PARTIAL = 0
    FINAL = 1
    ERROR = 2


class ProtocolError(ValueError):
    """Bytes that are not a valid LSP/1 or LSP/2 message, or values that cannot be encoded as one."""


@dataclass(frozen=True)
class Prediction:
    """A PARTIAL or FINAL: the class probabilities after `row` of sequence `sequence` (None in a
    version 1 message: a stream started by an LSP/1 client)."""
    stream: bytes
    kind: Kind
    row: int
    argmax: int
    probabilities: Tuple[float, ...]
    sequence: Optional[int] = None

    @property
    def final(self) -> bool:
        return self.kind is Kind.FINAL


@dataclass(frozen=True)
class StreamError:
    """An ERROR: `code` is machine-readable (stream-protocol.md §12; unknown codes are possible), `message`
    is for people. `row` is None when no row is concerned. `stream` is b"$errors" for unreadable messages.
    `sequence` is the sequence the ERROR concerns (None in a version 1 message)."""
    stream: bytes
    row: Optional[int]
    code: str
    message: str
    kind: Kind = Kind.ERROR
    sequence: Optional[int] = None

    final = True   # an ERROR about a stream ends what a client waits for on it


Message = Union[Prediction, StreamError]


def stream_id_bytes(stream_id: StreamID) -> bytes:
    """The id's bytes, checked against §4: 1–255 bytes of UTF-8, no 0x00, not starting with '$'."""
    raw = stream_id.encode("utf-8") if isinstance(stream_id, str) else bytes(stream_id)
    if not 1 <= len(raw) <= 255:
        raise ProtocolError(f"stream id of {len(raw)} bytes; expected 1 to 255")
    if b"\x00" in raw:
        raise ProtocolError(f"stream id {raw!r} contains the byte 0x00")
    if raw.startswith(b"$"):
        raise ProtocolError(f"stream id {raw!r} starts with '$', which is reserved for daemon topics")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(f"stream id {raw!r} is not UTF-8: {error}") from None
    return raw


def _row_body(values: Any, dtype: Optional[DType]) -> Tuple[DType, bytes]:
    """uint8 for bytes-like values, integer sequences and numpy uint8; float32 for float values."""
    if isinstance(values, (bytes, bytearray, memoryview)):
        if dtype is DType.FLOAT32:
            raise ProtocolError("bytes values are uint8; pass floats for a float32 row")
        return DType.UINT8, bytes(values)
    array_dtype = getattr(values, "dtype", None)
    if array_dtype is not None:   # a numpy array
        if dtype is DType.UINT8 or (dtype is None and array_dtype.kind in "ui"):
            import numpy as np
            if array_dtype.kind in "ui" and (values.min(initial=0) < 0 or values.max(initial=0) > 255):
                raise ProtocolError("uint8 row values must be 0…255")
            return DType.UINT8, np.ascontiguousarray(values, dtype=np.uint8).tobytes()
        return DType.FLOAT32, values.astype("<f4").tobytes()
    values = list(values)
    if dtype is None:
        dtype = DType.UINT8 if all(isinstance(v, int) for v in values) else DType.FLOAT32
    if dtype is DType.UINT8:
        try:
            return dtype, bytes(values)
        except (ValueError, TypeError):
            raise ProtocolError("uint8 row values must be integers 0…255") from None
    return dtype, struct.pack(f"<{len(values)}f", *values)


def _header(kind: IngestKind, dtype: DType, flags: int, row: int, sequence: Optional[int]) -> bytes:
    """A version 2 header, or a version 1 header when `sequence` is None (§16: only to speak to LSP/1)."""
    if not 0 <= row < NO_ROW:
        raise ProtocolError(f"row index {row} out of range 0…{NO_ROW - 1}")
    if sequence is None:
        return HEADER_V1.pack(1, kind, dtype, flags, row)
    if not 0 <= sequence < SEQUENCE_LIMIT:
        raise ProtocolError(f"sequence number {sequence} out of range 0…{SEQUENCE_LIMIT - 1}")
    return HEADER.pack(VERSION, kind, dtype, flags, row, sequence)


def encode_row(stream_id: StreamID, row: int, values: Any, *, sequence: Optional[int], last: bool = False,
               dtype: Optional[DType] = None) -> List[bytes]:
    """The three frames of a ROW (§5.1) of sequence `sequence` (§6.1; None: a version 1 ROW).
    `values`: bytes / ints (uint8) or floats (float32)."""
    kind, body = _row_body(values, dtype)
    return [stream_id_bytes(stream_id), _header(IngestKind.ROW, kind, FLAG_LAST if last else 0, row, sequence), body]


def encode_end(stream_id: StreamID, next_row: int = 0, *, sequence: Optional[int]) -> List[bytes]:
    """The two frames of an END (§5.2) of sequence `sequence` (None: version 1): abandon the stream."""
    return [stream_id_bytes(stream_id), _header(IngestKind.END, DType.UINT8, 0, next_row, sequence)]


def decode_prediction(frames: Sequence[bytes]) -> Message:
    """A prediction message (§7) as a Prediction or a StreamError."""
    if len(frames) != 3:
        raise ProtocolError(f"prediction message of {len(frames)} frames; expected 3")
    topic, header, body = (bytes(f) for f in frames)
    if len(header) not in (HEADER_V1.size, HEADER.size):
        raise ProtocolError(f"prediction header of {len(header)} bytes; expected {HEADER.size} (version 2) "
                            f"or {HEADER_V1.size} (version 1)")
    version = header[0]
    if (version, len(header)) == (2, HEADER.size):
        _, kind, argmax, _reserved, row, sequence = HEADER.unpack(header)
    elif (version, len(header)) == (1, HEADER_V1.size):
        _, kind, argmax, _reserved, row = HEADER_V1.unpack(header)
        sequence = None
    elif version in (1, 2):
        raise ProtocolError(f"version {version} prediction header of {len(header)} bytes; expected "
                            f"{HEADER_V1.size if version == 1 else HEADER.size}")
    else:
        raise ProtocolError(f"prediction has protocol version {version}; expected 1 or 2")
    if kind == Kind.ERROR:
        try:
            content = json.loads(body)
            code, message = str(content["code"]), str(content.get("message", ""))
        except (ValueError, KeyError, TypeError):
            code, message = "bad_body", f"ERROR body is not JSON with a code: {body[:80]!r}"
        return StreamError(topic, None if row == NO_ROW else row, code, message, sequence=sequence)
    if kind not in (Kind.PARTIAL, Kind.FINAL):
        raise ProtocolError(f"prediction kind {kind}; expected 0 (PARTIAL), 1 (FINAL) or 2 (ERROR)")
    if len(body) % 4 or not body:
        return StreamError(topic, row, "bad_body", f"{Kind(kind).name} body of {len(body)} bytes is not float32 values",
                           sequence=sequence)
    probabilities = struct.unpack(f"<{len(body) // 4}f", body)
    return Prediction(topic, Kind(kind), row, argmax, probabilities, sequence)
