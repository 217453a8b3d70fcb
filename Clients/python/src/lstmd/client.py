"""A client of one lstmd daemon: stream handles that send rows and yield their predictions (an iterator
and an async iterator), over PUSH + SUB (best effort) or DEALER (lossless), and the control channel.

    with lstmd.Client() as client:
        stream = client.stream()
        stream.send_rows(image)            # 28 rows of 28 uint8 pixels; LAST on the last
        for prediction in stream:          # PARTIALs, then the FINAL (or an ERROR)
            print(prediction.row, prediction.argmax)

Sockets belong to the client and are used from one thread (or one asyncio task at a time); messages
for other streams read while waiting are kept for them. The bytes are `lstmd.wire`'s.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Deque, Dict, Iterable, Iterator, Optional

import zmq

from .curve import CurveKeys, KeySource
from .wire import (ERRORS_TOPIC, SEQUENCE_LIMIT, Message, StreamError, StreamID, decode_prediction, encode_end,
                   encode_row, stream_id_bytes)


@dataclass(frozen=True)
class Endpoints:
    """A daemon's four endpoints (stream-protocol.md §3); the defaults are lstmd's."""
    ingest: str = "tcp://127.0.0.1:5555"
    predictions: str = "tcp://127.0.0.1:5556"
    control: str = "tcp://127.0.0.1:5557"
    results: str = "tcp://127.0.0.1:5558"


class ControlError(RuntimeError):
    """A failed control reply (control-protocol.md §3): `code` and the daemon's `message`."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class Client:
    """Connects to one daemon. `lossless=True` sends rows on a DEALER to the daemon's ROUTER and receives
    every prediction of its streams there; otherwise rows go to PUSH and predictions come from SUB, which
    may drop messages (a stream then recovers lost PARTIALs by resending its rows from the first whose
    prediction is missing, see `Stream._recover`).

    `timeout`: seconds a stream waits for its next message before giving up (TimeoutError).
    `subscription_wait`: seconds for a SUB subscription to reach the daemon before rows are sent.
    `server_key`: the daemon's CURVE public key (stream-protocol.md §14), with the client's `public_key` and
    `secret_key` — each a Z85 string or a key file (`lstm-client keygen`: NAME.key, NAME.pub); set on
    every socket. Without a secret key the client uses a fresh key pair.

    Every sequence a stream sends gets a new sequence number (LSP/2, §6.1) from a per-client counter that
    starts at a random 32-bit value, as the spec recommends: numbers never repeat within a client (for
    2^32 sequences), and a client started again with the same stream ids is unlikely (2^-32) to reuse the
    number of a sequence a daemon restored from a snapshot. A clock would repeat numbers when it steps
    back or when two sequences start within one tick."""

    RECEIVE_BUDGET = 10_000   # most messages read in one go, so a busy socket cannot hold the caller

    def __init__(self, endpoints: Endpoints = Endpoints(), *, lossless: bool = False, timeout: float = 5.0,
                 subscription_wait: float = 0.2, context: Optional[zmq.Context] = None,
                 server_key: Optional[KeySource] = None, public_key: Optional[KeySource] = None,
                 secret_key: Optional[KeySource] = None):
        self.endpoints, self.lossless, self.timeout = endpoints, lossless, timeout
        if server_key is None and (public_key is not None or secret_key is not None):
            raise ValueError("client CURVE keys were given without the daemon's server_key")
        self._curve = CurveKeys.make(server_key, public_key, secret_key) if server_key is not None else None
        self._next_sequence_number = secrets.randbits(32)
        self.subscription_wait = subscription_wait
        self._context = context or zmq.Context.instance()
        self._queues: Dict[bytes, Deque[Message]] = {}
        # ERRORs on `$errors` (messages whose stream id the daemon could not read), the latest 1,000.
        self.unattributed_errors: Deque[StreamError] = collections.deque(maxlen=1000)
        self._control: Optional[zmq.Socket] = None
        self.prefix = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}/"
        self._numbers = itertools.count()
        if lossless:
            # A large receive queue holds a burst of predictions here rather than in the daemon's queue.
            self._dealer = self._socket(zmq.DEALER, endpoints.results, receive_hwm=100_000)
            self._receiver = self._dealer
        else:
            self._push = self._socket(zmq.PUSH, endpoints.ingest)
            self._sub = self._socket(zmq.SUB, endpoints.predictions)
            self._receiver = self._sub
            # Streams named by the client share one subscription (its prefix), so one wait covers them.
            self._subscriptions = [self.prefix.encode(), ERRORS_TOPIC]
            for topic in self._subscriptions:
                self._sub.setsockopt(zmq.SUBSCRIBE, topic)
            self._subscribed_at = time.monotonic()
        self._closed = False
        self._unreachable = False

    def _socket(self, kind: int, endpoint: str, receive_hwm: Optional[int] = None) -> zmq.Socket:
        sock = self._context.socket(kind)
        sock.setsockopt(zmq.LINGER, 1000)
        if self._curve is not None:
            self._curve.apply(sock)
        if receive_hwm is not None:
            sock.setsockopt(zmq.RCVHWM, receive_hwm)   # before connect: it sizes the connection's queue
        sock.connect(endpoint)
        return sock

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for name in ("_dealer", "_push", "_sub", "_control"):
            sock = getattr(self, name, None)
            if sock is not None:
                sock.close()

    # -- streams --

    def stream(self, stream_id: Optional[StreamID] = None) -> "Stream":
        """A new stream handle; its id defaults to `<host>/<pid>/<random>/<n>` (unique per client)."""
        raw = stream_id_bytes(stream_id if stream_id is not None else f"{self.prefix}{next(self._numbers)}")
        if not self.lossless and not any(raw.startswith(topic) for topic in self._subscriptions):
            self._sub.setsockopt(zmq.SUBSCRIBE, raw)
            self._subscriptions.append(raw)
            self._subscribed_at = time.monotonic()
        self._queues.setdefault(raw, collections.deque())
        return Stream(self, raw)

    def classify(self, rows: Iterable[Any], stream_id: Optional[StreamID] = None) -> Message:
        """Sends a whole sequence and returns its FINAL (or the ERROR that ended it)."""
        stream = self.stream(stream_id)
        stream.send_rows(rows)
        return stream.result()

    def _new_sequence(self) -> int:
        number = self._next_sequence_number
        self._next_sequence_number = (number + 1) % SEQUENCE_LIMIT
        return number

    def _send(self, frames: list) -> None:
        if self._closed:
            raise RuntimeError("the client is closed")
        if self.lossless:
            sender = self._dealer
            if sender.poll(0):
                self.receive(0)   # the spec asks a DEALER client to read while it sends
        else:
            sender = self._push
            wait = self._subscribed_at + self.subscription_wait - time.monotonic()
            if wait > 0:
                time.sleep(wait)   # slow joiner: the subscription must reach the daemon first
        # Never a blocking send: a connection whose handshake fails (a refused CURVE key) can vanish
        # between a poll that saw room and the send, which then waited for ever.
        deadline: Optional[float] = None
        while True:
            try:
                sender.send_multipart(frames, zmq.DONTWAIT)
                break
            except zmq.Again:
                # The socket's queue is full or no connection stands: the daemon is slow, or gone. The
                # daemon stops reading a peer that does not read its results (backpressure), so read
                # while waiting; after one timeout, further sends fail at once until the daemon takes
                # rows again.
                if deadline is None:
                    deadline = time.monotonic() + (0 if self._unreachable else self.timeout)
                if time.monotonic() >= deadline:
                    self._unreachable = True
                    raise ConnectionError(f"the daemon at {self.endpoints.ingest if not self.lossless else self.endpoints.results} "
                                          f"has taken no rows for {self.timeout} s") from None
                self.receive(0.01)
        self._unreachable = False

    def receive(self, timeout: float) -> bool:
        """Reads the waiting messages (waiting up to `timeout` s for the first) into their streams' queues,
        where `Stream.take` finds them: for a loop of its own that serves many streams. True if any came."""
        if not self._receiver.poll(int(timeout * 1000)):
            return False
        for _ in range(self.RECEIVE_BUDGET):
            message = decode_prediction(self._receiver.recv_multipart())
            queue = self._queues.get(message.stream)
            if queue is not None:
                queue.append(message)
            elif isinstance(message, StreamError) and message.stream == ERRORS_TOPIC:
                self.unattributed_errors.append(message)
            if not self._receiver.poll(0):
                break
        return True

    def _forget(self, stream_id: bytes) -> None:
        self._queues.pop(stream_id, None)

    # -- control --

    def control(self, command: str, **arguments: Any) -> Dict[str, Any]:
        """Sends one control request (control-protocol.md) and returns the reply; raises ControlError for
        a failed reply and TimeoutError when the daemon does not answer within `timeout`."""
        if self._control is None:
            self._control = self._socket(zmq.REQ, self.endpoints.control)
            self._control.setsockopt(zmq.LINGER, 0)
        self._control.send(json.dumps({"command": command, **arguments}).encode())
        if not self._control.poll(int(self.timeout * 1000)):
            self._control.close()   # REQ cannot send again before a reply: start over
            self._control = None
            raise TimeoutError(f"no reply to {command!r} from {self.endpoints.control} within {self.timeout} s")
        reply = json.loads(self._control.recv())
        if not reply.get("ok"):
            error = reply.get("error", {})
            raise ControlError(error.get("code", "internal"), error.get("message", ""))
        return reply

    def ping(self) -> Dict[str, Any]:
        return self.control("ping")

    def status(self) -> Dict[str, Any]:
        return self.control("status")

    def streams(self, page_size: int = 1000) -> list:
        """Every live stream, fetched a page of `page_size` at a time (control-protocol.md §4.3), sorted by
        id, as the control protocol's dicts: `id`, `next_row`, `sequence` (absent for a stream of a
        version 1 client), `model`, `idle_seconds`."""
        streams: list = []
        cursor = 0
        while True:
            reply = self.control("streams", cursor=cursor, limit=page_size)
            streams += reply["streams"]
            cursor = reply.get("cursor", 0)   # absent: a daemon from before paging sent them all
            if cursor == 0:
                return sorted(streams, key=lambda s: s["id"].encode())

    def drop(self, stream_id: str) -> Dict[str, Any]:
        return self.control("drop", stream=stream_id)


class Stream:
    """One stream: `send` rows in order (row indexes are counted for you), iterate its predictions.
    Iteration ends after the FINAL or an ERROR; it raises TimeoutError when nothing arrives in time.

    Each sequence the stream sends (row 0 to its FINAL) has its own sequence number (`sequence`); the
    stream's id may carry several in turn (`send_rows` again, or `restart`). Messages about another
    sequence on the same id (an earlier one, e.g. the `evicted` of a copy a daemon restored) are ignored
    and counted in `ignored`. After a daemon restart that restored the stream, just go on sending: the
    rows continue the restored state (stream-protocol.md §6.2)."""

    UNANSWERED_LIMIT = 4096   # rows kept for resending; a sequence longer than this resends only its tail

    def __init__(self, client: Client, stream_id: bytes):
        self.client, self.id = client, stream_id
        self.next_row = 0
        self.sequence: Optional[int] = None
        self._unanswered: Deque[list] = collections.deque(maxlen=self.UNANSWERED_LIMIT)
        self._last_sent_last = False
        self._done = False
        self.resends = 0   # rows resent to recover predictions PUB dropped
        self.ignored = 0   # messages about other sequences on this id

    def send(self, values: Any, *, last: bool = False) -> int:
        """Sends the next row (bytes / ints as uint8, floats as float32); returns its row index. Row 0
        begins a new sequence, with a new sequence number (so does the first row sent, whatever its index)."""
        begins = self.next_row == 0 or self.sequence is None
        sequence = self.client._new_sequence() if begins else self.sequence
        frames = encode_row(self.id, self.next_row, values, last=last, sequence=sequence)
        if begins:
            self._begin(sequence)
        self.client._send(frames)
        self._unanswered.append(frames)
        self._last_sent_last = last
        self.next_row += 1
        return self.next_row - 1

    def _begin(self, sequence: int) -> None:
        self.sequence = sequence
        self._unanswered.clear()
        self._done = False
        self.client._queues.setdefault(self.id, collections.deque())

    def restart(self) -> None:
        """The next `send` is row 0 of a new sequence on this id (the daemon restarts a live stream)."""
        self.next_row = 0

    def send_rows(self, rows: Iterable[Any]) -> None:
        """Sends a whole sequence, rows 0 … n−1, LAST on the last one; on a stream that already sent rows
        this is a new sequence."""
        rows = list(rows)
        self.restart()
        for index, values in enumerate(rows):
            self.send(values, last=index == len(rows) - 1)

    def end(self) -> None:
        """Abandons the stream (END): the daemon frees it and publishes nothing more for it."""
        if self.sequence is not None:
            self.client._send(encode_end(self.id, self.next_row, sequence=self.sequence))
        self._finish()

    @property
    def done(self) -> bool:
        """True once the stream's FINAL or ERROR was read (or it was ended)."""
        return self._done

    def _finish(self) -> None:
        self._done = True
        self.client._forget(self.id)

    def _poll(self, timeout: float) -> Optional[Message]:
        """The stream's next message, reading the socket for up to `timeout` s when none is queued."""
        queue = self.client._queues.get(self.id)
        if queue is not None and not queue:
            self.client.receive(timeout)
        return self.take()

    def take(self) -> Optional[Message]:
        """The stream's next message already read (by `Client.receive` or another stream), if any;
        messages about other sequences are skipped."""
        queue = self.client._queues.get(self.id)
        while queue:
            message = queue.popleft()
            if self.sequence is None or message.sequence != self.sequence:
                self.ignored += 1
                continue
            if isinstance(message, StreamError) or message.final:
                self._finish()
            while self._unanswered and message.row is not None and self._row_of(self._unanswered[0]) <= message.row:
                self._unanswered.popleft()
            return message
        return None

    @staticmethod
    def _row_of(frames: list) -> int:
        return int.from_bytes(frames[1][4:8], "little")

    def _recover(self) -> bool:
        """PUB may drop messages (and drops those published before a reconnected SUB's subscription
        arrives, e.g. after a daemon restart): resending the rows from the first one whose prediction is
        missing makes the daemon apply those it lost and publish the last applied row's prediction again
        (stream-protocol.md §6 rule 3). Row 0 only alone: resent before later rows it would restart the
        stream. Not once the LAST row was sent: a FINAL is not repeated."""
        if self.client.lossless or not self._unanswered or self._last_sent_last:
            return False
        rows = list(self._unanswered)
        for frames in rows[1:] if len(rows) > 1 and self._row_of(rows[0]) == 0 else rows:
            self.client._send(frames)
            self.resends += 1
        return True

    def _waited_out(self, resent: bool) -> None:
        """Nothing arrived within the timeout: resends the unanswered rows (`_recover`) once since the last
        message, or raises TimeoutError. The one rule of iteration and async iteration alike."""
        if resent or not self._recover():
            raise TimeoutError(f"stream {self.id.decode()!r}: no prediction within {self.client.timeout} s")

    def __iter__(self) -> Iterator[Message]:
        deadline = time.monotonic() + self.client.timeout
        resent = False
        while not self._done:
            message = self._poll(min(0.25, max(0.0, deadline - time.monotonic())))
            if message is not None:
                deadline, resent = time.monotonic() + self.client.timeout, False
                yield message
            elif time.monotonic() >= deadline:
                self._waited_out(resent)
                deadline, resent = time.monotonic() + self.client.timeout, True

    async def __aiter__(self) -> AsyncIterator[Message]:
        """The same messages as iteration, with the same recovery, without blocking the event loop (polls,
        sleeping ≤ 5 ms)."""
        deadline = time.monotonic() + self.client.timeout
        resent, pause = False, 0.0005
        while not self._done:
            message = self._poll(0)
            if message is not None:
                deadline, resent, pause = time.monotonic() + self.client.timeout, False, 0.0005
                yield message
            elif time.monotonic() >= deadline:
                self._waited_out(resent)
                deadline, resent = time.monotonic() + self.client.timeout, True
            else:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.005)

    def result(self) -> Message:
        """Waits for the FINAL (or the ERROR that ended the stream), skipping PARTIALs."""
        last: Optional[Message] = None
        for last in self:
            pass
        assert last is not None
        return last



def gather(streams: Iterable[Stream], timeout: float) -> Dict[bytes, Optional[Message]]:
    """Waits for many streams at once (on one or several clients): each stream's last message, its FINAL
    or the ERROR that ended it, by stream id; None for a stream that got neither within `timeout` s.
    PARTIALs are skipped."""
    pending = {stream.id: stream for stream in streams}
    results: Dict[bytes, Optional[Message]] = {}
    clients = {id(s.client): s.client for s in pending.values()}
    poller = zmq.Poller()
    for client in clients.values():
        poller.register(client._receiver, zmq.POLLIN)
    deadline = time.monotonic() + timeout
    while pending:
        for stream_id, stream in list(pending.items()):
            while (message := stream.take()) is not None:
                if stream.done:
                    results[stream_id] = message
                    del pending[stream_id]
                    break
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        ready = dict(poller.poll(int(min(remaining, 0.1) * 1000) + 1))
        for client in clients.values():
            if client._receiver in ready:
                client.receive(0)
    results.update((stream_id, None) for stream_id in pending)
    return results
