"""Protocols/examples/stream_digit.py run as a user would, against a real lstmd that requires CURVE
(conftest's `curve_daemon`), with lstm-client's option names: a digit from an IDX pair given as raw
files (--images, --labels) over PUSH + SUB, and from an MNIST directory of gzip files (--data) over the
lossless path (--router, --results); the daemon's key with --server-key, the client's with --key."""
from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT

pytest.importorskip("zmq")
SCRIPT = ROOT / "Protocols" / "examples" / "stream_digit.py"
DIGITS = json.loads((FIXTURES / "keras-lstm1-h20-expected.json").read_text())["digits"]


def write_idx(directory, compress: bool) -> tuple:
    """The fixture's digits as an MNIST test set: t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte."""
    images = struct.pack(">IIII", 0x803, len(DIGITS), 28, 28) + b"".join(bytes(d["pixels"]) for d in DIGITS)
    labels = struct.pack(">II", 0x801, len(DIGITS)) + bytes(d["label"] for d in DIGITS)
    paths = []
    for name, data in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        path = directory / (name + ".gz" if compress else name)
        path.write_bytes(gzip.compress(data) if compress else data)
        paths.append(path)
    return tuple(paths)


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", ["pub", "router"])
def test_the_example_streams_a_digit_with_curve(curve_daemon, tmp_path, path: str) -> None:
    daemon, keys = curve_daemon
    index = 2
    images, labels = write_idx(tmp_path, compress=path == "router")
    source = ["--images", str(images), "--labels", str(labels)] if path == "pub" else ["--data", str(tmp_path), "--router"]
    endpoints = [f"--{name}={endpoint}" for name, endpoint in daemon.endpoints.items()]
    result = run(*endpoints, *source, "--index", str(index), "--timeout", "10",
                 "--server-key", str(keys / "lstmd.pub"), "--key", str(keys / "alice.key"))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"digit {index} of {images}, label {DIGITS[index]['label']}"
    assert [line.split()[0] for line in lines[2:]] == ["PARTIAL"] * 27 + ["FINAL"]
    final = DIGITS[index]["probabilities"][27]
    assert lines[-1].startswith(f"FINAL   row 27  argmax {final.index(max(final))}  p {max(final):.3f}")


def test_the_example_names_what_is_wrong(curve_daemon, tmp_path) -> None:
    daemon, keys = curve_daemon
    endpoints = [f"--{name}={endpoint}" for name, endpoint in daemon.endpoints.items()]
    alone = run(*endpoints, "--key", str(keys / "alice.key"))
    assert alone.returncode == 2 and "--server-key and --key go together" in alone.stderr
    images, labels = write_idx(tmp_path, compress=False)
    past_the_end = run(*endpoints, "--images", str(images), "--labels", str(labels), "--index", str(len(DIGITS)))
    assert past_the_end.returncode == 2 and f"holds {len(DIGITS)} digits" in past_the_end.stderr
    not_idx = run(*endpoints, "--images", str(keys / "lstmd.pub"), "--labels", str(labels))
    assert not_idx.returncode == 1 and "lstmd.pub is not an IDX file of uint8 items" in not_idx.stderr
    unlisted = run(*endpoints, "--timeout", "0.5", "--server-key", str(keys / "lstmd.pub"), "--key", str(keys / "mallory.key"))
    assert unlisted.returncode == 1 and "no reply to 'status'" in unlisted.stderr
