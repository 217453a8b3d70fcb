"""CurveZMQ keys for the client (stream-protocol.md §14): Z85 strings, or the files `lstm-client keygen`
writes — `NAME.key` holding the Z85 secret key and `NAME.pub` the Z85 public key, one line each."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

KeySource = Union[str, bytes, "os.PathLike[str]"]
Z85_KEY_LENGTH = 40   # a 32-byte Curve25519 key in Z85
_Z85_ALPHABET = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


class CurveKeyError(ValueError):
    """A key that is neither a Z85 key nor a readable key file."""


def _is_z85_key(raw: bytes) -> bool:
    return len(raw) == Z85_KEY_LENGTH and all(b in _Z85_ALPHABET for b in raw)


def load_key(source: KeySource, what: str) -> bytes:
    """The 40-byte Z85 key that `source` is (a Z85 string or bytes) or holds (a path to a key file; its
    first line). `what` names the key in errors ("server key", "secret key", …)."""
    if isinstance(source, bytes) and _is_z85_key(source):
        return source
    if isinstance(source, str) and _is_z85_key(source.encode("ascii", "replace")) and not os.path.exists(source):
        return source.encode("ascii")
    path = Path(os.fsdecode(source))
    try:
        text = path.read_text(encoding="ascii").strip().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CurveKeyError(f"{what} {os.fsdecode(source)!r} is neither a {Z85_KEY_LENGTH}-character Z85 key nor a "
                        f"readable key file: {error}") from None
    raw = text[0].strip().encode("ascii") if text else b""
    if not _is_z85_key(raw):
        raise CurveKeyError(f"{what} file {str(path)!r} holds {raw[:60]!r}; expected one line with a "
                        f"{Z85_KEY_LENGTH}-character Z85 key")
    return raw


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
