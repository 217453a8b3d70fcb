#!/usr/bin/env python3
"""Make the TensorFlow 1 BasicLSTMCell / LSTMCell fixtures for the converter tests (issue 17).

Writes random weights under the variable names a TF 1 checkpoint gives them, as .npz (what
`python -m lstmd.convert tf1` reads), and the per-row class probabilities that TensorFlow's cells
compute with them, from TF's documented formula (BasicLSTMCell.call / LSTMCell.call):

    i, j, f, o = split(concat([x, h], 1) · kernel + bias, 4 blocks)
    c' = c · sigmoid(f + forget_bias) + sigmoid(i) · tanh(j)
    h' = tanh(c') · sigmoid(o)
    probabilities = softmax(h'_top · dense/kernel + dense/bias)

computed here in float64 with numpy and nothing from the converter. Three fixtures:

    tf1-basic-h11.npz      one BasicLSTMCell, num_units 11, forget_bias 1.0 (TF's default),
                           rnn/basic_lstm_cell/{kernel,bias}, dense/{kernel,bias}, plus Adam slots and
                           global_step as a real checkpoint has them
    tf1-multi-h9.npz       MultiRNNCell of two LSTMCells, num_units 9, forget_bias 0.0,
                           rnn/multi_rnn_cell/cell_{0,1}/lstm_cell/{kernel,bias}, and a hand-made
                           classifier tf.Variable pair named Variable, Variable_1
    tf1-basic-fb0-h13.npz  one BasicLSTMCell, num_units 13, built with forget_bias=0.0,
                           rnn/basic_lstm_cell/{kernel,bias}, dense/{kernel,bias}

with `tf1-*-expected.json` (the first 4 fixture digits, pixels / 255). Usage, from the repository root:
    python3 Tests/Fixtures/tf1-make-fixtures.py
"""
import gzip
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = 4


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tf1_probabilities(x, cells, forget_bias, dense_kernel, dense_bias):
    """x [T, I]; cells: (kernel, bias) per layer. Returns softmax after each row, [T, C]."""
    states = [(np.zeros(k.shape[1] // 4), np.zeros(k.shape[1] // 4)) for k, _ in cells]
    out = []
    for row in x:
        inputs = row
        for n, (kernel, bias) in enumerate(cells):
            c, h = states[n]
            gates = np.concatenate([inputs, h]) @ kernel.astype(np.float64) + bias
            i, j, f, o = np.split(gates, 4)
            c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
            h = np.tanh(c) * sigmoid(o)
            states[n] = (c, h)
            inputs = h
        logits = inputs @ dense_kernel.astype(np.float64) + dense_bias
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return np.array(out)


def main():
    rng = np.random.default_rng(1717)
    images = read_idx(os.path.join(HERE, "mnist-t10k-100-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(HERE, "mnist-t10k-100-labels-idx1-ubyte.gz"))
    x = images[:DIGITS].astype(np.float32) / np.float32(255)
    w = lambda *shape: (rng.standard_normal(shape) * 0.4).astype(np.float32)  # noqa: E731
    fixtures = {
        "tf1-basic-h11": (1.0, {
            "rnn/basic_lstm_cell/kernel": w(28 + 11, 44), "rnn/basic_lstm_cell/bias": w(44),
            "dense/kernel": w(11, 10), "dense/bias": w(10),
            "rnn/basic_lstm_cell/kernel/Adam": w(28 + 11, 44), "global_step": np.array(300, np.int64),
        }, ["rnn/basic_lstm_cell"], ("dense/kernel", "dense/bias")),
        "tf1-multi-h9": (0.0, {
            "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel": w(28 + 9, 36),
            "rnn/multi_rnn_cell/cell_0/lstm_cell/bias": w(36),
            "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel": w(9 + 9, 36),
            "rnn/multi_rnn_cell/cell_1/lstm_cell/bias": w(36),
            "Variable": w(9, 10), "Variable_1": w(10),
        }, ["rnn/multi_rnn_cell/cell_0/lstm_cell", "rnn/multi_rnn_cell/cell_1/lstm_cell"], ("Variable", "Variable_1")),
        # Last, so that the random weights of the fixtures above stay what they were.
        "tf1-basic-fb0-h13": (0.0, {
            "rnn/basic_lstm_cell/kernel": w(28 + 13, 52), "rnn/basic_lstm_cell/bias": w(52),
            "dense/kernel": w(13, 10), "dense/bias": w(10),
        }, ["rnn/basic_lstm_cell"], ("dense/kernel", "dense/bias")),
    }
    for name, (forget_bias, arrays, scopes, (dk, db)) in fixtures.items():
        np.savez(os.path.join(HERE, name + ".npz"), **arrays)
        cells = [(arrays[s + "/kernel"], arrays[s + "/bias"]) for s in scopes]
        expected = {
            "made_by": "Tests/Fixtures/tf1-make-fixtures.py (TensorFlow 1's cell formula in numpy, float64)",
            "model": name,
            "forget_bias": forget_bias,
            "classifier": [dk, db],
            "input_scale": "1/255",
            "digits": [
                {
                    "index": i,
                    "label": int(labels[i]),
                    "pixels": images[i].reshape(-1).tolist(),
                    "probabilities": [[float(f"{p:.8g}") for p in row]
                                      for row in tf1_probabilities(x[i], cells, forget_bias, arrays[dk], arrays[db])],
                }
                for i in range(DIGITS)
            ],
        }
        with open(os.path.join(HERE, name + "-expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
            f.write("\n")
        print(name, "written")


if __name__ == "__main__":
    main()
