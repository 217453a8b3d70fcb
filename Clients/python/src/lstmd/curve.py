"""CurveZMQ keys for the client (stream-protocol.md §14): Z85 strings, or the files `lstm-client keygen`
writes — `NAME.key`, a `# CURVE secret key (NAME); keep it private` line then the Z85 secret key, and
`NAME.pub`, the Z85 public key followed by a name (`<key> NAME`). Read as lstmd reads key files: blank
lines and lines starting with `#` are skipped, a line's first whitespace-separated field is its key, and
a key file holds one key. Errors name the file and what was expected, never the file's content (a
malformed line may be a secret key in the wrong place)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

KeySource = Union[str, bytes, "os.PathLike[str]"]
Z85_KEY_LENGTH = 40   # a 32-byte Curve25519 key in Z85
_Z85_ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUES = {character: value for value, character in enumerate(_Z85_ALPHABET)}


class CurveKeyError(ValueError):
    """A key that is neither a Z85 key nor a readable key file."""


def _is_z85_key(raw: bytes) -> bool:
    """40 Z85 characters whose every 5-character group is a 32-bit value (ZeroMQ RFC 32), as libzmq's
    `zmq_z85_decode` accepts."""
    if len(raw) != Z85_KEY_LENGTH or any(b not in _Z85_VALUES for b in raw):
        return False
    for start in range(0, Z85_KEY_LENGTH, 5):
        value = 0
        for b in raw[start:start + 5]:
            value = value * 85 + _Z85_VALUES[b]
        if value >= 1 << 32:
            return False
    return True


def _keys_in(path: Path, what: str) -> List[bytes]:
    """Every key in a key file, one per line (its first field); blank and `#` lines skipped."""
    try:
        text = path.read_bytes().decode("ascii")
    except OSError as error:
        raise CurveKeyError(f"{what} {str(path)!r} is neither a {Z85_KEY_LENGTH}-character Z85 key nor a "
                            f"readable key file ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise CurveKeyError(f"{what} file {str(path)!r} is not ASCII text; expected a key file as "
                            f"`lstm-client keygen` writes") from None
    keys = []
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        field = fields[0].encode("ascii")
        if len(field) != Z85_KEY_LENGTH:
            raise CurveKeyError(f"{what} file {str(path)!r} line {number}: a key is {Z85_KEY_LENGTH} Z85 characters; "
                                f"this one has {len(field)}")
        if not _is_z85_key(field):
            raise CurveKeyError(f"{what} file {str(path)!r} line {number}: not Z85 text (ZeroMQ RFC 32)")
        keys.append(field)
    return keys


def load_key(source: KeySource, what: str) -> bytes:
    """The 40-byte Z85 key that `source` is (a Z85 string or bytes) or holds (a path to a key file as
    `lstm-client keygen` writes, holding exactly one key). `what` names the key in errors ("server key",
    "secret key", …)."""
    if isinstance(source, bytes) and _is_z85_key(source):
        return source
    if isinstance(source, str) and _is_z85_key(source.encode("ascii", "replace")) and not os.path.exists(source):
        return source.encode("ascii")
    path = Path(os.fsdecode(source))
    keys = _keys_in(path, what)
    if len(keys) != 1:
        raise CurveKeyError(f"{what} file {str(path)!r} holds {len(keys)} keys; expected one "
                            f"{Z85_KEY_LENGTH}-character Z85 key")
    return keys[0]


@dataclass(frozen=True)
class CurveKeys:
    """What a client socket needs: the daemon's public key and the client's key pair (all Z85)."""
    server: bytes
    public: bytes
    secret: bytes

    @staticmethod
    def make(server_key: KeySource, public_key: Optional[KeySource] = None,
             secret_key: Optional[KeySource] = None) -> "CurveKeys":
        """Without a secret key the client uses a fresh key pair (for a daemon that accepts any client);
        without a public key it is computed from the secret key. A path `NAME.key` as `secret_key` alone
        is enough: the public key is the secret key's own."""
        import zmq
        if not zmq.has("curve"):
            raise RuntimeError("this libzmq was built without CURVE support")
        server = load_key(server_key, "server key")
        if secret_key is None:
            if public_key is not None:
                raise CurveKeyError("a public key was given without its secret key")
            public, secret = zmq.curve_keypair()
            return CurveKeys(server, public, secret)
        secret = load_key(secret_key, "secret key")
        derived = zmq.curve_public(secret)
        if public_key is not None:
            public = load_key(public_key, "public key")
            if public != derived:
                raise CurveKeyError(f"public key {public.decode()} is not the public key of the secret key given "
                                f"(that is {derived.decode()})")
        return CurveKeys(server, derived, secret)

    def apply(self, sock) -> None:
        """Sets the socket's CURVE options; before connect."""
        import zmq
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret)
