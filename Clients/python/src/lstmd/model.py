"""lstmd's model file in Python: the tensors of an LSTM classifier, safetensors read and write, and a
numpy reference that runs it one row at a time (Protocols/model-format.md).

Needs numpy. The layout is PyTorch's: `lstm.weight_ih_l{k}` [4H, I_k], `lstm.weight_hh_l{k}` [4H, H],
`lstm.bias_ih_l{k}` and `lstm.bias_hh_l{k}` [4H], gate blocks i, f, g, o; `fc.weight` [C, H], `fc.bias` [C].
"""
from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import numpy as np

PathLike = Union[str, Path]
MAX_HEADER = 100_000_000
_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}


# lstmd's limits (Sources/LSTMCore: LSTMShape.Limits, ModelMetadata.inputScaleRange and maxSequenceLength).
MAX_WIDTH = 1 << 20             # I and H
MAX_LAYERS = 1024
MAX_CLASSES = 255               # a prediction carries its class in one byte and 255 marks an error
INPUT_SCALE_RANGE = (np.float32(1e-9), np.float32(1e9))   # lstmd compares the value read as float32
MAX_SEQUENCE_LENGTH = 1 << 32   # rows are numbered by 32 bits


class ModelFileError(ValueError):
    """A model that lstmd would refuse, or a safetensors file that cannot be read."""


def check_limits(input_size: int, hidden_size: int, layers: int, classes: int) -> None:
    """Raises ModelFileError, naming the size and the limit, for sizes lstmd refuses to load."""
    for size, value, limit, reason in (
            ("input size I", input_size, MAX_WIDTH, "lstmd refuses wider layers"),
            ("hidden size H", hidden_size, MAX_WIDTH, "lstmd refuses wider layers"),
            ("layer count L", layers, MAX_LAYERS, "lstmd refuses deeper models"),
            ("class count C", classes, MAX_CLASSES, "a prediction carries its class in one byte and 255 marks an error")):
        if value > limit:
            raise ModelFileError(f"{size} = {value} exceeds lstmd's limit of {limit}: {reason}")


def check_metadata(metadata: Mapping[str, str]) -> None:
    """Raises ModelFileError for an input_scale or sequence_length that lstmd refuses to load."""
    if "input_scale" in metadata:
        text = metadata["input_scale"]
        try:
            with np.errstate(over="ignore"):   # beyond float32: infinity, refused below
                scale = np.float32(float(text))
        except ValueError:
            raise ModelFileError(f"input_scale {text!r} is not a number") from None
        low, high = INPUT_SCALE_RANGE
        if not low <= scale <= high:   # false for nan too
            raise ModelFileError(f"input_scale {text} is outside lstmd's range {float(low):g} … {float(high):g} "
                                 "(1/255 for uint8 pixels and a model trained on [0, 1])")
    if "sequence_length" in metadata:
        text = metadata["sequence_length"]
        if not (re.fullmatch(r"[+-]?[0-9]+", text) and 1 <= int(text) <= MAX_SEQUENCE_LENGTH):
            raise ModelFileError(f"sequence_length {text!r} is not an integer in lstmd's range 1 … {MAX_SEQUENCE_LENGTH} "
                                 "(rows are numbered by 32 bits)")


@dataclass
class Model:
    """An LSTM classifier in lstmd's layout (float32), with its `__metadata__` strings."""

    weight_ih: List[np.ndarray]
    weight_hh: List[np.ndarray]
    bias_ih: List[np.ndarray]
    bias_hh: List[np.ndarray]
    fc_weight: np.ndarray
    fc_bias: np.ndarray
    metadata: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Before any array is copied: a width beyond the limit would need terabytes.
        width = lambda a, axis: np.shape(a)[axis] if np.ndim(a) == 2 else 0  # noqa: E731
        check_limits(width(self.weight_ih[0], 1) if self.weight_ih else 0,
                     width(self.weight_hh[0], 1) if self.weight_hh else 0, len(self.weight_ih), width(self.fc_weight, 0))
        check_metadata(self.metadata)
        as32 = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float32))  # noqa: E731
        self.weight_ih = [as32(a) for a in self.weight_ih]
        self.weight_hh = [as32(a) for a in self.weight_hh]
        self.bias_ih = [as32(a) for a in self.bias_ih]
        self.bias_hh = [as32(a) for a in self.bias_hh]
        self.fc_weight, self.fc_bias = as32(self.fc_weight), as32(self.fc_bias)
        self._check()

    @property
    def layers(self) -> int:
        return len(self.weight_ih)

    @property
    def hidden_size(self) -> int:
        return int(self.weight_hh[0].shape[1])

    @property
    def input_size(self) -> int:
        return int(self.weight_ih[0].shape[1])

    @property
    def classes(self) -> int:
        return int(self.fc_weight.shape[0])

    def _check(self) -> None:
        if not self.weight_ih:
            raise ModelFileError("a model needs at least one LSTM layer")
        if not (len(self.weight_ih) == len(self.weight_hh) == len(self.bias_ih) == len(self.bias_hh)):
            raise ModelFileError("every LSTM layer needs weight_ih, weight_hh, bias_ih and bias_hh")
        if self.weight_hh[0].ndim != 2 or self.weight_hh[0].shape[1] < 1:
            raise ModelFileError(f"lstm.weight_hh_l0 must be [4H, H], got {list(self.weight_hh[0].shape)}")
        h = self.hidden_size
        for name, array in self.tensors().items():
            expected = self._expected_shape(name, h)
            if list(array.shape) != expected:
                raise ModelFileError(f"{name} has shape {list(array.shape)}; expected {expected} "
                                     f"(hidden size {h} read from lstm.weight_hh_l0)")
            bad = np.flatnonzero(~np.isfinite(array))
            if bad.size:
                raise ModelFileError(f"{name} holds a non-finite value at index {int(bad[0])}")

    def _expected_shape(self, name: str, h: int) -> List[int]:
        c = self.fc_weight.shape[0] if self.fc_weight.ndim == 2 else -1
        if name == "fc.weight":
            return [max(c, 1), h]
        if name == "fc.bias":
            return [max(c, 1)]
        kind, layer = name[len("lstm."):].rsplit("_l", 1)
        inputs = self.input_size if int(layer) == 0 else h
        return {"weight_ih": [4 * h, inputs], "weight_hh": [4 * h, h]}.get(kind, [4 * h])

    def tensors(self) -> Dict[str, np.ndarray]:
        """The tensors by their PyTorch names."""
        out: Dict[str, np.ndarray] = {"fc.weight": self.fc_weight, "fc.bias": self.fc_bias}
        for k in range(self.layers):
            out[f"lstm.weight_ih_l{k}"] = self.weight_ih[k]
            out[f"lstm.weight_hh_l{k}"] = self.weight_hh[k]
            out[f"lstm.bias_ih_l{k}"] = self.bias_ih[k]
            out[f"lstm.bias_hh_l{k}"] = self.bias_hh[k]
        return out

    # -- files --

    def to_bytes(self) -> bytes:
        """The safetensors bytes, laid out as lstmd writes them: F32 tensors in name order, keys sorted,
        compact JSON padded with spaces to a multiple of 8. Deterministic for given tensors and metadata."""
        return write_safetensors(self.tensors(), self.metadata)

    def save(self, path: PathLike) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        tensors, metadata = read_safetensors(data)
        layers = 0
        while f"lstm.weight_ih_l{layers}" in tensors:
            layers += 1
        names = [f"lstm.{kind}_l{k}" for k in range(layers) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        names += ["fc.weight", "fc.bias"]
        for name in names:
            if name not in tensors:
                raise ModelFileError(f"missing tensor {name}")
        extra = sorted(set(tensors) - set(names))
        if extra:
            raise ModelFileError(f"unexpected tensor {extra[0]}")
        get = lambda kind: [tensors[f"lstm.{kind}_l{k}"] for k in range(layers)]  # noqa: E731
        return cls(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                   tensors["fc.weight"], tensors["fc.bias"], metadata)

    # -- reference run --

    @property
    def input_scale(self) -> float:
        return float(self.metadata.get("input_scale", "1"))

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """Runs one sequence [T, I] from zero state (values already scaled) and returns the class
        probabilities after every row, [T, C], in float64: the reference for lstmd's engine."""
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"rows must be [T, {self.input_size}], got {list(x.shape)}")
        h = [np.zeros(self.hidden_size) for _ in range(self.layers)]
        c = [np.zeros(self.hidden_size) for _ in range(self.layers)]
        n = self.hidden_size
        out = np.empty((x.shape[0], self.classes))
        for t, row in enumerate(x):
            below = row
            for k in range(self.layers):
                z = (self.weight_ih[k].astype(np.float64) @ below + self.bias_ih[k]
                     + self.weight_hh[k].astype(np.float64) @ h[k] + self.bias_hh[k])
                i, f, g, o = _sigmoid(z[:n]), _sigmoid(z[n:2 * n]), np.tanh(z[2 * n:3 * n]), _sigmoid(z[3 * n:])
                c[k] = f * c[k] + i * g
                h[k] = o * np.tanh(c[k])
                below = h[k]
            out[t] = softmax(self.fc_weight.astype(np.float64) @ below + self.fc_bias)
        return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))   # σ without overflow for large |z|


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def write_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """Safetensors bytes of float32 tensors (written in name order) and string metadata."""
    header: Dict[str, object] = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise ModelFileError(f"metadata value of {key!r} must be a string, got {type(value).__name__}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"data_offsets": [offset, offset + len(blob)], "dtype": "F32",
                        "shape": list(np.shape(tensors[name]))}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(data: bytes) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors (as float32) and metadata of safetensors bytes; F32 and F16 tensors."""
    if len(data) < 8:
        raise ModelFileError(f"safetensors file of {len(data)} bytes is shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or n > len(data) - 8:
        raise ModelFileError(f"safetensors header length {n} exceeds the file ({len(data)} bytes) or 100,000,000")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"safetensors header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ModelFileError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError("safetensors __metadata__ is not an object of strings")
    body = data[8 + n:]
    tensors: Dict[str, np.ndarray] = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry.get("dtype")) if isinstance(entry, dict) else None
        if dtype is None:
            raise ModelFileError(f"tensor {name}: dtype {entry.get('dtype') if isinstance(entry, dict) else entry!r} "
                                 "is not F32 or F16")
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if not 0 <= begin <= end <= len(body) or end - begin != int(np.prod(shape)) * dtype.itemsize:
            raise ModelFileError(f"tensor {name}: data_offsets {[begin, end]} do not hold shape {list(shape)} "
                                 f"of {entry['dtype']} within {len(body)} data bytes")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).astype(np.float32)
    return tensors, dict(metadata)
