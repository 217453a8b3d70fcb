#!/usr/bin/env python3
"""Make the Keras fixtures for the converter tests (issue 17), once, with real Keras 3.

Trains two small Keras row-by-row MNIST classifiers for a few steps on the 100 committed test
digits (mnist-t10k-100-*.gz, pixels / 255) and saves each in Keras 3's `.keras` format and in the
legacy HDF5 `.h5` format (the one Keras 2 and TF 2 `model.save("x.h5")` write):

    keras-lstm1-h20.keras / .h5      LSTM(20) -> Dense(10, softmax)
    keras-lstm2-h18.keras / .h5      LSTM(18, return_sequences) -> LSTM(18) -> Dense(10) (linear: logits)

and, for each model, `keras-lstm*-expected.json`: Keras' own predictions after every row (the model
run on the prefixes x[:, :t+1] for t = 0..27, softmax applied to the logits of the linear model) for
the first 4 digits, with their pixels, so that tests need nothing but this file.

Usage (from the repository root), in a virtual environment with Keras 3 on its torch backend:
    python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install /opt/wheels/torch*.whl keras h5py
    KERAS_BACKEND=torch /tmp/kerasenv/bin/python Tests/Fixtures/keras-make-fixtures.py
Then convert them with `Tests/Fixtures/convert-fixtures.sh` (the converted files are committed too).
"""
import gzip
import json
import os
import struct

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = 4


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def build(name: str) -> keras.Model:
    if name == "keras-lstm1-h20":
        layers = [keras.layers.LSTM(20), keras.layers.Dense(10, activation="softmax")]
    else:
        layers = [keras.layers.LSTM(18, return_sequences=True), keras.layers.LSTM(18), keras.layers.Dense(10)]
    model = keras.Sequential([keras.Input(shape=(28, 28))] + layers, name=name.replace("-", "_"))
    logits = name != "keras-lstm1-h20"
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
    return model


def main() -> None:
    keras.utils.set_random_seed(17)
    images = read_idx(os.path.join(HERE, "mnist-t10k-100-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(HERE, "mnist-t10k-100-labels-idx1-ubyte.gz"))
    x = images.astype(np.float32) / np.float32(255)
    for name in ("keras-lstm1-h20", "keras-lstm2-h18"):
        model = build(name)
        model.fit(x, labels.astype(np.int64), batch_size=20, epochs=8, shuffle=True, verbose=0)
        # Saved without the optimizer's state (a copy that was never compiled), which keeps the files small.
        trained = keras.Sequential.from_config(model.get_config())
        trained.set_weights(model.get_weights())
        trained.save(os.path.join(HERE, name + ".keras"))
        trained.save(os.path.join(HERE, name + ".h5"), include_optimizer=False)
        softmax_output = model.layers[-1].get_config()["activation"] == "softmax"
        prefix_outputs = np.stack([model.predict(x[:DIGITS, : t + 1], verbose=0) for t in range(28)], axis=1)
        probabilities = prefix_outputs.astype(np.float64) if softmax_output else softmax(prefix_outputs)
        expected = {
            "made_by": f"Tests/Fixtures/keras-make-fixtures.py with Keras {keras.__version__} ({keras.backend.backend()} backend)",
            "model": name,
            "classifier_activation": "softmax" if softmax_output else "linear (softmax applied to the logits here)",
            "input_scale": "1/255",
            "digits": [
                {
                    "index": i,
                    "label": int(labels[i]),
                    "pixels": images[i].reshape(-1).tolist(),
                    "probabilities": [[float(f"{p:.8g}") for p in row] for row in probabilities[i]],
                }
                for i in range(DIGITS)
            ],
        }
        with open(os.path.join(HERE, name + "-expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
            f.write("\n")
        finals = probabilities[:, -1].argmax(-1)
        print(f"{name}: final argmax {finals.tolist()} labels {labels[:DIGITS].tolist()}")


if __name__ == "__main__":
    main()
