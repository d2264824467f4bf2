"""Ray RLlib: nbvgym.rllib's creator (no Ray needed) and agents/python/rllib_ppo.py on the new API
stack with 2 env runners (needs Ray: scripts/test runs this file in the Ray venv as well)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import nbvgym.rllib
from nbvgym.rllib import env_creator, member_seed, on_environment_created

ROOT = Path(__file__).resolve().parents[3]
SHORT = {"episode.budget": 4}


class FakeContext(dict):
    """What RLlib passes a creator in sync mode: env_config plus the worker's indices."""

    def __init__(self, config, worker_index, num_workers=2):
        super().__init__(config)
        self.worker_index, self.num_workers, self.vector_index = worker_index, num_workers, 0


class FakeRunner:
    def __init__(self, worker_index):
        self.worker_index = worker_index


def first_observations_sync(endpoint, worker, runner_seed, members=2):
    """Member observations as RLlib's sync mode makes them: the creator once per member, and
    gymnasium's SyncVectorEnv seeding member i with runner_seed + i."""
    on_environment_created(env_runner=FakeRunner(worker))
    envs = [env_creator(FakeContext({"endpoints": [endpoint], "overrides": SHORT}, worker)) for _ in range(members)]
    try:
        return [env.reset(seed=runner_seed + i)[0] for i, env in enumerate(envs)], envs[0].observation_space
    finally:
        for env in envs:
            env.close()


def test_creator_gives_box_observations_and_the_same_member_seeds_in_both_vectorize_modes(server):
    sync_obs, space = first_observations_sync(server.endpoint, worker=1, runner_seed=10)
    assert isinstance(space, gym.spaces.Box) and len(space.shape) == 1  # RLlib's default encoders take it
    vector = env_creator({"endpoints": [server.endpoint], "overrides": SHORT, "num_envs": 2})
    try:
        assert isinstance(vector.single_observation_space, gym.spaces.Box)
        vector_obs, _ = vector.reset(seed=10)
    finally:
        vector.close()
    for i in range(2):
        np.testing.assert_array_equal(vector_obs[i], sync_obs[i])
        assert space.contains(sync_obs[i])


def test_runners_and_members_get_distinct_episodes(server):
    # With RLlib's seeds (runner w resets with seed + w, member i adds i), (w=1, i=1) and (w=2, i=0)
    # would collide; member_seed keeps every pair apart.
    seeds = {member_seed(10 + w, i) for w in range(4) for i in range(4)}
    assert len(seeds) == 16 and all(0 <= s < 2**63 for s in seeds)
    runner1, _ = first_observations_sync(server.endpoint, worker=1, runner_seed=11)
    runner2, _ = first_observations_sync(server.endpoint, worker=2, runner_seed=12)
    assert not np.array_equal(runner1[1], runner2[0])
    assert not np.array_equal(runner1[0], runner1[1])


def test_creator_rejects_a_bad_endpoint_list_and_several_endpoints_without_a_worker_index():
    with pytest.raises(ValueError, match="expected a list of endpoint strings"):
        env_creator({"endpoints": "tcp://127.0.0.1:5555"})
    with pytest.raises(ValueError, match="worker index.*sync"):
        env_creator({"endpoints": ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"], "num_envs": 2})


def test_rllib_ppo_trains_with_two_env_runners_and_saves_a_checkpoint(serve_command, tmp_path):
    pytest.importorskip("ray.rllib", reason="Ray RLlib is not installed here; scripts/test runs this test in its own "
                                            "venv (NBV_VENV=~/.cache/nbvgym/venv-rllib scripts/setup scripts/requirements-rllib.txt)")
    out = tmp_path / "checkpoint"
    start = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "agents" / "python" / "rllib_ppo.py"), "--iterations", "2",
                             "--env-runners", "2", "--envs-per-runner", "2", "--train-batch-size", "128",
                             "--minibatch-size", "64", "--epochs", "1", "--set", "episode.budget=5", "--out", str(out)],
                            capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, NBV_SERVE=" ".join(serve_command)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    lines = [json.loads(l) for l in result.stdout.splitlines() if l.startswith("{")]
    assert [l["iteration"] for l in lines] == [1, 2]
    assert lines[0]["env_steps"] >= 128 and lines[1]["env_steps"] >= lines[0]["env_steps"] + 128
    assert lines[1]["episodes"] > 0 and np.isfinite(lines[1]["episode_return_mean"])
    assert f"checkpoint {out}" in result.stdout
    assert (out / "rllib_checkpoint.json").is_file() and (out / "learner_group").is_dir()
    print(f"rllib_ppo.py: 2 iterations with 2 env runners in {time.monotonic() - start:.0f} s")
