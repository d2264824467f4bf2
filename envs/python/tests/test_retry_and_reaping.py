"""Lazy Pirate retries never step twice, a gone server is reported clearly, and a killed client's
session is reaped."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

import nbvgym
from nbvgym import protocol

from conftest import RawClient, action, start_server


def test_retried_request_is_answered_from_the_cache(raw):
    header, _ = raw.call({"op": "make", "client": uuid.uuid4().hex})
    session = header["session"]
    raw.call({"op": "reset", "session": session, "seed": 21})
    step = protocol.encode({"v": 1, "id": "same-id", "op": "step", "session": session}, action(0.2, -0.4, 0.6))
    first, retry = raw.frames(step), raw.frames(step)
    assert first == retry
    after = protocol.decode(raw.frames(protocol.encode({"v": 1, "id": "next", "op": "step", "session": session},
                                                       action(0.2, -0.4, 0.6))))
    # Replaying the same seed and actions without the retry gives exactly the same third observation:
    # the retry did not step.
    header, _ = raw.call({"op": "make", "client": uuid.uuid4().hex})
    replay = header["session"]
    raw.call({"op": "reset", "session": replay, "seed": 21})
    raw.call({"op": "step", "session": replay}, action(0.2, -0.4, 0.6))
    expected = raw.call({"op": "step", "session": replay}, action(0.2, -0.4, 0.6))
    assert after[0]["ok"] and expected[0]["ok"]
    if not (expected[0]["terminated"] or expected[0]["truncated"]):
        for key in expected[1]:
            np.testing.assert_array_equal(after[1][key], expected[1][key])
        assert after[0]["reward"] == expected[0]["reward"]


def test_retried_make_returns_the_same_session(server):
    client = nbvgym.Client(server.endpoint)
    try:
        frames = protocol.encode({"v": 1, "id": "m1", "op": "make", "client": client.nonce})
        sessions = set()
        for _ in range(2):
            client._socket.send_multipart(frames)
            assert client._socket.poll(10000)
            sessions.add(protocol.decode(client._socket.recv_multipart())[0]["session"])
        assert len(sessions) == 1
    finally:
        client.close()


def test_gone_server_raises_a_clear_error():
    env_start = time.monotonic()
    client = nbvgym.Client("tcp://127.0.0.1:9", timeout=0.3, retries=3)
    with pytest.raises(nbvgym.ServerUnavailableError, match="tcp://127.0.0.1:9"):
        client.request("handshake")
    assert time.monotonic() - env_start < 5
    client.close()


def test_killed_client_session_is_reaped(serve_command):
    server = start_server(serve_command, "--idle-timeout", "1")
    try:
        script = textwrap.dedent(f"""
            import sys, time, numpy as np, nbvgym
            env = nbvgym.NBVEnv(endpoint={server.endpoint!r})
            env.reset(seed=1)
            env.step(np.zeros(3, dtype=np.float32))
            print(env.session, env._connection.client._routing_id.decode(), flush=True)
            time.sleep(60)
        """)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        session, identity = child.stdout.readline().split()
        assert session.startswith("s-")
        os.kill(child.pid, signal.SIGKILL)  # mid-episode, no close
        child.wait()
        stranger = RawClient(server.endpoint)
        owner = RawClient(server.endpoint, routing_id=identity.encode())  # the killed client's secret identity
        time.sleep(2.5)
        header, _ = owner.call({"op": "step", "session": session}, action(0, 0, 0))
        assert header["error"]["code"] == "session_closed" and "reaped" in header["error"]["message"]
        header, _ = stranger.call({"op": "step", "session": session}, action(0, 0, 0))
        assert header["error"]["code"] == "unknown_session", "a session is its owner's only"
        assert "sessions" not in stranger.call({"op": "ping"})[0]
        owner.close()
        stranger.close()
    finally:
        server.stop()


def test_spawned_server_stops_on_close():
    try:
        env = nbvgym.NBVEnv()  # spawn=True: no endpoint given
    except FileNotFoundError as error:
        pytest.fail(f"no NBVGym server to spawn: {error}")
    process = env._connection.server.process
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()
    env.close()
    assert process.poll() is not None
