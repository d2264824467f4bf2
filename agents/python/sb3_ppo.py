"""Stable-Baselines3 PPO (CPU torch) against a spawned `nbv serve`, then its P10 evaluation.

    python agents/python/sb3_ppo.py --timesteps 4096 --episodes 10

Needs `pip install -e envs/python stable-baselines3 torch` (CPU wheel) and a built server
(`swift build -c release --product nbv`, or NBV_SERVE). Every number that matters is an argument.
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym
import numpy as np

import nbvgym  # noqa: F401  (registers nbvgym/*)
from p10 import evaluate_p10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="nbvgym/NBV-v0")
    parser.add_argument("--endpoint", default=None, help="a running server; default: spawn one")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="definition override, JSON value (e.g. --set episode.budget=10)")
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--n-steps", type=int, default=256, help="rollout length per update")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=10, help="P10 evaluation episodes")
    return parser.parse_args()


def overrides_from(pairs):
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def main():
    args = parse_args()
    from stable_baselines3 import PPO

    # Registered ids give 1-D observation entries, what SB3's MultiInputPolicy wants.
    env = gym.make(args.env_id, endpoint=args.endpoint, overrides=overrides_from(args.set))
    try:
        # Rollout + optimisation: PPO's own loop, logged by SB3 every update.
        model = PPO("MultiInputPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size,
                    learning_rate=args.learning_rate, seed=args.seed, device="cpu", verbose=1)
        model.learn(total_timesteps=args.timesteps)
        # Evaluation: the deterministic policy under protocol P10.
        evaluate_p10(env, lambda obs: model.predict(obs, deterministic=True)[0].astype(np.float32), episodes=args.episodes)
    finally:
        env.close()


if __name__ == "__main__":
    main()
