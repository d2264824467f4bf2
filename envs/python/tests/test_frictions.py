"""What a user runs into first: shape errors, a wrong endpoint, a quiet close, the vector's autoreset
mask, and the same episodes from `NBVVectorEnv` and gymnasium's `SyncVectorEnv`."""

import socket
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest

import nbvgym

SHORT = {"episode.budget": 3}  # 2 steps per episode: autoresets come quickly


@pytest.mark.parametrize("action", [np.zeros(4), np.zeros((2, 3)), [0.1, 0.2]])
def test_wrongly_shaped_action_names_the_action_and_the_expected_shape(server, action):
    env = nbvgym.NBVEnv(endpoint=server.endpoint)
    try:
        env.reset(seed=1)
        with pytest.raises(nbvgym.InvalidRequestError, match=r"action.*expected shape \(3,\).*got shape") as caught:
            env.step(action)
        assert caught.value.field == "action"
        env.step(np.zeros(3))  # the episode is still running: nothing was sent
    finally:
        env.close()


def test_wrongly_shaped_vector_actions_name_the_expected_shape(server):
    envs = nbvgym.NBVVectorEnv(num_envs=2, endpoint=server.endpoint)
    try:
        envs.reset(seed=1)
        with pytest.raises(nbvgym.InvalidRequestError, match=r"actions.*expected shape \(2, 3\).*got shape \(3,\)"):
            envs.step(np.zeros(3))
    finally:
        envs.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_endpoint_fails_within_seconds_not_after_the_timeout():
    start = time.monotonic()
    with pytest.raises(nbvgym.ServerUnavailableError, match="refused"):
        nbvgym.NBVEnv(endpoint=f"tcp://127.0.0.1:{free_port()}", timeout=60, retries=3)
    assert time.monotonic() - start < 5


def test_a_silent_endpoint_still_gets_the_full_timeout():
    # A listening socket that never answers (a slow server): not refused, so the timeout applies.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = nbvgym.Client(f"tcp://127.0.0.1:{listener.getsockname()[1]}", timeout=0.5, retries=2)
        start = time.monotonic()
        with pytest.raises(nbvgym.ServerUnavailableError, match="after 2 tries of 0.5 s"):
            client.request("handshake")
        assert time.monotonic() - start >= 1.0
        client.close()


@pytest.mark.parametrize("verbose", [False, True])
def test_spawned_server_stop_message_only_in_verbose_mode(serve_command, verbose):
    script = textwrap.dedent(f"""
        import nbvgym
        env = nbvgym.NBVEnv(verbose={verbose})
        env.reset(seed=0)
        env.close()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ("nbv serve: stopped" in result.stderr) == verbose, result.stderr


def test_vector_info_carries_the_autoreset_mask(server):
    envs = nbvgym.NBVVectorEnv(num_envs=2, endpoint=server.endpoint, overrides=SHORT)
    try:
        envs.reset(seed=3)
        masks, ended = [], []
        for _ in range(6):
            _, _, terminated, truncated, info = envs.step(np.zeros((2, 3), dtype=np.float32))
            masks.append(info["autoreset"].copy())
            assert info["_autoreset"].all() and info["autoreset"].dtype == np.bool_
            ended.append(terminated | truncated)
        # A member autoresets exactly on the step after its episode ended.
        np.testing.assert_array_equal(np.array(masks[1:]), np.array(ended[:-1]))
        assert np.array(masks).any()
    finally:
        envs.close()


def rollout(envs, seed, steps=7):
    """Observations, rewards and ends of a vector over ``steps`` steps (autoresets included)."""
    obs, _ = envs.reset(seed=seed)
    trace = [{k: v.copy() for k, v in obs.items()}]
    actions = np.random.default_rng(5).uniform(-1, 1, (steps,) + envs.action_space.shape).astype(np.float32)
    for a in actions:
        obs, rewards, terminated, truncated, _ = envs.step(a)
        trace.append(({k: v.copy() for k, v in obs.items()}, rewards.copy(), terminated.copy(), truncated.copy()))
    return trace


def assert_same_trace(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, dict):
            x, y = (x,), (y,)
        for u, v in zip(x, y):
            if isinstance(u, dict):
                assert u.keys() == v.keys()
                for key in u:
                    np.testing.assert_array_equal(u[key], v[key], err_msg=key)
            else:
                np.testing.assert_array_equal(u, v)


def test_vector_env_and_sync_vector_env_give_the_same_episodes_across_autoresets(server):
    vector = nbvgym.NBVVectorEnv(num_envs=2, endpoint=server.endpoint, overrides=SHORT)
    sync = gym.vector.SyncVectorEnv([lambda: nbvgym.NBVEnv(endpoint=server.endpoint, overrides=SHORT) for _ in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    try:
        first, second = rollout(vector, 42), rollout(sync, 42)
        assert_same_trace(first, second)
        # Several episodes per member happened (the comparison covers autoresets) ...
        assert sum(int(t.sum() + tr.sum()) for _, _, t, tr in first[1:]) >= 4
        # ... and an unseeded reset continues each member's stream in both.
        assert_same_trace(rollout(vector, None, 3), rollout(sync, None, 3))
    finally:
        vector.close()
        sync.close()


def test_vector_rejects_max_episode_steps_and_says_what_to_use(server):
    with pytest.raises(ValueError, match=r"max_episode_steps=5.*episode\.budget"):
        gym.make_vec("nbvgym/NBV-v0", num_envs=2, vectorization_mode="vector_entry_point",
                     endpoint=server.endpoint, max_episode_steps=5)
