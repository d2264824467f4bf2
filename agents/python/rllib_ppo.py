"""Ray RLlib PPO (new API stack, CPU torch) on NBVGym with several env runners, then a checkpoint.

    python agents/python/rllib_ppo.py --iterations 3 --env-runners 2 --out runs/rllib

Each env runner spawns its own `nbv serve` (default) or uses `--endpoint` (one shared server, or
several: repeat the option; needs `--vectorize-mode sync`). `nbvgym.rllib.env_creator` gives Box
observations (RLlib's default encoders) and distinct seeds per runner and member. Needs the Ray venv
(`NBV_VENV=~/.cache/nbvgym/venv-rllib scripts/setup scripts/requirements-rllib.txt`, then
`pip install -e envs/python`) and a built server. Every number that matters is an argument; prints
one JSON line per iteration and the checkpoint's folder at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

import nbvgym.rllib


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definition", default="procedural-v0")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="definition override, JSON value (e.g. --set episode.budget=6)")
    parser.add_argument("--endpoint", action="append", default=[], help="a running server (repeatable); default: one spawned per env runner")
    parser.add_argument("--env-runners", type=int, default=2)
    parser.add_argument("--envs-per-runner", type=int, default=2)
    parser.add_argument("--vectorize-mode", choices=["sync", "vector_entry_point"], default="vector_entry_point",
                        help="vector_entry_point: one NBVVectorEnv session per runner (one message per batched step); "
                             "sync: one NBVEnv per member")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--train-batch-size", type=int, default=256, help="environment steps per iteration")
    parser.add_argument("--minibatch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/rllib-ppo", help="checkpoint folder")
    args = parser.parse_args()
    for name in ("env_runners", "envs_per_runner", "iterations", "train_batch_size", "minibatch_size", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected at least 1, got {getattr(args, name)}")
    return args


def overrides_from(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def main() -> None:
    args = parse_args()
    # The env runners import nbvgym themselves (the creator's module); the driver only needs the spaces.
    ray.init(num_cpus=max(2, args.env_runners + 1), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {k: os.environ[k] for k in ("NBV_SERVE", "NBV_ENVS") if k in os.environ}})
    register_env("nbv", nbvgym.rllib.env_creator)
    env_config = {"definition": args.definition, "overrides": overrides_from(args.set)}
    if args.endpoint:
        env_config["endpoints"] = args.endpoint
    config = (
        PPOConfig()
        .environment("nbv", env_config=env_config)
        .env_runners(num_env_runners=args.env_runners, num_envs_per_env_runner=args.envs_per_runner,
                     gym_env_vectorize_mode=args.vectorize_mode, num_cpus_per_env_runner=0)
        .callbacks(on_environment_created=nbvgym.rllib.on_environment_created)
        .training(train_batch_size_per_learner=args.train_batch_size, minibatch_size=args.minibatch_size,
                  num_epochs=args.epochs, lr=args.learning_rate)
        .debugging(seed=args.seed)
    )
    algo = config.build_algo()
    try:
        for iteration in range(1, args.iterations + 1):
            start = time.monotonic()
            result = algo.train()
            runners = result.get("env_runners", {})
            print(json.dumps({
                "iteration": iteration,
                "env_steps": int(result.get("num_env_steps_sampled_lifetime", runners.get("num_env_steps_sampled_lifetime", 0))),
                "episodes": int(runners.get("num_episodes_lifetime", 0)),
                "episode_return_mean": runners.get("episode_return_mean"),
                "seconds": round(time.monotonic() - start, 2),
            }), flush=True)
        path = algo.save_to_path(os.path.abspath(args.out))
        print(f"checkpoint {path}", flush=True)
    finally:
        algo.stop()
        ray.shutdown()


if __name__ == "__main__":
    main()
