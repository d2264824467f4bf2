"""Stable-Baselines3 PPO training throughput on an NBVGym definition served over ZeroMQ: the peer of
`scripts/bench-ppo`, which runs `nbv train --agent ppo --policy-net mlp` with the same arguments.

    python scripts/peers/sb3_ppo_throughput.py --definition envs/procedural-v0.json --steps 2048

Spawns one `nbv serve` ($NBV_SERVE, else the repository's release build) and makes one session per
environment on it. With --vec subproc (default) each environment lives in its own SubprocVecEnv worker,
so the server steps them concurrently on its cores, as our VectorEnvironment does in-process; --vec dummy
steps them one after another from this process. Observations and rewards go through VecNormalize
(CleanRL's NormalizeObservation with clip 10 and NormalizeReward), as in our PPO.

Times `model.learn(total_timesteps=steps)` alone: server start, sessions (`make`) and model
construction are outside; the first `reset` is inside, as in `nbv train`. Prints one JSON object on
stdout (everything measured and every argument); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definition", default="envs/procedural-v0.json", help="definition name or path")
    parser.add_argument("--steps", type=int, default=2048, help="environment steps (total_timesteps)")
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--num-steps", type=int, default=128, help="steps per environment per rollout (n_steps)")
    parser.add_argument("--num-minibatches", type=int, default=4, help="batch_size = num_envs * num_steps / this")
    parser.add_argument("--update-epochs", type=int, default=10, help="n_epochs")
    parser.add_argument("--hidden", type=int, default=64, help="width of both hidden layers of actor and critic")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="annealed linearly to 0, as --arg anneal_lr=true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    parser.add_argument("--vec", choices=["subproc", "dummy"], default="subproc")
    args = parser.parse_args()
    if args.steps < 1 or args.num_envs < 1 or args.num_steps < 1 or args.update_epochs < 1 or args.hidden < 1:
        parser.error("--steps, --num-envs, --num-steps, --update-epochs and --hidden must be >= 1")
    batch = args.num_envs * args.num_steps
    if args.num_minibatches < 1 or batch % args.num_minibatches:
        parser.error(f"--num-minibatches: expected a divisor of num_envs * num_steps = {batch}, got {args.num_minibatches}")
    return args


def make_env(definition: str, endpoint: str):
    import gymnasium as gym
    import nbvgym  # noqa: F401  (registers nbvgym/*)
    return gym.make("nbvgym/NBV-v0", definition=definition, endpoint=endpoint, flatten_observations=True)


def main():
    args = parse_args()
    import torch
    from torch import nn
    from stable_baselines3 import PPO
    import stable_baselines3
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize
    import nbvgym

    torch.set_num_threads(args.threads)
    definition = os.path.abspath(args.definition) if os.path.isfile(args.definition) else args.definition
    server = nbvgym.LocalServer()
    try:
        thunks = [functools.partial(make_env, definition, server.endpoint) for _ in range(args.num_envs)]
        venv = SubprocVecEnv(thunks) if args.vec == "subproc" else DummyVecEnv(thunks)
        venv = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=0.99)
        batch = args.num_envs * args.num_steps
        lr = args.learning_rate
        # CleanRL's defaults (those of our PPOArgs), spelt the SB3 way.
        model = PPO("MultiInputPolicy", venv, n_steps=args.num_steps, batch_size=batch // args.num_minibatches,
                    n_epochs=args.update_epochs, learning_rate=lambda remaining: lr * remaining,
                    gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, normalize_advantage=True,
                    ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, seed=args.seed, device="cpu", verbose=0,
                    policy_kwargs=dict(net_arch=dict(pi=[args.hidden, args.hidden], vf=[args.hidden, args.hidden]),
                                       activation_fn=nn.Tanh, ortho_init=True, log_std_init=0.0))
        parameters = sum(p.numel() for p in model.policy.parameters())
        features = model.policy.features_extractor.features_dim
        print(f"[sb3] PPO MultiInputPolicy ({parameters} parameters, {features} flattened inputs), "
              f"{args.vec} x {args.num_envs} sessions on {server.endpoint}: {args.steps} steps", file=sys.stderr)
        start = time.perf_counter()
        model.learn(total_timesteps=args.steps)
        seconds = time.perf_counter() - start
        steps = int(model.num_timesteps)
        venv.close()
    finally:
        server.stop()
    print(json.dumps({
        "peer": f"stable-baselines3 {stable_baselines3.__version__} PPO (torch {torch.__version__}, {args.vec} vec env)",
        "steps": steps, "seconds": round(seconds, 3), "steps_per_second": round(steps / seconds, 2),
        "parameters": parameters, "flattened_inputs": features, "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "vec": args.vec, "definition": args.definition,
        "num_envs": args.num_envs, "num_steps": args.num_steps, "batch_size": batch // args.num_minibatches,
        "update_epochs": args.update_epochs, "hidden": args.hidden, "learning_rate": args.learning_rate, "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
