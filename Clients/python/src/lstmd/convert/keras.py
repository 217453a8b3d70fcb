"""Keras LSTM classifiers to lstmd's layout: Keras 3 `.keras` files and Keras 2 / TF 2 legacy `.h5` files.

A Keras `LSTM` stores `kernel` [I x 4H], `recurrent_kernel` [H x 4H] and `bias` [4H], gate blocks in the
order i, f, c, o; its step is i = σ(x·W_i + h·U_i + b_i), f likewise, c' = f⊙c + i⊙tanh(x·W_c + h·U_c + b_c),
o likewise, h' = o⊙tanh(c'), with σ the `recurrent_activation` and tanh the `activation`. That is PyTorch's
step with the same gate order (Keras' c is PyTorch's g), so the mapping is a transpose: weight_ih = kernelᵀ,
weight_hh = recurrent_kernelᵀ, bias_ih = bias, bias_hh = 0. A `Dense` classifier's kernel [H x C] is
fc.weightᵀ. `unit_forget_bias` only changes the bias' initial value, which the stored bias already holds.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..model import Model
from .common import ConversionError, provenance_metadata

KERAS_GATE_MAPPING = ("keras gates i,f,c,o = lstmd i,f,g,o (same order); weight_ih_l{k} = kernel^T, "
                      "weight_hh_l{k} = recurrent_kernel^T, bias_ih_l{k} = bias, bias_hh_l{k} = 0; "
                      "fc.weight = dense kernel^T, fc.bias = dense bias")
IGNORED_AT_INFERENCE = {"InputLayer", "Dropout"}
ZIP_MAGIC, HDF5_MAGIC = b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"


@dataclass
class _Layer:
    class_name: str
    name: str
    config: Dict[str, Any]
    storage_key: str   # the layer's group in a Keras 3 model.weights.h5


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ConversionError("reading Keras files needs h5py: pip install h5py "
                              "(or pip install 'lstmd[convert]')") from None
    return h5py


def convert_keras(path: str | Path, *, input_scale: float = 1 / 255, sequence_length: Optional[int] = None,
                  labels: Optional[Sequence[str]] = None) -> Model:
    """Converts a Keras 3 `.keras` file or a legacy HDF5 `.h5` file (Keras 2, tf.keras in TF 2, or Keras 3's
    `model.save("x.h5")`) holding a Sequential [InputLayer] LSTM+ [Dropout] Dense to an lstmd Model.
    `sequence_length` defaults to the time dimension of the model's input shape, else 28."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(ZIP_MAGIC):
        config, framework, weights = _read_keras3(path, data)
        source_format = "keras3"
    elif data.startswith(HDF5_MAGIC):
        config, framework, weights = _read_legacy_h5(path, data)
        source_format = "keras-h5"
    else:
        raise ConversionError(f"{path.name} is neither a Keras 3 .keras file (a zip) nor an HDF5 .h5 file "
                              f"(it starts with {data[:8]!r})")
    layers, declared_length = _sequential_layers(config, path.name)
    lstms, dense = _check_architecture(layers, path.name)
    units = {layer.name: int(layer.config["units"]) for layer in lstms}
    if len(set(units.values())) != 1:
        raise ConversionError(f"{path.name}: lstmd needs every LSTM layer to have the same number of units; "
                              f"this model has {', '.join(f'{n}: {u}' for n, u in units.items())}")
    weight_ih, weight_hh, bias_ih, bias_hh = [], [], [], []
    for layer in lstms:
        h = units[layer.name]
        arrays = weights(layer)
        kernel, recurrent = arrays.get("kernel"), arrays.get("recurrent_kernel")
        if kernel is None or recurrent is None:
            raise ConversionError(f"{path.name}: LSTM layer {layer.name!r} has no stored kernel/recurrent_kernel "
                                  f"(found {sorted(arrays)})")
        bias = arrays.get("bias") if layer.config.get("use_bias", True) else None
        bias = np.zeros(4 * h, np.float32) if bias is None else bias
        _expect_shape(path.name, layer.name, "kernel", kernel, (None, 4 * h))
        _expect_shape(path.name, layer.name, "recurrent_kernel", recurrent, (h, 4 * h))
        _expect_shape(path.name, layer.name, "bias", bias, (4 * h,))
        weight_ih.append(kernel.T)
        weight_hh.append(recurrent.T)
        bias_ih.append(bias)
        bias_hh.append(np.zeros(4 * h, np.float32))
    arrays = weights(dense)
    kernel = arrays.get("kernel")
    if kernel is None:
        raise ConversionError(f"{path.name}: Dense layer {dense.name!r} has no stored kernel (found {sorted(arrays)})")
    classes = int(kernel.shape[-1]) if kernel.ndim == 2 else -1
    bias = arrays.get("bias") if dense.config.get("use_bias", True) else None
    bias = np.zeros(max(classes, 1), np.float32) if bias is None else bias
    _expect_shape(path.name, dense.name, "kernel", kernel, (next(iter(units.values())), None))
    _expect_shape(path.name, dense.name, "bias", bias, (classes,))
    activation = dense.config.get("activation") or "linear"
    metadata = provenance_metadata(
        path, data, source_format=source_format, framework=framework, gate_mapping=KERAS_GATE_MAPPING,
        input_scale=input_scale,
        sequence_length=(declared_length or 28) if sequence_length is None else sequence_length,
        labels=labels, classes=classes,
        extra={"classifier_activation": f"{activation} (lstmd applies softmax to the classifier's output)"})
    try:
        return Model(weight_ih, weight_hh, bias_ih, bias_hh, kernel.T, bias, metadata)
    except ValueError as error:
        raise ConversionError(f"{path.name}: {error}") from None


def _expect_shape(file: str, layer: str, name: str, array: np.ndarray, shape: Tuple[Optional[int], ...]) -> None:
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
        wanted = "[" + " x ".join("?" if s is None else str(s) for s in shape) + "]"
        raise ConversionError(f"{file}: layer {layer!r} {name} has shape {list(array.shape)}; expected {wanted}")


def _read_keras3(path: Path, data: bytes) -> Tuple[Dict[str, Any], str, Any]:
    h5py = _h5py()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        config = json.loads(archive.read("config.json"))
        weights_bytes = archive.read("model.weights.h5")
        meta = json.loads(archive.read("metadata.json")) if "metadata.json" in archive.namelist() else {}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ConversionError(f"{path.name} is not a Keras 3 .keras archive with config.json and "
                              f"model.weights.h5: {error}") from None
    framework = f"keras {meta.get('keras_version', '?')}"
    store = h5py.File(io.BytesIO(weights_bytes), "r")

    def weights(layer: _Layer) -> Dict[str, np.ndarray]:
        # Keras 3 stores a layer's variables as layers/<key>/vars/<n> in creation order (an RNN's cell
        # holds them: layers/<key>/cell/vars/<n>), where <key> is not the layer's name but its class in
        # snake case, numbered by order among the model's layers of that class: lstm, lstm_1, dense.
        key = layer.storage_key
        group_path = f"layers/{key}/cell/vars" if layer.class_name == "LSTM" else f"layers/{key}/vars"
        if group_path not in store:
            raise ConversionError(f"{path.name}: model.weights.h5 has no {group_path} for layer {layer.name!r}; "
                                  f"it holds layers {sorted(store['layers']) if 'layers' in store else []}")
        group = store[group_path]
        order = ["kernel", "recurrent_kernel", "bias"] if layer.class_name == "LSTM" else ["kernel", "bias"]
        uses_bias = layer.config.get("use_bias", True)
        names = order if uses_bias else order[:-1]
        return {name: np.asarray(group[str(i)], dtype=np.float32) for i, name in enumerate(names) if str(i) in group}

    return config, framework, weights


def _read_legacy_h5(path: Path, data: bytes) -> Tuple[Dict[str, Any], str, Any]:
    h5py = _h5py()
    store = h5py.File(io.BytesIO(data), "r")
    raw = store.attrs.get("model_config")
    if raw is None:
        raise ConversionError(f"{path.name} holds no model_config: it looks like a weights-only file "
                              "(save_weights); save the whole model with model.save('model.h5') or '.keras'")
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    version = store.attrs.get("keras_version", b"?")
    backend = store.attrs.get("backend", b"?")
    as_text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
    framework = f"keras {as_text(version)} ({as_text(backend)} backend), HDF5"
    root = store["model_weights"] if "model_weights" in store else store

    def weights(layer: _Layer) -> Dict[str, np.ndarray]:
        # Each layer group lists its datasets in the attribute weight_names, e.g.
        # "lstm/lstm_cell/kernel:0" (tf.keras 2) or "model/lstm/lstm_cell/kernel" (Keras 3).
        if layer.name not in root:
            raise ConversionError(f"{path.name}: no weights group for layer {layer.name!r}; "
                                  f"the file has {sorted(root)}")
        group = root[layer.name]
        out: Dict[str, np.ndarray] = {}
        for raw_name in group.attrs.get("weight_names", []):
            name = as_text(raw_name)
            short = name.rsplit("/", 1)[-1].split(":")[0]
            out[short] = np.asarray(group[name], dtype=np.float32)
        return out

    return config, framework, weights


def _sequential_layers(config: Dict[str, Any], file: str) -> Tuple[List[_Layer], Optional[int]]:
    class_name = config.get("class_name")
    if class_name != "Sequential":
        raise ConversionError(f"{file}: the model is a {class_name}; the converter reads Sequential models "
                              "(rebuild it as keras.Sequential([...]) with the same layers and weights)")
    inner = config.get("config")
    raw_layers = inner if isinstance(inner, list) else (inner or {}).get("layers", [])
    layers: List[_Layer] = []
    declared_length: Optional[int] = None
    seen: Dict[str, int] = {}
    for entry in raw_layers:
        layer_config = entry.get("config", {})
        class_name = entry.get("class_name", "?")
        name = layer_config.get("name", class_name)
        key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower()
        count = seen.get(key, 0)
        if class_name != "InputLayer":
            seen[key] = count + 1
        layers.append(_Layer(class_name, name, layer_config, key if count == 0 else f"{key}_{count}"))
        shape = layer_config.get("batch_shape") or layer_config.get("batch_input_shape")
        if declared_length is None and isinstance(shape, list) and len(shape) == 3 and isinstance(shape[1], int):
            declared_length = shape[1]
    return layers, declared_length


def _check_architecture(layers: List[_Layer], file: str) -> Tuple[List[_Layer], _Layer]:
    kept = [layer for layer in layers if layer.class_name not in IGNORED_AT_INFERENCE]
    refused = [f"{layer.name} ({layer.class_name})" for layer in kept if layer.class_name not in ("LSTM", "Dense")]
    if refused:
        raise ConversionError(f"{file}: lstmd serves LSTM layers followed by one Dense classifier; this model also "
                              f"has {', '.join(refused)}, which the converter does not support")
    summary = " -> ".join(layer.class_name for layer in kept)
    if len(kept) < 2 or kept[-1].class_name != "Dense" or any(layer.class_name != "LSTM" for layer in kept[:-1]):
        raise ConversionError(f"{file}: expected one or more LSTM layers and then one Dense layer; the model is "
                              f"{summary or 'empty'}")
    lstms, dense = kept[:-1], kept[-1]
    for index, layer in enumerate(lstms):
        c = layer.config
        for key, wanted in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
            if c.get(key, wanted) != wanted:
                raise ConversionError(f"{file}: LSTM layer {layer.name!r} has {key}={c.get(key)!r}; lstmd computes "
                                      f"the LSTM with {key}={wanted!r} only (retrain with the Keras default)")
        for key in ("go_backwards", "time_major"):
            if c.get(key):
                raise ConversionError(f"{file}: LSTM layer {layer.name!r} has {key}=True, which lstmd does not support")
        if index < len(lstms) - 1 and not c.get("return_sequences", False):
            raise ConversionError(f"{file}: LSTM layer {layer.name!r} feeds another LSTM but has "
                                  "return_sequences=False")
    activation = dense.config.get("activation") or "linear"
    if activation not in ("softmax", "linear"):
        raise ConversionError(f"{file}: the Dense layer {dense.name!r} has activation {activation!r}; lstmd applies "
                              "softmax to the classifier's output, so only 'softmax' or 'linear' (logits) map exactly")
    return lstms, dense
