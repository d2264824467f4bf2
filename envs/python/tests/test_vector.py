"""The vector env maps onto the server's batched ops and matches single environments."""

import gymnasium as gym
import numpy as np

import nbvgym


def test_make_vec_with_vector_entry_point(server):
    envs = gym.make_vec("nbvgym/NBV-v0", num_envs=3, vectorization_mode="vector_entry_point", endpoint=server.endpoint)
    try:
        assert isinstance(envs.unwrapped, nbvgym.NBVVectorEnv)
        obs, infos = envs.reset(seed=5)
        assert envs.observation_space.contains(obs)
        actions = envs.action_space.sample()
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert rewards.shape == (3,) and terminated.dtype == np.bool_ and truncated.shape == (3,)
        assert envs.observation_space.contains(obs)
    finally:
        envs.close()
        envs.close()


def test_vector_members_equal_single_envs_seeded_seed_plus_index(server):
    envs = nbvgym.NBVVectorEnv(num_envs=2, endpoint=server.endpoint)
    singles = [nbvgym.NBVEnv(endpoint=server.endpoint) for _ in range(2)]
    try:
        obs, _ = envs.reset(seed=11)
        single_obs = [env.reset(seed=11 + i)[0] for i, env in enumerate(singles)]
        for i in range(2):
            for key in obs:
                np.testing.assert_array_equal(obs[key][i], single_obs[i][key])
        rng = np.random.default_rng(0)
        for _ in range(3):
            actions = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
            obs, rewards, terminated, truncated, _ = envs.step(actions)
            for i, env in enumerate(singles):
                o, r, t, tr, _ = env.step(actions[i])
                assert rewards[i] == r and terminated[i] == t and truncated[i] == tr
                for key in o:
                    np.testing.assert_array_equal(obs[key][i], o[key])
            if terminated.any() or truncated.any():
                break
    finally:
        envs.close()
        for env in singles:
            env.close()
