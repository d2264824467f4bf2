"""`NBVVectorEnv`: a vector of NBVGym environments in one server session, reset and stepped with one
message per batch (the server runs the members in parallel on its cores)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .client import CurveOptions
from .env import (MAX_WIRE_SEED, _Connection, action_array, observation_from_tensors, observation_space_from_spec,
                  space_from_spec, wire_seeds_for_reset)


class NBVVectorEnv(VectorEnv):
    """``num_envs`` NBVGym environments behind one session; for
    ``gymnasium.make_vec("nbvgym/NBV-v0", num_envs=8, vectorization_mode="vector_entry_point")``.

    Autoreset is gymnasium's next-step mode: after a member's episode ends, its next ``step`` ignores its
    action and returns the first observation of a new episode with reward 0. Infos follow gymnasium's
    vector convention (``info[key]`` an array over members, ``info["_" + key]`` the mask of members that
    have it); ``info["autoreset"]`` (bool ``[num_envs]``) marks the members whose step was an autoreset.
    Seeding follows `NBVEnv`, so a seeded vector gives the same episodes as gymnasium's ``SyncVectorEnv``
    of `NBVEnv`s seeded alike, across autoresets. Arguments as `NBVEnv`. ``max_episode_steps`` (which
    ``gymnasium.make_vec`` passes on) is rejected: episodes end when the definition's view budget is
    spent; set ``overrides={"episode.budget": N}`` instead.
    """

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, definition: Any = "procedural-v0", overrides: Optional[Mapping[str, Any]] = None,
                 endpoint: Optional[str] = None, spawn: Optional[bool] = None, render_mode: Optional[str] = None,
                 curve: Optional[CurveOptions] = None, timeout: float = 60.0, retries: int = 3,
                 server_args: Sequence[str] = (), flatten_observations: bool = False, verbose: bool = False,
                 max_episode_steps: Optional[int] = None):
        if max_episode_steps is not None:
            raise ValueError(f"max_episode_steps={max_episode_steps}: NBVVectorEnv cannot truncate episodes on the client "
                             "(its members autoreset on the server); the view budget ends them: pass "
                             "overrides={'episode.budget': N} (N views in all, initial views included)")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: expected None or 'rgb_array'")
        if int(num_envs) < 1:
            raise ValueError(f"num_envs: expected at least 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self._connection = _Connection(definition=definition, overrides=overrides, endpoint=endpoint, spawn=spawn,
                                       curve=curve, timeout=timeout, retries=retries, server_args=server_args,
                                       verbose=verbose, num_envs=self.num_envs, vector=True)
        spec = self._connection.spec
        self.single_observation_space = observation_space_from_spec(spec["observation_space"], flatten_observations)
        self.single_action_space = space_from_spec(spec["action_space"])
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._episodes_seeded = False

    def _observation(self, tensors: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return observation_from_tensors(self.single_observation_space, tensors, batch=self.num_envs)

    def _infos(self, infos: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        vector_info: Dict[str, Any] = {}
        for i, info in enumerate(infos):
            vector_info = self._add_info(vector_info, info, i)
        return vector_info

    def reset(self, *, seed: Optional[int | Sequence[Optional[int]]] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        """Resets every member. ``seed``: an int (member i gets seed + i), a list of seeds (None entries
        continue that member's stream), or None: each member continues the random stream of its previous
        episode (the first unseeded reset draws seeds from ``self.np_random``), as `NBVEnv` does."""
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed: expected {self.num_envs} seeds, got {len(seed)}")
            super().reset(seed=None)
            seeds = wire_seeds_for_reset(seed)
        else:
            super().reset(seed=seed)
            seeds = [None] * self.num_envs if seed is None else wire_seeds_for_reset([int(seed) + i for i in range(self.num_envs)])
        if not self._episodes_seeded and None in seeds:  # members without a stream yet get one from np_random
            drawn = self.np_random.integers(0, MAX_WIRE_SEED, size=self.num_envs)
            seeds = [int(d) if s is None else s for s, d in zip(seeds, drawn)]
        fields: Dict[str, Any] = {"seed": seeds}
        if options:
            fields["options"] = dict(options)
        header, tensors = self._connection.request("reset", fields)
        self._episodes_seeded = True
        return self._observation(tensors), self._infos(header["infos"])

    def step(self, actions: Any) -> Tuple[Dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """One view per member. ``actions``: ``[num_envs, 3]`` numbers in [-1, 1] (ignored for members
        that autoreset); a wrong number of elements raises `InvalidRequestError` naming the shape."""
        actions = action_array(actions, self.action_space.shape, "actions")
        header, tensors = self._connection.request("step", tensors={"action": actions})
        infos = self._infos(header["infos"])
        infos["autoreset"] = np.asarray(header["autoreset"], dtype=np.bool_)
        infos["_autoreset"] = np.ones(self.num_envs, dtype=np.bool_)
        return (self._observation(tensors), np.asarray(header["rewards"], dtype=np.float64),
                np.asarray(header["terminated"], dtype=np.bool_), np.asarray(header["truncated"], dtype=np.bool_),
                infos)

    def render(self) -> Optional[Tuple[np.ndarray, ...]]:
        """With ``render_mode="rgb_array"``: every member's last RGB view (None for members without one)."""
        if self.render_mode != "rgb_array":
            return None
        images = []
        for i in range(self.num_envs):
            header, tensors = self._connection.request("render", {"index": i})
            images.append(tensors["rgb"] if header.get("available") else None)
        return tuple(images)

    def close_extras(self, **kwargs: Any) -> None:
        """Closes the session and, if spawned, the server (``close()`` calls it once)."""
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()
