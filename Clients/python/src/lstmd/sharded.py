"""Several daemons behind one client: each new stream goes to the daemon chosen by rendezvous hashing
of its id (Protocols/rendezvous.md), so a stream's rows always reach the same daemon."""
from __future__ import annotations

import os
import socket
import uuid
import itertools
from typing import Any, Dict, List, Optional, Sequence

from .client import Client, Endpoints, Stream
from .rendezvous import choose
from .wire import StreamID, stream_id_bytes


class ShardedClient:
    """One `Client` per daemon; `names` default to the daemons' ingest endpoints. Other keyword arguments
    (lossless, timeout, …) go to every Client. A daemon that dies fails only the streams routed to it."""

    def __init__(self, daemons: Sequence[Endpoints], names: Optional[Sequence[str]] = None, **options: Any):
        self.names: List[str] = list(names) if names is not None else [d.ingest for d in daemons]
        if len(self.names) != len(daemons):
            raise ValueError(f"{len(self.names)} names for {len(daemons)} daemons")
        self.clients = [Client(d, **options) for d in daemons]
        self.prefix = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}/"
        self._numbers = itertools.count()

    def __enter__(self) -> "ShardedClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def daemon_for(self, stream_id: StreamID) -> int:
        """The index of the daemon that a stream id goes to."""
        return choose(self.names, stream_id_bytes(stream_id))

    def stream(self, stream_id: Optional[StreamID] = None) -> Stream:
        stream_id = stream_id if stream_id is not None else f"{self.prefix}{next(self._numbers)}"
        return self.clients[self.daemon_for(stream_id)].stream(stream_id)

    def status(self) -> Dict[str, Any]:
        """Every daemon's status by name (an exception instead of a reply for a daemon that failed)."""
        out: Dict[str, Any] = {}
        for name, client in zip(self.names, self.clients):
            try:
                out[name] = client.status()
            except Exception as error:   # noqa: BLE001 - reported per daemon
                out[name] = error
        return out
