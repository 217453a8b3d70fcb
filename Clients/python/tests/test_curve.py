"""CURVE on every socket of the client against a real lstmd that requires it (conftest's `curve_daemon`:
--curve-secret-key, --curve-authorized-keys, --curve-admin-keys, every key pair made by the real
`lstm-client keygen`): the authorized key is served on each socket with the files as keygen writes them
(`NAME.key` after its `# CURVE secret key …` line, `NAME.pub` with a name after the key), an unlisted key
or a wrong server key gets nothing, and key files that are not keygen's get errors that name the file and
never quote it."""
from __future__ import annotations

import json

import pytest

from conftest import FIXTURES

zmq = pytest.importorskip("zmq")
import lstmd  # noqa: E402
from lstmd.curve import CurveKeyError, CurveKeys, load_key  # noqa: E402

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
KERAS = json.loads((FIXTURES / "keras-lstm1-h20-expected.json").read_text())["digits"][0]
ROWS = [bytes(KERAS["pixels"])[r * 28:(r + 1) * 28] for r in range(28)]


def test_keygen_files_are_read_as_lstmd_reads_them(curve_daemon) -> None:
    keys = curve_daemon.keys
    secret_line, = [line for line in (keys / "alice.key").read_text().splitlines() if not line.startswith("#")]
    public_line = (keys / "alice.pub").read_text().strip()
    assert public_line.split()[1:] == ["alice"]                  # keygen names the key after it
    assert load_key(keys / "alice.key", "secret key") == secret_line.encode()
    assert load_key(str(keys / "alice.pub"), "public key") == public_line.split()[0].encode()
    pair = CurveKeys.make(keys / "lstmd.pub", public_key=keys / "alice.pub", secret_key=keys / "alice.key")
    assert pair.public == zmq.curve_public(pair.secret) == public_line.split()[0].encode()


@pytest.mark.parametrize("lossless", [False, True], ids=["pub", "router"])
def test_an_authorized_key_is_served_on_every_socket(curve_daemon, lossless: bool) -> None:
    daemon, keys = curve_daemon
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=lossless, timeout=5,
                      server_key=keys / "lstmd.pub", secret_key=str(keys / "alice.key")) as client:
        assert client.ping()["ok"]                                 # REQ
        final = client.classify(ROWS)                              # PUSH + SUB, or DEALER
        assert isinstance(final, lstmd.Prediction) and final.final and final.row == 27
        assert max(abs(a - b) for a, b in zip(final.probabilities, KERAS["probabilities"][27])) < 1e-5
        with pytest.raises(lstmd.ControlError) as refused:        # alice is not an admin
            client.drop("no-such-stream")
        assert refused.value.code == "forbidden"
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), timeout=5, server_key=keys / "lstmd.pub",
                      secret_key=keys / "ops.key") as admin:
        with pytest.raises(lstmd.ControlError) as unknown:          # past the role check, to the stream table
            admin.drop("no-such-stream")
        assert unknown.value.code == "unknown_stream"


@pytest.mark.parametrize("who", ["unlisted key", "wrong server key", "no key"])
def test_a_wrong_key_gets_nothing(curve_daemon, who: str) -> None:
    daemon, keys = curve_daemon
    curve = {"unlisted key": dict(server_key=keys / "lstmd.pub", secret_key=keys / "mallory.key"),
             "wrong server key": dict(server_key=keys / "ops.pub", secret_key=keys / "alice.key"),
             "no key": {}}[who]
    for lossless in (False, True):
        with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), lossless=lossless, timeout=0.5, **curve) as client:
            with pytest.raises(TimeoutError, match="no reply to 'ping'"):
                client.ping()
            stream = client.stream()
            with pytest.raises((ConnectionError, TimeoutError),   # no handshake: rows not taken, or no answer
                               match=r"has taken no rows for 0.5 s|no prediction within 0.5 s"):
                stream.send_rows(ROWS)
                list(stream)
    with lstmd.Client(lstmd.Endpoints(**daemon.endpoints), timeout=5, server_key=keys / "lstmd.pub",
                      secret_key=keys / "alice.key") as alice:   # the daemon went on serving
        assert alice.classify(ROWS).final


SECRET = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"   # a valid Z85 key, misplaced in the cases below


@pytest.mark.parametrize("content, expected", [
    (f"{SECRET[:39]}\n", "line 1: a key is 40 Z85 characters; this one has 39"),
    (f"# CURVE secret key (x)\n\n{SECRET[:-1]}~ x\n", "line 3: not Z85 text"),
    (f"{'#' * 40}x\n".replace("#", "%", 1), "line 1: a key is 40 Z85 characters; this one has 41"),
    (f"{SECRET}\n{SECRET} twice\n", "holds 2 keys; expected one 40-character Z85 key"),
    ("# CURVE secret key (x); keep it private\n\n", "holds 0 keys; expected one"),
    (f"{'%' * 40}\n", "line 1: not Z85 text"),                    # every group past 2^32
    (f"{SECRET}\u00e9\n", "is not ASCII text; expected a key file as `lstm-client keygen` writes"),
])
def test_bad_key_files_are_named_and_never_quoted(tmp_path, content: str, expected: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CurveKeyError) as raised:
        load_key(path, "secret key")
    message = str(raised.value)
    assert message.startswith(f"secret key file '{path}'") and expected in message
    assert SECRET[:8] not in message and "%%%" not in message


def test_bad_key_arguments_are_named(tmp_path) -> None:
    with pytest.raises(CurveKeyError, match=r"server key '.*missing.pub' is neither a 40-character Z85 key nor a "
                                            r"readable key file \(No such file or directory\)"):
        load_key(str(tmp_path / "missing.pub"), "server key")
    with pytest.raises(CurveKeyError, match=r"public key '.*' is neither .* \(Is a directory\)"):
        load_key(tmp_path, "public key")
    public, secret = zmq.curve_keypair()
    other, _ = zmq.curve_keypair()
    assert load_key(public, "server key") == public and load_key(secret.decode(), "secret key") == secret
    with pytest.raises(CurveKeyError, match="is not the public key of the secret key"):
        lstmd.Client(server_key=public, secret_key=secret, public_key=other)
    with pytest.raises(ValueError, match="without the daemon's server_key"):
        lstmd.Client(secret_key=secret)
