"""A ZeroMQ client of `nbv serve` with the Lazy Pirate pattern (zguide, chapter 4).

The socket is a DEALER (not REQ): it carries no send/receive lockstep, so after a timeout it can be
closed, reopened and the *same* request (same ``id``) sent again. The server answers a repeated id from
its per-session reply cache, so a retried ``step`` never steps twice, and a retried ``make`` (recognised
by this client's nonce plus the id) returns the same session. Replies whose id is not the one awaited
(late answers to an abandoned attempt) are dropped.

Sessions belong to the identity that made them: with CURVE the client's key, otherwise the socket's
routing identity. This client draws a random routing identity, keeps it to itself and reuses it on every
reconnect, so that its sessions survive a retry and no other client can use them (a forked child draws
its own).
"""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import zmq

from . import protocol
from .errors import ServerUnavailableError, server_error


@dataclass(frozen=True)
class CurveOptions:
    """CURVE encryption for a client: its own key pair and the server's public key.

    Each path names a file with a 40-character Z85 key, or a zmq certificate
    (``public-key = "..."`` / ``secret-key = "..."``, as ``zmq.auth.create_certificates`` writes).
    ``secret_key_file`` may be a ``.key_secret`` certificate holding both keys; then
    ``public_key_file`` may be omitted.
    """

    secret_key_file: str
    server_public_key_file: str
    public_key_file: Optional[str] = None

    def keys(self) -> Tuple[bytes, bytes, bytes]:
        """(client public, client secret, server public) as Z85 bytes."""
        secret = read_key(self.secret_key_file, "secret-key")
        public = read_key(self.public_key_file, "public-key") if self.public_key_file else zmq.curve_public(secret)
        return public, secret, read_key(self.server_public_key_file, "public-key")


def connection_refused(endpoint: str, timeout: float = 2.0) -> bool:
    """Whether a ``tcp://HOST:PORT`` endpoint actively refuses a TCP connection (nothing listens there).

    ZeroMQ reconnects silently to a refused endpoint, so without this check a wrong port would only
    show after every attempt's timeout. Unreachable or slow hosts, and non-TCP endpoints, count as not
    refused: their requests keep the normal timeout and retries."""
    if not endpoint.startswith("tcp://"):
        return False
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or host in ("", "*"):
        return False
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def read_key(path: str, field: str) -> bytes:
    """The Z85 key named ``field`` in a certificate, or the first bare 40-character line of a key file."""
    bare = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith(field) and "=" in line:
                return line.split("=", 1)[1].strip().strip('"').encode("ascii")
            if len(line) == 40 and bare is None and not line.startswith("#"):
                bare = line.encode("ascii")
    if bare is None:
        raise ValueError(f"{path}: expected a 40-character Z85 key or a certificate with {field} = \"...\"")
    return bare


class Client:
    """One connection to a server: request/reply with timeouts, reconnect and retry. Not thread-safe
    (like the zmq socket it owns): one client per thread; a forked child reconnects by itself.

    Args:
        endpoint: the server's ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:5555``.
        timeout: seconds to wait for each attempt's reply.
        retries: attempts per request before `ServerUnavailableError`.
        curve: CURVE keys, when the server runs with ``--curve-secret-key``.
    """

    def __init__(self, endpoint: str, timeout: float = 30.0, retries: int = 3, curve: Optional[CurveOptions] = None):
        if retries < 1:
            raise ValueError("retries must be at least 1")
        self.endpoint, self.timeout, self.retries, self.curve = endpoint, float(timeout), int(retries), curve
        self.nonce = uuid.uuid4().hex  # tells our make retries apart from other clients' ids
        self._routing_id = b"nbv-" + uuid.uuid4().hex.encode("ascii")  # owns our sessions; never sent elsewhere
        self._ids = itertools.count(1)
        self._context = zmq.Context.instance()
        self._socket: Optional[zmq.Socket] = None
        self._pid = os.getpid()
        self._answered = False  # whether any reply came: until then each request first checks for a refusal
        self._connect()

    def _connect(self) -> None:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.ROUTING_ID, self._routing_id)
        if self.curve is not None:
            public, secret, server = self.curve.keys()
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = public, secret, server
        socket.connect(self.endpoint)
        self._socket = socket

    def _reconnect(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
        self._connect()

    def close(self) -> None:
        """Closes the socket; harmless to call again."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    @property
    def closed(self) -> bool:
        return self._socket is None

    def request(self, op: str, fields: Optional[Mapping[str, Any]] = None,
                tensors: Optional[Mapping[str, np.ndarray]] = None,
                timeout: Optional[float] = None, retries: Optional[int] = None) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """Sends one request and returns the reply's header and tensors.

        Raises `ServerError` (or its `InvalidRequestError`) for an error reply and
        `ServerUnavailableError` when no attempt gets a reply, at once (within seconds) when the endpoint
        refuses connections before the first attempt or after a timed-out one.
        """
        if self._socket is None:
            raise ServerUnavailableError(f"client of {self.endpoint} is closed")
        if os.getpid() != self._pid:  # a forked child must not share the parent's socket
            self._pid = os.getpid()
            self._routing_id = b"nbv-" + uuid.uuid4().hex.encode("ascii")  # the parent's sessions stay the parent's
            self._reconnect()
        request_id = f"{self.nonce[:8]}-{next(self._ids)}"
        header = {"v": protocol.PROTOCOL_VERSION, "id": request_id, "op": op}
        if op == "make":
            header["client"] = self.nonce
        header.update(fields or {})
        frames = protocol.encode(header, tensors)
        timeout_ms = int(1000 * (self.timeout if timeout is None else timeout))
        attempts = self.retries if retries is None else retries
        for attempt in range(attempts):
            if attempt > 0 or not self._answered:
                if connection_refused(self.endpoint):
                    raise ServerUnavailableError(
                        f"the NBVGym server at {self.endpoint} refused the connection ('{op}'): nothing listens on "
                        "that port; is `nbv serve` running there with this --bind?")
            self._socket.send_multipart(frames, copy=False)
            while self._socket.poll(timeout_ms, zmq.POLLIN):
                reply, reply_tensors = protocol.decode(self._socket.recv_multipart())
                if reply.get("id") != request_id:
                    continue  # a late reply to an abandoned attempt
                self._answered = True
                if not reply.get("ok", False):
                    raise server_error(reply.get("error") or {}, self.endpoint)
                return reply, reply_tensors
            self._reconnect()  # Lazy Pirate: a fresh socket, then the same request again
        raise ServerUnavailableError(
            f"no reply from the NBVGym server at {self.endpoint} to '{op}' after {attempts} tries of "
            f"{timeout_ms / 1000:g} s; is `nbv serve` running there (and, with CURVE, is this client's key allowed)?")
