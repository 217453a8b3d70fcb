#!/usr/bin/env python3
"""Writes the LSTMModel test fixtures to Tests/Fixtures (run with the peers venv: torch, safetensors).

For each model, nn.LSTM(28, H, L, batch_first=True) + fc = nn.Linear(H, 10), briefly trained on MNIST
(fixed seed) so that the weights are not just the initialisation:
  pytorch-lstm-h32.safetensors            L=1, H=32, save_file(state_dict), no metadata
  pytorch-lstm-2layer-h16.safetensors     L=2, H=16, idem
  <model>-io.safetensors                  inputs [N,28,28] f32 (6 MNIST test digits /255, 2 random rows
                                          in [-2, 2]), and after every row t, computed in float64 and
                                          stored as float32: probabilities [N,28,10] = softmax(fc(h_top)),
                                          h and c [N,28,L,H].

Usage: . /tmp/peers-venv/bin/activate && python Scripts/make_model_fixture.py
"""
import gzip
import os
import struct

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures")
MNIST = os.environ.get("LSTMD_MNIST_DIR", os.path.join(ROOT, "..", "shared", "data", "mnist"))
N_DIGITS, N_RANDOM, STEPS = 6, 2, 28


def read_idx(name):
    with gzip.open(os.path.join(MNIST, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Classifier(nn.Module):
    def __init__(self, hidden, layers):
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def train(model, images, labels, steps=150, batch=64):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        i = (step * batch) % (len(images) - batch)
        x = torch.from_numpy(images[i:i + batch].astype(np.float32) / 255.0)
        y = torch.from_numpy(labels[i:i + batch].astype(np.int64))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


@torch.no_grad()
def reference(model, inputs, layers, hidden):
    """Row-by-row run in float64: probabilities, h and c of every layer after every row."""
    m = Classifier(hidden, layers).double()
    m.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    x = torch.from_numpy(inputs).double()
    n = x.shape[0]
    h = torch.zeros(layers, n, hidden, dtype=torch.float64)
    c = torch.zeros_like(h)
    probs, hs, cs = [], [], []
    for t in range(STEPS):
        _, (h, c) = m.lstm(x[:, t:t + 1, :], (h, c))
        probs.append(torch.softmax(m.fc(h[-1]), dim=1))
        hs.append(h.permute(1, 0, 2).clone())
        cs.append(c.permute(1, 0, 2).clone())
    # The row-by-row run must agree with the whole-sequence run.
    out, _ = m.lstm(x)
    assert torch.allclose(out[:, -1, :], h[-1], atol=1e-12)
    f32 = lambda ts: torch.stack(ts, dim=1).float().contiguous()
    return f32(probs), f32(hs), f32(cs)


def main():
    images, labels = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    test_images = read_idx("t10k-images-idx3-ubyte.gz")
    rng = np.random.default_rng(7)
    inputs = np.concatenate([
        test_images[:N_DIGITS].astype(np.float32) / 255.0,
        rng.uniform(-2, 2, size=(N_RANDOM, 28, 28)).astype(np.float32),
    ])
    for name, hidden, layers in (("pytorch-lstm-h32", 32, 1), ("pytorch-lstm-2layer-h16", 16, 2)):
        torch.manual_seed(1234 + layers)
        model = Classifier(hidden, layers)
        train(model, images, labels)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(OUT, name + ".safetensors"))
        probs, h, c = reference(model, inputs, layers, hidden)
        save_file({"inputs": torch.from_numpy(inputs), "probabilities": probs, "h": h, "c": c},
                  os.path.join(OUT, name + "-io.safetensors"),
                  metadata={"source": "Scripts/make_model_fixture.py", "layers": str(layers), "hidden": str(hidden)})
        print(name, {k: tuple(v.shape) for k, v in state.items()})


if __name__ == "__main__":
    main()
