"""Shared test helpers: the repository's fixtures, a real lstmd daemon (the worktree's debug build), and one
that requires CURVE, with keys made by the real `lstm-client keygen`."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple

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


def built_binary(name: str) -> Path:
    """The executable `name` (lstmd, lstm-client): $LSTMD_BINARY for lstmd and the one beside it for the
    others, when that is set; else the repository's debug build, else its release build."""
    if os.environ.get("LSTMD_BINARY"):
        return Path(os.environ["LSTMD_BINARY"]).with_name(name) if name != "lstmd" else Path(os.environ["LSTMD_BINARY"])
    for build in ("debug", "release"):
        path = ROOT / ".build" / build / name
        if path.exists():
            return path
    pytest.skip(f"no {name} binary: build it with `swift build` (or set LSTMD_BINARY)")


def lstm_train_binary() -> Path:
    """lstm-train beside the lstmd that built_binary() finds."""
    return built_binary("lstm-train")


class Daemon:
    """A real lstmd process with ipc endpoints in a temporary directory. `curve`: the CURVE keys
    (`lstmd.curve.CurveKeys`) of an authorized client, for a daemon that requires CURVE."""

    def __init__(self, directory: Path, model: Path | None, extra: List[str], curve: Any = None):
        self.endpoints = {name: f"ipc://{directory}/{name}" for name in ("ingest", "predictions", "control", "results")}
        self.curve = curve
        args = [str(built_binary("lstmd"))]
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
            if self.curve is not None:
                self.curve.apply(request)
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

    def start(model: Path | None = None, *extra: str, curve: Any = None) -> Daemon:
        # ipc paths are limited to ~107 bytes: a short directory of its own.
        directory = tmp_path_factory.mktemp("d")
        daemon = Daemon(directory, model, list(extra), curve)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def keygen(prefix: Path) -> Path:
    """A key pair made by the real `lstm-client keygen`: PREFIX.key and PREFIX.pub; returns PREFIX."""
    result = subprocess.run([str(built_binary("lstm-client")), "keygen", "--out", str(prefix)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return prefix


class CurveDaemon(NamedTuple):
    daemon: Daemon
    keys: Path   # lstmd.key/.pub (the daemon's), alice (authorized), ops (admin), mallory (not listed)


@pytest.fixture
def curve_daemon(daemon_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> CurveDaemon:
    """lstmd serving keras-lstm1-h20 with CURVE on every socket, configured as Systemd/README.md's
    "Exposing lstmd" shows: its secret key file, a directory of authorized client keys (alice) and one
    of admin keys (ops); all four key pairs made by `lstm-client keygen`."""
    zmq = pytest.importorskip("zmq")
    if not zmq.has("curve"):
        pytest.skip("libzmq without CURVE")
    from lstmd.curve import CurveKeys
    keys = tmp_path_factory.mktemp("k")
    for name in ("lstmd", "alice", "ops", "mallory"):
        keygen(keys / name)
    for directory, member in (("clients.d", "alice"), ("admins.d", "ops")):
        (keys / directory).mkdir()
        shutil.copy(keys / f"{member}.pub", keys / directory)
    daemon = daemon_factory(FIXTURES / "keras-lstm1-h20.safetensors",
                            "--curve-secret-key", str(keys / "lstmd.key"),
                            "--curve-authorized-keys", str(keys / "clients.d"),
                            "--curve-admin-keys", str(keys / "admins.d"),
                            curve=CurveKeys.make(keys / "lstmd.pub", secret_key=keys / "alice.key"))
    return CurveDaemon(daemon, keys)
