"""A small PyTorch policy trained the differentiable supervised way from the action gradient in info.

With the definition override `action_gradient: true`, every step's info holds
g = d(CD_after)/d(action): how the Chamfer distance after the view changes with the chosen camera
position, through the reconstruction backbone (the rendered view detached). Backpropagating g through
the policy, i.e. minimising the surrogate sum_t <a_t, stop_grad(g_t)>, descends CD_after directly:
no value function, no returns.

    python agents/python/torch_supervised.py --episodes 200 --eval-episodes 10
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import nbvgym  # noqa: F401
from p10 import evaluate_p10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="nbvgym/NBV-v0")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--gradient-override", default="action_gradient",
                        help="definition key that turns the action gradient on (set to true)")
    parser.add_argument("--gradient-key", default="action_gradient", help="info key of d(CD_after)/d(action)")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--exploration-std", type=float, default=0.1, help="Gaussian noise on actions while training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=10)
    return parser.parse_args()


class Policy(nn.Module):
    """a = tanh(MLP(concat(flattened observation entries))): [batch, obs_dim] -> [batch, 3] in (-1, 1)."""

    def __init__(self, observation_space: gym.spaces.Dict, hidden: int):
        super().__init__()
        self.keys = sorted(observation_space.spaces)
        width = sum(int(np.prod(observation_space[k].shape)) for k in self.keys)
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 3))

    def forward(self, obs: dict) -> torch.Tensor:
        x = torch.cat([torch.as_tensor(obs[k], dtype=torch.float32).reshape(1, -1) for k in self.keys], dim=1)
        return torch.tanh(self.net(x))[0]


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    env = gym.make(args.env_id, endpoint=args.endpoint, overrides={args.gradient_override: True})
    policy = Policy(env.observation_space, args.hidden)
    optimiser = torch.optim.Adam(policy.parameters(), lr=args.learning_rate)
    rng = np.random.default_rng(args.seed)
    try:
        for episode in range(args.episodes):
            # Rollout: act, keep the differentiable actions and the environment's gradients.
            obs, _ = env.reset(seed=args.seed + episode, options={"initial_views": 1})
            surrogate, done, total = torch.zeros(()), False, 0.0
            while not done:
                action = policy(obs)
                noisy = (action.detach().numpy() + rng.normal(0, args.exploration_std, 3)).clip(-1, 1).astype(np.float32)
                obs, reward, terminated, truncated, info = env.step(noisy)
                total += reward
                done = terminated or truncated
                if args.gradient_key not in info:
                    raise KeyError(f"info has no '{args.gradient_key}': is '{args.gradient_override}: true' a definition key?")
                gradient = torch.as_tensor(info[args.gradient_key], dtype=torch.float32)
                # d(surrogate)/d(action) = gradient: descending it lowers CD_after.
                surrogate = surrogate + (action * gradient).sum()
            # Optimise: one step per episode on the summed surrogate.
            optimiser.zero_grad()
            surrogate.backward()
            optimiser.step()
            if episode % 10 == 0:
                print(f"episode {episode:4d}  return {total:+.4f}")
        with torch.no_grad():
            evaluate_p10(env, lambda o: policy(o).numpy().astype(np.float32), episodes=args.eval_episodes)
    finally:
        env.close()


if __name__ == "__main__":
    main()
