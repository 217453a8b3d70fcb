#!/usr/bin/env python3
"""Make the PyTorch peer fixture for lstm-train's evaluation test.

Trains PyTorch's nn.LSTM(28, 16) + nn.Linear(16, 10) (the classic MNIST row model) for one epoch
on the first 10,000 MNIST training digits, saves its state_dict as safetensors WITHOUT metadata
(`torch-lstm16.safetensors`, exactly what a PyTorch user would export), then evaluates it with
PyTorch on the committed 1,000-digit test fixture (pixels / 255) and writes what PyTorch predicted
to `torch-lstm16-expected.json`: the number correct and each prediction. The Swift test compares
lstm-train's evaluation of the same file against these numbers.

Usage (from the repository root, with torch, numpy and safetensors installed):
    python3 Tests/Fixtures/torch-lstm-make-fixture.py [MNIST_DIR]
MNIST_DIR defaults to $LSTMD_MNIST_DIR or ../shared/data/mnist.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class MnistLSTM(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(input_size=28, hidden_size=hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else (
        os.environ.get("LSTMD_MNIST_DIR") or os.path.join(ROOT, "..", "shared", "data", "mnist"))
    torch.manual_seed(3)
    torch.set_num_threads(1)
    xtr = torch.from_numpy(read_idx(os.path.join(source, "train-images-idx3-ubyte.gz"))[:10000].astype(np.float32) / 255.0)
    ytr = torch.from_numpy(read_idx(os.path.join(source, "train-labels-idx1-ubyte.gz"))[:10000].astype(np.int64))
    model = MnistLSTM(16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    perm = torch.randperm(xtr.shape[0])
    for i in range(0, xtr.shape[0], 64):
        idx = perm[i : i + 64]
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(HERE, "torch-lstm16.safetensors"))

    xte = read_idx(os.path.join(HERE, "mnist-t10k-1000-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    yte = read_idx(os.path.join(HERE, "mnist-t10k-1000-labels-idx1-ubyte.gz")).astype(np.int64)
    with torch.inference_mode():
        logits = model(torch.from_numpy(xte))
    predictions = logits.argmax(1).numpy()
    top2 = torch.topk(logits, 2, dim=1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    result = {
        "model": "torch-lstm16.safetensors",
        "images": "mnist-t10k-1000",
        "input_scale": "1/255",
        "count": int(len(yte)),
        "correct": int((predictions == yte).sum()),
        "smallest_top2_logit_margin": round(margin, 6),
        "torch": torch.__version__,
        "predictions": [int(p) for p in predictions],
    }
    with open(os.path.join(HERE, "torch-lstm16-expected.json"), "w") as f:
        json.dump(result, f)
        f.write("\n")
    print(json.dumps({k: v for k, v in result.items() if k != "predictions"}))


if __name__ == "__main__":
    main()
