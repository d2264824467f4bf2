"""Both environment checkers pass without a single warning."""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

import nbvgym


def test_gymnasium_check_env(server):
    # Through gymnasium.make, so that the checker can also build the other render modes from the spec.
    env = gym.make("nbvgym/NBV-v0", endpoint=server.endpoint, render_mode="rgb_array").unwrapped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gymnasium_check_env(env, skip_render_check=False)
    finally:
        env.close()


def test_stable_baselines3_check_env(server):
    pytest.importorskip("torch", reason="torch is not installed: pip install torch (CPU wheel) to run the SB3 checker")
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker",
                                      reason="stable-baselines3 is not installed: pip install stable-baselines3")
    # The registered id as SB3 users make it: its observation entries are 1-D, as SB3 expects.
    env = gym.make("nbvgym/NBV-v0", endpoint=server.endpoint).unwrapped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sb3_checker.check_env(env, warn=True)
    finally:
        env.close()


def test_shaped_observations_on_request(server):
    env = gym.make("nbvgym/NBV-v0", endpoint=server.endpoint, flatten_observations=False).unwrapped
    flat = gym.make("nbvgym/NBV-v0", endpoint=server.endpoint).unwrapped
    try:
        shaped_obs, _ = env.reset(seed=3)
        flat_obs, _ = flat.reset(seed=3)
        assert shaped_obs["tokens"].ndim == 2 and flat_obs["tokens"].ndim == 1
        for key in shaped_obs:
            assert (shaped_obs[key].reshape(-1) == flat_obs[key]).all()
    finally:
        env.close()
        flat.close()


def test_step_types_and_close_twice(server):
    env = nbvgym.NBVEnv(endpoint=server.endpoint)
    obs, info = env.reset(seed=0)
    assert set(obs) == set(env.observation_space.spaces)
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    assert isinstance(info, dict)
    env.close()
    env.close()
