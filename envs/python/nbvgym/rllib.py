"""Ray RLlib (new API stack) support: an environment creator that works in every env runner process.

Use it as the registered creator of RLlib's ``config.environment``::

    from ray.tune.registry import register_env
    import nbvgym.rllib
    register_env("nbv", nbvgym.rllib.env_creator)
    config = (PPOConfig().environment("nbv", env_config={"overrides": {"episode.budget": 6}})
              .env_runners(num_env_runners=2, num_envs_per_env_runner=2)
              .callbacks(on_environment_created=nbvgym.rllib.on_environment_created))

What it adds to `NBVEnv` / `NBVVectorEnv` for RLlib:

- **Box observations.** RLlib's default encoders take a 1-D ``Box``, not a ``Dict``: every observation
  entry is flattened and concatenated in key order (``gymnasium.spaces.flatten``), so no connector is
  needed. ``env_config={"box_observations": False}`` keeps the Dict (then add RLlib's
  ``FlattenObservations`` env-to-module connector).
- **Distinct seeds per worker and member.** RLlib seeds the initial reset of env runner ``w`` with
  ``config.seed + w`` and gymnasium gives member ``i`` that seed ``+ i``, so (w, i + 1) and (w + 1, i)
  would share episodes. Here member ``i`` of the runner seeded ``s`` gets `member_seed` (s, i), a
  hash, in both ``gym_env_vectorize_mode`` values ("sync": one `NBVEnv` per member; "vector_entry_point":
  one `NBVVectorEnv` of ``num_envs_per_env_runner`` members, one message per batched step).
- **Endpoints per worker.** ``env_config={"endpoints": [...]}`` gives runner ``w``'s member ``i``
  ``endpoints[(i * (num_env_runners + 1) + w) % len(endpoints)]`` (one endpoint: every member shares it);
  without endpoints each env runner spawns its own local server. RLlib passes the worker index to a
  vector entry point only through `on_environment_created` (after the environment exists), so
  several endpoints need ``gym_env_vectorize_mode="sync"``; one endpoint or none works in both modes.

Every other ``env_config`` key is passed to `NBVEnv` / `NBVVectorEnv` (``definition``, ``overrides``,
``timeout``, ...).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorWrapper

from .env import MAX_WIRE_SEED, NBVEnv
from .vector import NBVVectorEnv

#: Keys of ``env_config`` read here (the rest go to the environment).
CREATOR_KEYS = ("endpoints", "box_observations", "num_envs")

_members_lock = threading.Lock()
_members_made: Dict[int, "itertools.count[int]"] = {}


def member_seed(runner_seed: int, member: int) -> int:
    """The episode seed of vector member ``member`` of an env runner whose reset got ``runner_seed``:
    a hash of both (numpy's SeedSequence), so distinct pairs give distinct seeds."""
    state = np.random.SeedSequence([int(runner_seed) % (MAX_WIRE_SEED + 1), int(member)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) % (MAX_WIRE_SEED + 1)


class _MemberSeeds(gym.Wrapper):
    """Member ``member`` of a gymnasium ``SyncVectorEnv``: its reset gets ``seed = s + member`` and maps
    it back to `member_seed` (s, member)."""

    def __init__(self, env: gym.Env, member: int):
        super().__init__(env)
        self.member = member

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None) -> Tuple[Any, Dict[str, Any]]:
        if seed is not None:
            seed = member_seed(int(seed) - self.member, self.member)
        return self.env.reset(seed=seed, options=options)


class _VectorMemberSeeds(VectorWrapper):
    """An `NBVVectorEnv` whose int seed ``s`` gives member i `member_seed` (s, i) instead of s + i."""

    def reset(self, *, seed: Any = None, options: Optional[Dict[str, Any]] = None) -> Tuple[Any, Dict[str, Any]]:
        if isinstance(seed, (int, np.integer)):
            seed = [member_seed(int(seed), i) for i in range(self.num_envs)]
        return self.env.reset(seed=seed, options=options)


def _endpoint(endpoints: Optional[List[str]], index: Optional[int]) -> Optional[str]:
    if not endpoints:
        return None
    if len(endpoints) == 1:
        return endpoints[0]
    if index is None:
        raise ValueError(f"env_config['endpoints']: {len(endpoints)} endpoints need the env runner's worker index, "
                         "which RLlib passes to a vector entry point only after creating it; use one endpoint, "
                         "or gym_env_vectorize_mode='sync'")
    return endpoints[index % len(endpoints)]


def env_creator(config: Mapping[str, Any]) -> Any:
    """RLlib's environment creator: an `NBVEnv` (``gym_env_vectorize_mode="sync"``, called once per
    member) or, when ``config`` has ``num_envs`` (the vector entry point), an `NBVVectorEnv`, each with
    Box observations and distinct seeds and endpoints per worker and member (module docstring)."""
    options = {k: v for k, v in dict(config).items() if k not in CREATOR_KEYS}
    endpoints = config.get("endpoints")
    if endpoints is not None and (isinstance(endpoints, str) or not all(isinstance(e, str) for e in endpoints)):
        raise ValueError(f"env_config['endpoints']: expected a list of endpoint strings, got {endpoints!r}")
    box = bool(config.get("box_observations", True))
    worker: Optional[int] = getattr(config, "worker_index", None)
    options.setdefault("flatten_observations", True)
    if "num_envs" in config:
        num_envs = int(config["num_envs"])
        endpoint = _endpoint(endpoints, None if worker is None else worker * num_envs)
        vector: Any = _VectorMemberSeeds(NBVVectorEnv(num_envs=num_envs, endpoint=endpoint, **options))
        return gym.wrappers.vector.FlattenObservation(vector) if box else vector
    with _members_lock:  # sync mode calls the creator once per member with the same context
        member = next(_members_made.setdefault(worker or 0, itertools.count()))
    member += int(getattr(config, "vector_index", 0))
    index = None if worker is None else member * (int(getattr(config, "num_workers", 0)) + 1) + worker
    env: gym.Env = _MemberSeeds(NBVEnv(endpoint=_endpoint(endpoints, index), **options), member)
    return gym.wrappers.FlattenObservation(env) if box else env


def on_environment_created(*, env_runner: Any = None, env: Any = None, **_: Any) -> None:
    """RLlib callback (``config.callbacks(on_environment_created=...)``): resets the per-runner member
    count when an env runner re-creates its environments, so a re-created sync vector numbers its
    members from 0 again."""
    worker = getattr(env_runner, "worker_index", 0) or 0
    with _members_lock:
        _members_made.pop(worker, None)
