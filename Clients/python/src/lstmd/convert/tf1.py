"""TensorFlow 1 `BasicLSTMCell` / `LSTMCell` weights to lstmd's layout.

TF 1's cells keep one `kernel` [(I + H) x 4H] applied to the concatenation [x, h] and one `bias` [4H],
with the gate blocks in the order i, j, f, o (j is the candidate), and add `forget_bias` (1.0 unless
the cell was built with another value) to the f block *at run time*; the checkpoint does not hold it:

    i, j, f, o = split([x, h] · kernel + bias, 4)
    c' = c ⊙ σ(f + forget_bias) + σ(i) ⊙ tanh(j),   h' = tanh(c') ⊙ σ(o)

So lstmd's blocks i, f, g, o are TF's blocks 0, 2, 1, 3; weight_ih = kernel[:I]ᵀ, weight_hh = kernel[I:]ᵀ,
bias_ih = bias with forget_bias added to the f block, bias_hh = 0.

Checkpoint variable names (`tf.train.list_variables(path)`), for `tf.nn.dynamic_rnn` in the default scope:

    one layer, BasicLSTMCell     rnn/basic_lstm_cell/kernel      rnn/basic_lstm_cell/bias
    one layer, LSTMCell          rnn/lstm_cell/kernel            rnn/lstm_cell/bias
    MultiRNNCell, layer k        rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/kernel   (…/bias; lstm_cell alike)
    TF ≤ 1.1                     …/weights and …/biases instead of kernel and bias
    classifier (tf.layers.dense) dense/kernel [H x C], dense/bias [C]; a hand-made tf.Variable has its own
                                 name (e.g. Variable, Variable_1): pass it as dense_kernel / dense_bias

A prefix other than `rnn/` (a variable_scope) is found as well. `LSTMCell` with `use_peepholes` or
`num_proj` computes something else, and its extra variables (`w_f_diag`, `projection/kernel`) get it
refused. `cell_clip` and the cell's `activation` leave no trace in a checkpoint: the cell must have used
no clip and tanh (the defaults).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..model import Model, ModelFileError, check_limits
from .common import ConversionError, provenance_metadata

TF1_TO_LSTMD_BLOCKS = (0, 2, 1, 3)   # lstmd's i, f, g, o are TF's blocks i, f, j, o
_CELL_VARIABLE = re.compile(r"^(?P<scope>.*?/)?(?:multi_rnn_cell/cell_(?P<index>\d+)/)?"
                            r"(?P<cell>basic_lstm_cell|lstm_cell)/(?P<var>kernel|weights|bias|biases)$")
_UNSUPPORTED = re.compile(r"/(?:basic_lstm_cell|lstm_cell)/(?:w_[ifo]_diag|projection/kernel)$")


def gate_mapping(forget_bias: float, cell: str) -> str:
    return (f"tf1 {cell} gates i,j,f,o (j the candidate) -> lstmd i,f,g,o = tf blocks 0,2,1,3; "
            "weight_ih_l{k} = kernel[:I]^T, weight_hh_l{k} = kernel[I:]^T (kernel over [x, h]); "
            f"bias_ih_l{{k}} = bias + forget_bias {forget_bias!r} on the f block; bias_hh_l{{k}} = 0; "
            "fc.weight = dense kernel^T, fc.bias = dense bias")


def convert_tf1_cells(cells: Sequence[Tuple[Any, Any]], dense_kernel: Any, dense_bias: Any, *,
                      forget_bias: float = 1.0, cell: str = "basic_lstm_cell", input_scale: float = 1 / 255,
                      sequence_length: Optional[int] = 28, labels: Optional[Sequence[str]] = None,
                      source: Union[str, Path, None] = None, source_bytes: Optional[bytes] = None) -> Model:
    """Converts TF 1 cells given as (kernel [(I+H) x 4H], bias [4H]) per layer, bottom first, and a
    classifier kernel [H x C] and bias [C]. `forget_bias` is the value the cells were built with."""
    if not cells:
        raise ConversionError("no LSTM cell given")
    weight_ih, weight_hh, bias_ih, bias_hh = [], [], [], []
    hidden: Optional[int] = None
    for k, (kernel, bias) in enumerate(cells):
        kernel = np.asarray(kernel, dtype=np.float32)
        bias = np.asarray(bias, dtype=np.float32)
        if kernel.ndim != 2 or kernel.shape[1] % 4 != 0 or kernel.shape[1] == 0:
            raise ConversionError(f"cell {k}: kernel has shape {list(kernel.shape)}; expected [(I + H) x 4H]")
        h = kernel.shape[1] // 4
        if hidden is not None and h != hidden:
            raise ConversionError(f"cell {k} has {h} units, cell 0 has {hidden}: lstmd needs the same num_units "
                                  "in every layer")
        hidden = h
        inputs = kernel.shape[0] - h
        if inputs < 1 or (k > 0 and inputs != h):
            wanted = f"{h} + {h}" if k > 0 else f"I + {h}"
            raise ConversionError(f"cell {k}: kernel has {kernel.shape[0]} rows; expected {wanted} (inputs, then "
                                  f"the {h} recurrent units)")
        if k == 0:   # before the kernel is copied: a width beyond the limit would need terabytes
            try:
                check_limits(inputs, h, len(cells), 0)
            except ModelFileError as error:
                raise ConversionError(str(error)) from None
        if bias.shape != (4 * h,):
            raise ConversionError(f"cell {k}: bias has shape {list(bias.shape)}; expected [{4 * h}]")
        blocks = np.arange(4 * h).reshape(4, h)[list(TF1_TO_LSTMD_BLOCKS)].reshape(-1)
        reordered = kernel[:, blocks]
        b = bias[blocks].astype(np.float64)
        b[h:2 * h] += forget_bias
        weight_ih.append(reordered[:inputs].T)
        weight_hh.append(reordered[inputs:].T)
        bias_ih.append(b.astype(np.float32))
        bias_hh.append(np.zeros(4 * h, np.float32))
    dense_kernel = np.asarray(dense_kernel, dtype=np.float32)
    dense_bias = np.asarray(dense_bias, dtype=np.float32)
    if dense_kernel.ndim != 2 or dense_kernel.shape[0] != hidden:
        raise ConversionError(f"classifier kernel has shape {list(dense_kernel.shape)}; expected [{hidden} x C]")
    if dense_bias.shape != (dense_kernel.shape[1],):
        raise ConversionError(f"classifier bias has shape {list(dense_bias.shape)}; "
                              f"expected [{dense_kernel.shape[1]}]")
    metadata = provenance_metadata(
        source, source_bytes, source_format=f"tf1-{cell.replace('_', '-')}",
        framework="tensorflow 1 (checkpoint variables)", gate_mapping=gate_mapping(forget_bias, cell),
        input_scale=input_scale, sequence_length=sequence_length, labels=labels, classes=dense_kernel.shape[1],
        extra={"forget_bias": repr(float(forget_bias))})
    try:
        return Model(weight_ih, weight_hh, bias_ih, bias_hh, dense_kernel.T, dense_bias, metadata)
    except ValueError as error:
        raise ConversionError(str(error)) from None


def convert_tf1_checkpoint(variables: Mapping[str, Any], *, forget_bias: float = 1.0,
                           dense_kernel: Optional[str] = None, dense_bias: Optional[str] = None,
                           input_scale: float = 1 / 255, sequence_length: Optional[int] = 28,
                           labels: Optional[Sequence[str]] = None, source: Union[str, Path, None] = None,
                           source_bytes: Optional[bytes] = None) -> Model:
    """Converts a TF 1 checkpoint's variables, name → array, finding the cells by their names (see the
    module's documentation). With TensorFlow:

        reader = tf.train.load_checkpoint("model.ckpt")
        model = convert_tf1_checkpoint({n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()})
    """
    unsupported = sorted(name for name in variables if _UNSUPPORTED.search(name))
    if unsupported:
        raise ConversionError(f"the checkpoint has {', '.join(unsupported)}: an LSTMCell with peepholes or a "
                              "projection, which lstmd's LSTM does not compute")
    found: Dict[Tuple[str, bool, str], Dict[int, Dict[str, np.ndarray]]] = defaultdict(dict)
    for name, value in variables.items():
        match = _CELL_VARIABLE.match(name)
        if match:
            key = (match["scope"] or "", match["index"] is not None, match["cell"])
            var = {"weights": "kernel", "biases": "bias"}.get(match["var"], match["var"])
            found[key].setdefault(int(match["index"] or 0), {})[var] = np.asarray(value)
    if not found:
        raise ConversionError("no TF 1 LSTM cell variables found: expected names like rnn/basic_lstm_cell/kernel "
                              f"or rnn/multi_rnn_cell/cell_0/lstm_cell/kernel; got {sorted(variables)[:12]}")
    if len(found) > 1:
        scopes = sorted(f"{scope}{'multi_rnn_cell/' if multi else ''}{cell}" for scope, multi, cell in found)
        raise ConversionError(f"the checkpoint holds several LSTMs ({', '.join(scopes)}); pass the arrays of one "
                              "of them to convert_tf1_cells")
    (scope, multi, cell), layers = next(iter(found.items()))
    if sorted(layers) != list(range(len(layers))):
        raise ConversionError(f"MultiRNNCell layers {sorted(layers)} are not numbered 0…{len(layers) - 1}")
    cells: List[Tuple[np.ndarray, np.ndarray]] = []
    for k in range(len(layers)):
        where = f"{scope}{f'multi_rnn_cell/cell_{k}/' if multi else ''}{cell}"
        if "kernel" not in layers[k] or "bias" not in layers[k]:
            raise ConversionError(f"{where} needs both kernel and bias; found {sorted(layers[k])}")
        cells.append((layers[k]["kernel"], layers[k]["bias"]))
    kernel_name, bias_name = _classifier_names(variables, dense_kernel, dense_bias)
    return convert_tf1_cells(cells, variables[kernel_name], variables[bias_name], forget_bias=forget_bias,
                             cell=cell, input_scale=input_scale, sequence_length=sequence_length, labels=labels,
                             source=source, source_bytes=source_bytes)


def _classifier_names(variables: Mapping[str, Any], kernel: Optional[str], bias: Optional[str]) -> Tuple[str, str]:
    if kernel is None:
        candidates = sorted(n for n in variables if re.fullmatch(r"(?:.*/)?dense(?:_\d+)?/kernel", n))
        if len(candidates) != 1:
            raise ConversionError(f"cannot tell the classifier's kernel: {len(candidates)} variables named "
                                  f"dense/kernel ({', '.join(candidates) or 'none'}); name it (dense_kernel=, "
                                  "--dense-kernel)")
        kernel = candidates[0]
    if bias is None:
        bias = kernel.rsplit("/", 1)[0] + "/bias" if "/" in kernel else ""
    for role, name in (("classifier kernel", kernel), ("classifier bias", bias)):
        if name not in variables:
            raise ConversionError(f"{role} {name!r} is not among the variables; name it (--dense-kernel, "
                                  "--dense-bias)")
    return kernel, bias
