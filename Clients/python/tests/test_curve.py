"""CURVE on every socket of the client, against a daemon stand-in of pure pyzmq (lstmd has no CURVE
options yet): CURVE server sockets on ipc — REP control, ROUTER results, PULL ingest, PUB predictions —
and a ZAP handler of its own (RFC 27, no zmq.auth) that admits one client public key. The stand-in
answers every ROW with a FINAL of the row's sequence. Keys come as files in the format `lstm-client
keygen` writes (NAME.key: the Z85 secret key, NAME.pub: the Z85 public key) or as Z85 strings."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT

zmq = pytest.importorskip("zmq")
import zmq.utils.z85  # noqa: E402
import lstmd  # noqa: E402
from lstmd.curve import CurveKeyError, load_key  # noqa: E402

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


def write_key_pair(prefix: Path) -> tuple:
    public, secret = zmq.curve_keypair()
    prefix.with_suffix(".key").write_text(secret.decode() + "\n")
    prefix.with_suffix(".pub").write_text(public.decode() + "\n")
    return public, secret


class CurveStandIn:
    """The four daemon sockets as CURVE servers, served by a thread until `stop`."""

    def __init__(self, directory: Path, server_secret: bytes, admitted_key: bytes):
        self.endpoints = lstmd.Endpoints(*(f"ipc://{directory}/{name}" for name in ("i", "p", "c", "r")))
        self.admitted_key = zmq.utils.z85.decode(admitted_key)
        self.context = zmq.Context()
        self.zap = self.context.socket(zmq.REP)
        self.zap.bind("inproc://zeromq.zap.01")   # libzmq asks this endpoint of the context (RFC 27)
        self.sockets = {}
        for name, kind, endpoint in (("control", zmq.REP, self.endpoints.control),
                                     ("results", zmq.ROUTER, self.endpoints.results),
                                     ("ingest", zmq.PULL, self.endpoints.ingest),
                                     ("predictions", zmq.PUB, self.endpoints.predictions)):
            sock = self.context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, server_secret)
            sock.bind(endpoint)
            self.sockets[name] = sock
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, frames: list) -> list:
        stream, header = frames[0], frames[1]
        row, sequence = int.from_bytes(header[4:8], "little"), int.from_bytes(header[8:12], "little")
        body = struct.pack("<2f", 0.25, 0.75)
        return [stream, bytes([2, 1, 1, 0]) + row.to_bytes(4, "little") + sequence.to_bytes(4, "little"), body]

    def _serve(self) -> None:
        poller = zmq.Poller()
        for sock in (self.zap, *self.sockets.values()):
            if sock.type != zmq.PUB:
                poller.register(sock, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(50):
                frames = sock.recv_multipart()
                if sock is self.zap:
                    version, request_id, _domain, _address, _identity, mechanism, key = frames[:7]
                    admitted = mechanism == b"CURVE" and key == self.admitted_key
                    self.refused += not admitted
                    sock.send_multipart([version, request_id, b"200" if admitted else b"400",
                                         b"OK" if admitted else b"unknown key", b"", b""])
                elif sock is self.sockets["control"]:
                    request = json.loads(frames[0])
                    sock.send(json.dumps({"ok": True, "command": request["command"]}).encode())
                elif sock is self.sockets["results"]:
                    sock.send_multipart([frames[0], *self._answer(frames[1:])])
                else:
                    self.sockets["predictions"].send_multipart(self._answer(frames))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in (self.zap, *self.sockets.values()):
            sock.close(0)
        self.context.term()


@pytest.fixture
def keys(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("k")   # ipc paths are limited to ~107 bytes
    server_public, server_secret = write_key_pair(tmp_path / "server")
    client_public, client_secret = write_key_pair(tmp_path / "client")
    stand_in = CurveStandIn(tmp_path, server_secret, client_public)
    yield tmp_path, stand_in, server_public, client_public, client_secret
    stand_in.stop()


@pytest.mark.parametrize("lossless", [False, True], ids=["pub", "router"])
def test_every_socket_uses_the_key_files(keys, lossless: bool) -> None:
    directory, stand_in, *_ = keys
    with lstmd.Client(stand_in.endpoints, lossless=lossless, timeout=3, server_key=directory / "server.pub",
                      secret_key=str(directory / "client.key"), public_key=directory / "client.pub") as client:
        assert client.ping() == {"ok": True, "command": "ping"}   # REQ
        stream = client.stream()
        stream.send(b"\x00" * 4, last=True)                        # PUSH or DEALER
        final = stream.result()                                    # SUB or DEALER
        assert isinstance(final, lstmd.Prediction) and final.final
        assert final.sequence == stream.sequence and final.probabilities == (0.25, 0.75)
    assert stand_in.refused == 0


def test_z85_strings_work_and_other_keys_are_refused(keys) -> None:
    directory, stand_in, server_public, client_public, client_secret = keys
    with lstmd.Client(stand_in.endpoints, lossless=True, timeout=2, server_key=server_public.decode(),
                      secret_key=client_secret.decode()) as client:   # public key computed from the secret
        assert client.ping()["ok"]
    with lstmd.Client(stand_in.endpoints, timeout=0.5, server_key=server_public) as stranger:   # a fresh pair
        with pytest.raises(TimeoutError):
            stranger.ping()
    assert stand_in.refused >= 1
    wrong_server, _ = zmq.curve_keypair()
    with lstmd.Client(stand_in.endpoints, timeout=0.5, server_key=wrong_server,
                      secret_key=directory / "client.key") as lost:   # the handshake fails: nothing is answered
        with pytest.raises(TimeoutError):
            lost.ping()


def test_bad_keys_are_named(tmp_path) -> None:
    with pytest.raises(CurveKeyError, match="server key .*missing.pub.* neither a 40-character Z85 key nor a readable"):
        load_key(str(tmp_path / "missing.pub"), "server key")
    (tmp_path / "short.pub").write_text("abc\n")
    with pytest.raises(CurveKeyError, match="short.pub' holds b'abc'; expected one line with a 40-character"):
        load_key(tmp_path / "short.pub", "public key")
    public, secret = zmq.curve_keypair()
    other, _ = zmq.curve_keypair()
    with pytest.raises(CurveKeyError, match="is not the public key of the secret key"):
        lstmd.Client(server_key=public, secret_key=secret, public_key=other)
    with pytest.raises(ValueError, match="without the daemon's server_key"):
        lstmd.Client(secret_key=secret)


@pytest.mark.parametrize("router", [False, True], ids=["pub", "router"])
def test_the_example_takes_server_key_and_key_prefix(keys, router: bool) -> None:
    directory, stand_in, *_ = keys
    script = ROOT / "Protocols" / "examples" / "stream_digit.py"
    arguments = [sys.executable, str(script), "--ingest", stand_in.endpoints.ingest,
                 "--predictions", stand_in.endpoints.predictions, "--timeout", "3",
                 "--server-key", str(directory / "server.pub"), "--key", str(directory / "client")]
    if router:
        arguments += ["--router", stand_in.endpoints.results]
    result = subprocess.run(arguments, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FINAL   row  0" in result.stdout          # the stand-in ends every stream at its first row
    assert stand_in.refused == 0
