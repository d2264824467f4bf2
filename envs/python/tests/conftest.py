"""Fixtures: a real `nbv serve` process started with the command in $NBV_SERVE (default
`<repo>/.build/release/nbv serve`, then `nbv serve` on PATH). Tests use the observation keys of the
server's spec, never hard-coded ones, so they run against any environment that keeps the contract."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zmq

from nbvgym.server import LocalServer, server_command


@pytest.fixture(scope="session")
def serve_command():
    try:
        return server_command()
    except FileNotFoundError as error:
        pytest.fail(f"no NBVGym server to test against (build it with `swift build -c release --product nbv` or set NBV_SERVE): {error}")


@pytest.fixture(scope="session")
def nbv():
    """The `nbv` binary: $NBV_BIN, else the repository's release build. Missing is a failure, never a skip."""
    from nbvgym.mapanything.testing import REPO_ROOT
    path = os.environ.get("NBV_BIN") or str(REPO_ROOT / ".build" / "release" / "nbv")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no nbv binary at {path}: build it with `swift build -c release --product nbv` or set NBV_BIN")
    return path


def start_server(serve_command, *args):
    return LocalServer(command=serve_command, args=list(args))


@pytest.fixture(scope="module")
def server(serve_command):
    server = start_server(serve_command, "--idle-timeout", "120")
    yield server
    server.stop()


class RawClient:
    """A bare DEALER socket for protocol-level tests: sends frames, returns (header, tensors)."""

    def __init__(self, endpoint: str, routing_id: bytes = b""):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if routing_id:
            self.socket.setsockopt(zmq.ROUTING_ID, routing_id)
        self.socket.connect(endpoint)
        self.count = 0

    def frames(self, frames, timeout: float = 10.0):
        self.socket.send_multipart(frames)
        assert self.socket.poll(int(timeout * 1000)), "no reply"
        return self.socket.recv_multipart()

    def call(self, header, tensors=None, timeout: float = 10.0):
        from nbvgym import protocol
        self.count += 1
        header = {"v": 1, "id": f"raw-{self.count}", **header}
        return protocol.decode(self.frames(protocol.encode(header, tensors), timeout))

    def close(self):
        self.socket.close(linger=0)


@pytest.fixture
def raw(server):
    client = RawClient(server.endpoint)
    yield client
    client.close()


def action(*values):
    return {"action": np.asarray(values, dtype=np.float32)}


def json_frame(obj) -> bytes:
    return json.dumps(obj).encode()
