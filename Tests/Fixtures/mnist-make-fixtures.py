#!/usr/bin/env python3
"""Make the small MNIST fixtures in Tests/Fixtures from the real MNIST test set.

Writes the first N test images and labels (N = 100 and 1000) as gzip IDX files with the same
headers as the canonical files, only the count changed:

    mnist-t10k-100-images-idx3-ubyte.gz   mnist-t10k-100-labels-idx1-ubyte.gz
    mnist-t10k-1000-images-idx3-ubyte.gz  mnist-t10k-1000-labels-idx1-ubyte.gz

The gzip output is deterministic (mtime 0, no file name, level 9), so rerunning it reproduces the
committed files byte for byte. It prints the SHA-256 of each file's decompressed bytes, which the
tests hold as the fixture checksums.

Usage (from the repository root; the source defaults to $LSTMD_MNIST_DIR or ../shared/data/mnist):
    python3 Tests/Fixtures/mnist-make-fixtures.py [MNIST_DIR]
"""
import gzip
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main() -> None:
    default = os.environ.get("LSTMD_MNIST_DIR") or os.path.join(ROOT, "..", "shared", "data", "mnist")
    source = sys.argv[1] if len(sys.argv) > 1 else default
    with gzip.open(os.path.join(source, "t10k-images-idx3-ubyte.gz")) as f:
        images = f.read()
    with gzip.open(os.path.join(source, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read()
    assert struct.unpack(">IIII", images[:16]) == (0x803, 10000, 28, 28)
    assert struct.unpack(">II", labels[:8]) == (0x801, 10000)

    for count in (100, 1000):
        outputs = {
            f"mnist-t10k-{count}-images-idx3-ubyte":
                struct.pack(">IIII", 0x803, count, 28, 28) + images[16:16 + count * 784],
            f"mnist-t10k-{count}-labels-idx1-ubyte":
                struct.pack(">II", 0x801, count) + labels[8:8 + count],
        }
        for name, raw in outputs.items():
            path = os.path.join(HERE, name + ".gz")
            with open(path, "wb") as f:
                f.write(gzip.compress(raw, compresslevel=9, mtime=0))
            print(f"{name}.gz  raw {len(raw)} B  gz {os.path.getsize(path)} B  "
                  f"sha256(raw) {hashlib.sha256(raw).hexdigest()}")


if __name__ == "__main__":
    main()
