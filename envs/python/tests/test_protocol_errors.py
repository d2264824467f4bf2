"""Bad inputs get their documented error (docs/PROTOCOL.md) while another session goes on working."""

import uuid

import numpy as np
import pytest

import nbvgym
from nbvgym import protocol

from conftest import action, json_frame


@pytest.fixture
def bystander(server):
    """A session that keeps stepping between the bad requests."""
    env = nbvgym.NBVEnv(endpoint=server.endpoint)
    env.reset(seed=3)
    yield env
    env.close()


def still_works(env):
    _, _, terminated, truncated, _ = env.step(np.zeros(3, dtype=np.float32))
    if terminated or truncated:
        env.reset()


def session_of(raw, seed=None):
    header, _ = raw.call({"op": "make", "client": uuid.uuid4().hex})
    assert header["ok"], header
    if seed is not None:
        assert raw.call({"op": "reset", "session": header["session"], "seed": seed})[0]["ok"]
    return header["session"]


def error_of(reply):
    header, _ = reply
    assert header["ok"] is False, header
    return header["error"]["code"], header["error"]["field"]


def test_malformed_and_unknown(raw, bystander):
    cases = [
        ([b'{"op": "step",'], "bad_json"),
        ([b"\xff\xfe"], "bad_json"),
        ([b"[1, 2]"], "bad_json"),
        ([json_frame({"v": 1, "id": 1, "op": "teleport"})], "unknown_op"),
        ([json_frame({"v": 1, "id": 1})], "bad_header"),
        ([json_frame({"v": 99, "id": 1, "op": "ping"})], "unsupported_version"),
        ([json_frame({"v": 1, "op": "ping"})], "bad_header"),
    ]
    for frames, code in cases:
        assert error_of(protocol.decode(raw.frames(frames)))[0] == code, frames
        still_works(bystander)


def test_bad_tensors_and_actions(raw, bystander):
    session = session_of(raw, seed=1)
    cases = [
        ({"action": np.zeros(3, dtype=np.float64)}, ("bad_tensor", "action.dtype")),
        ({"action": np.zeros(4, dtype=np.float32)}, ("bad_tensor", "action.shape")),
        (action(0.0, float("nan"), 0.0), ("bad_action", "action[1]")),
        (action(0.0, 0.0, 2.0), ("bad_action", "action[2]")),
        (action(float("inf"), 0.0, 0.0), ("bad_action", "action[0]")),
        ({}, ("bad_tensor", "action")),
    ]
    for tensors, expected in cases:
        assert error_of(raw.call({"op": "step", "session": session}, tensors)) == expected
        still_works(bystander)
    # The session itself is unchanged by all of that and steps fine.
    assert raw.call({"op": "step", "session": session}, action(0.1, 0.2, 0.3))[0]["ok"]


def test_truncated_multipart_and_oversized_frames(raw, bystander, server):
    session = session_of(raw, seed=1)
    frames = protocol.encode({"v": 1, "id": "t1", "op": "step", "session": session}, action(0, 0, 0))
    assert error_of(protocol.decode(raw.frames(frames[:1])))[0] == "bad_message"
    assert error_of(protocol.decode(raw.frames(frames + [b"extra"])))[0] == "bad_message"
    limits = raw.call({"op": "handshake"})[0]["limits"]
    big = np.zeros(limits["max_frame_bytes"] + 1, dtype=np.uint8)
    assert error_of(raw.call({"op": "step", "session": session}, {"action": big}))[0] == "frame_too_large"
    assert error_of(protocol.decode(raw.frames([b"{}"] * (limits["max_frames"] + 1))))[0] == "too_many_frames"
    still_works(bystander)


def test_sessions_step_before_reset_unknown_and_closed(raw, bystander):
    session = session_of(raw)
    assert error_of(raw.call({"op": "step", "session": session}, action(0, 0, 0))) == ("reset_required", "op")
    assert error_of(raw.call({"op": "reset", "session": "s-no-such-session"}))[0] == "unknown_session"
    assert raw.call({"op": "close", "session": session})[0]["ok"]
    header, _ = raw.call({"op": "reset", "session": session})
    assert header["error"]["code"] == "session_closed" and header["error"]["fatal"] is True
    still_works(bystander)


def test_client_raises_structured_errors(server):
    env = nbvgym.NBVEnv(endpoint=server.endpoint)
    try:
        env.reset(seed=0)
        with pytest.raises(nbvgym.InvalidRequestError) as error:
            env.step(np.array([np.nan, 0, 0], dtype=np.float32))
        assert error.value.code == "bad_action" and error.value.field == "action[0]"
        with pytest.raises(nbvgym.InvalidRequestError):
            env.reset(options={"no_such_option": 1})
        env.step(np.zeros(3, dtype=np.float32))  # unchanged and still usable
    finally:
        env.close()
    with pytest.raises(nbvgym.ServerError) as error:
        nbvgym.NBVEnv(endpoint=server.endpoint, definition="no-such-definition-v0")
    assert error.value.code == "make_failed"
