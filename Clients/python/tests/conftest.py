"""Shared test helpers: the repository's fixtures and a real lstmd daemon (the worktree's debug build)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import sys

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "Tests" / "Fixtures"
# The tests check this checkout's package, installed or not.
sys.path.insert(0, str(ROOT / "Clients" / "python" / "src"))
# The models converted from Keras and TF 1: the outputs of the script that makes them (one list to keep).
CONVERTED_FIXTURES = re.findall(r" -o (\S+)\.safetensors", (FIXTURES / "convert-fixtures.sh").read_text())
KERAS_FIXTURES = [name for name in CONVERTED_FIXTURES if name.startswith("keras-")]
TF1_FIXTURES = [name for name in CONVERTED_FIXTURES if name.startswith("tf1-")]


def expected(name: str) -> Dict[str, Any]:
    return json.loads((FIXTURES / f"{name}-expected.json").read_text())


def lstmd_binary() -> Path:
    """$LSTMD_BINARY, else the repository's debug build, else its release build."""
    if os.environ.get("LSTMD_BINARY"):
        return Path(os.environ["LSTMD_BINARY"])
    for build in ("debug", "release"):
        path = ROOT / ".build" / build / "lstmd"
        if path.exists():
            return path
    pytest.skip("no lstmd binary: build it with `swift build` (or set LSTMD_BINARY)")


def lstm_train_binary() -> Path:
    """lstm-train beside the lstmd that lstmd_binary() finds."""
    path = lstmd_binary().parent / "lstm-train"
    if not path.exists():
        pytest.skip(f"no {path}: build it with `swift build`")
    return path


class Daemon:
    """A real lstmd process with ipc endpoints in a temporary directory."""

    def __init__(self, directory: Path, model: Path | None, extra: List[str]):
        self.endpoints = {name: f"ipc://{directory}/{name}" for name in ("ingest", "predictions", "control", "results")}
        args = [str(lstmd_binary())]
        if model is not None:
            args += ["--model", str(model)]
        for name, endpoint in self.endpoints.items():
            args += [f"--{name}", endpoint]
        self.log = open(directory / "lstmd.log", "w+")
        self.args = args + extra
        self.process = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def restart(self) -> int:
        """SIGTERM (a graceful stop: snapshot with --state-dir), then the same command on the same
        endpoints; returns the stopped process's exit status."""
        self.process.terminate()
        status = self.process.wait(20)
        self.process = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return status

    def _wait_ready(self) -> None:
        import zmq
        deadline = time.monotonic() + 20
        context = zmq.Context.instance()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lstmd exited with {self.process.returncode}: {self.output()}")
            request = context.socket(zmq.REQ)
            request.setsockopt(zmq.LINGER, 0)
            request.connect(self.endpoints["control"])
            request.send(b'{"command":"ping"}')
            ready = request.poll(500)
            request.close()
            if ready:
                return
        raise RuntimeError(f"lstmd did not answer ping within 20 s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


@pytest.fixture
def daemon_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("zmq")
    started: List[Daemon] = []

    def start(model: Path | None = None, *extra: str) -> Daemon:
        # ipc paths are limited to ~107 bytes: a short directory of its own.
        directory = tmp_path_factory.mktemp("d")
        daemon = Daemon(directory, model, list(extra))
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
