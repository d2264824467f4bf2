"""Stable-Baselines3 PPO with `SubprocVecEnv` over two `nbv serve` processes: worker i connects to
server i % 2 (the endpoint-per-worker-index pattern of docs/SCALING.md, on one machine).

    python agents/python/sb3_subproc.py --workers 4 --timesteps 4096
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import nbvgym
from p10 import evaluate_p10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="nbvgym/NBV-v0")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--n-steps", type=int, default=128, help="rollout length per worker per update")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=10)
    return parser.parse_args()


def make_env(env_id: str, endpoint: str):
    def thunk():
        return gym.make(env_id, endpoint=endpoint)
    return thunk


def main():
    args = parse_args()
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    servers = [nbvgym.LocalServer() for _ in range(args.servers)]
    try:
        endpoints = [s.endpoint for s in servers]
        print("servers:", ", ".join(endpoints))
        venv = SubprocVecEnv([make_env(args.env_id, endpoints[i % len(endpoints)]) for i in range(args.workers)])
        venv.seed(args.seed)  # worker i: seed + i
        model = PPO("MultiInputPolicy", venv, n_steps=args.n_steps, seed=args.seed, device="cpu", verbose=1)
        model.learn(total_timesteps=args.timesteps)
        venv.close()
        eval_env = gym.make(args.env_id, endpoint=endpoints[0])
        evaluate_p10(eval_env, lambda obs: model.predict(obs, deterministic=True)[0].astype(np.float32), episodes=args.episodes)
        eval_env.close()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
