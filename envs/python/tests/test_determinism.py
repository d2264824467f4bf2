"""The same seeds give the same results over the wire, run after run."""

import numpy as np

import nbvgym


def rollout(endpoint, seed, steps=12, reset_seed_each_episode=False):
    env = nbvgym.NBVEnv(endpoint=endpoint)
    actions = np.random.default_rng(1234)
    trace = []
    try:
        obs, info = env.reset(seed=seed)
        trace.append(({k: v.tolist() for k, v in obs.items()}, info))
        for _ in range(steps):
            obs, reward, terminated, truncated, info = env.step(actions.uniform(-1, 1, 3).astype(np.float32))
            trace.append(({k: v.tolist() for k, v in obs.items()}, reward, terminated, truncated, info))
            if terminated or truncated:
                obs, info = env.reset()  # seed drawn from env.np_random: still reproducible
                trace.append(({k: v.tolist() for k, v in obs.items()}, info))
    finally:
        env.close()
    return trace


def test_two_runs_with_the_same_seed_are_equal(server):
    assert rollout(server.endpoint, seed=7) == rollout(server.endpoint, seed=7)


def test_different_seeds_differ(server):
    assert rollout(server.endpoint, seed=7, steps=3) != rollout(server.endpoint, seed=8, steps=3)
