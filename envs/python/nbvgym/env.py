"""`NBVEnv`: one NBVGym environment, stepped in a `nbv serve` process."""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np

from .client import Client, CurveOptions
from .errors import InvalidRequestError, NBVError
from .server import LocalServer

#: Seeds on the wire are integers in [0, 2**63 - 1].
MAX_WIRE_SEED = 2**63 - 1


def space_from_spec(spec: Mapping[str, Any]) -> gym.spaces.Box:
    """A Box from a space of `make`'s reply: ``{dtype, shape, low, high}`` (infinite bounds as "inf")."""
    dtype = np.dtype(spec["dtype"])
    return gym.spaces.Box(low=float(spec["low"]), high=float(spec["high"]), shape=tuple(spec["shape"]), dtype=dtype)


def observation_space_from_spec(spec: Mapping[str, Any], flatten: bool) -> gym.spaces.Dict:
    """The Dict observation space of a `make` reply; ``flatten`` makes every entry 1-D (for
    Stable-Baselines3, whose checker and MultiInputPolicy want vectors or uint8 images)."""
    spaces = {}
    for key, entry in sorted(spec.items()):
        box = space_from_spec(entry)
        if flatten and len(box.shape) != 1:
            box = gym.spaces.Box(low=box.low.reshape(-1), high=box.high.reshape(-1), dtype=box.dtype)
        spaces[key] = box
    return gym.spaces.Dict(spaces)


def observation_from_tensors(space: gym.spaces.Dict, tensors: Mapping[str, np.ndarray], batch: int = 0) -> Dict[str, np.ndarray]:
    """The observation dict of a reply's ``obs/<key>`` tensors, reshaped to ``space`` (with a leading
    ``batch`` axis when batch > 0)."""
    leading = (batch,) if batch else ()
    return {key: tensors["obs/" + key].reshape(leading + box.shape) for key, box in space.spaces.items()}


def wire_seeds_for_reset(seeds: Sequence[Optional[int]]) -> List[Optional[int]]:
    """Seeds as the wire takes them: integers folded into [0, 2**63 - 1], None kept."""
    return [None if s is None else int(s) % (MAX_WIRE_SEED + 1) for s in seeds]


def action_array(action: Any, shape: Tuple[int, ...], name: str) -> np.ndarray:
    """``action`` as a float32 array of ``shape``; any array with the same number of elements is
    reshaped, anything else raises `InvalidRequestError` naming ``name`` and the expected shape."""
    try:
        array = np.asarray(action, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidRequestError("bad_action", name, f"{name}: expected numbers of shape {shape}; got {action!r} ({error})", False) from None
    if array.size != int(np.prod(shape)):
        raise InvalidRequestError("bad_action", name, f"{name}: expected shape {shape} ({int(np.prod(shape))} numbers in [-1, 1]); "
                                  f"got shape {array.shape}", False)
    return array.reshape(shape)


class _Connection:
    """The server (spawned or not), the client and the session shared by `NBVEnv` and `NBVVectorEnv`."""

    def __init__(self, *, definition: Any, overrides: Optional[Mapping[str, Any]], endpoint: Optional[str],
                 spawn: Optional[bool], curve: Optional[CurveOptions], timeout: float, retries: int,
                 server_args: Sequence[str], verbose: bool, num_envs: int, vector: bool):
        if spawn is None:
            spawn = endpoint is None
        if spawn and endpoint is not None:
            raise ValueError("pass either endpoint= (a running server) or spawn=True, not both")
        if not spawn and endpoint is None:
            raise ValueError("spawn=False needs endpoint= (the address of a running `nbv serve`)")
        if curve is not None and not isinstance(curve, CurveOptions):
            curve = CurveOptions(**curve)
        self.server = LocalServer(args=server_args, verbose=verbose) if spawn else None
        self.session: Optional[str] = None
        try:
            self.client = Client(self.server.endpoint if self.server else endpoint, timeout=timeout, retries=retries, curve=curve)
            self.handshake, _ = self.client.request("handshake")
            fields: Dict[str, Any] = {"definition": definition, "overrides": dict(overrides or {})}
            if vector:
                fields.update(num_envs=int(num_envs), vector=True)
            self.spec, _ = self.client.request("make", fields)
        except BaseException:
            self.close()
            raise
        self.session = self.spec["session"]
        self._finalizer = weakref.finalize(self, _Connection._release, self.client, self.server, self.session)

    def request(self, op: str, fields: Optional[Mapping[str, Any]] = None,
                tensors: Optional[Mapping[str, np.ndarray]] = None) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        if self.session is None:
            raise NBVError("the environment is closed")
        return self.client.request(op, dict(fields or {}, session=self.session), tensors)

    @staticmethod
    def _release(client: Optional[Client], server: Optional[LocalServer], session: Optional[str]) -> None:
        if client is not None and not client.closed:
            if session is not None and (server is None or server.running):
                try:
                    client.request("close", {"session": session}, timeout=2.0, retries=1)
                except NBVError:
                    pass  # a closed or reaped session, or a gone server: nothing left to free
            client.close()
        if server is not None:
            server.stop()

    def close(self) -> None:
        """Closes the session, the socket and a spawned server; harmless twice."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        else:
            _Connection._release(getattr(self, "client", None), self.server, self.session)
        self.session = None


class NBVEnv(gym.Env):
    """A next-best-view environment served by `nbv serve` (docs/PROTOCOL.md).

    Observation: a ``Dict`` of ``Box`` arrays whose keys, shapes and bounds come from the server's
    `make` reply (float32 for NBVEnvironment). Action: ``Box(-1, 1, (3,), float32)``: the next camera
    position. ``step`` returns ``(obs, reward: float, terminated: bool, truncated: bool, info: dict)``;
    ``terminated`` when the task is done (coverage reached), ``truncated`` when the view budget is spent.
    ``info`` holds plain Python values (the action gradient as a list of floats, when the environment
    provides it) and is deterministic for a given seed.

    Args:
        definition: an environment definition name (``procedural-v0``), a path, or an inline definition dict.
        overrides: dotted-path overrides of the definition, e.g. ``{"episode.budget": 8}``.
        endpoint: a running server's endpoint; default: spawn a local server.
        spawn: start a local `nbv serve` on a free port and stop it in ``close()`` (default when no endpoint).
        render_mode: ``"rgb_array"`` makes ``render()`` return the last view's RGB image.
        curve: `CurveOptions` (or a dict of its fields) for a server running with CURVE.
        timeout, retries: per-attempt reply timeout in seconds and attempts (Lazy Pirate).
        server_args: extra `nbv serve` options for a spawned server.
        flatten_observations: make every observation entry 1-D (what Stable-Baselines3 expects).
        verbose: let a spawned server write its messages (its stop message included) to this process's
            stderr; by default they go to a temporary log, shown only when the server fails to start.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, definition: Any = "procedural-v0", overrides: Optional[Mapping[str, Any]] = None,
                 endpoint: Optional[str] = None, spawn: Optional[bool] = None, render_mode: Optional[str] = None,
                 curve: Optional[CurveOptions] = None, timeout: float = 60.0, retries: int = 3,
                 server_args: Sequence[str] = (), flatten_observations: bool = False, verbose: bool = False):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: expected None or 'rgb_array'")
        self.render_mode = render_mode
        self._connection = _Connection(definition=definition, overrides=overrides, endpoint=endpoint, spawn=spawn,
                                       curve=curve, timeout=timeout, retries=retries, server_args=server_args,
                                       verbose=verbose, num_envs=1, vector=False)
        spec = self._connection.spec
        self.observation_space = observation_space_from_spec(spec["observation_space"], flatten_observations)
        self.action_space = space_from_spec(spec["action_space"])
        self._episode_seeded = False

    @property
    def endpoint(self) -> str:
        """The server's endpoint (the spawned server's when spawned)."""
        return self._connection.client.endpoint

    @property
    def session(self) -> Optional[str]:
        """The server session's id, None once closed."""
        return self._connection.session

    def _observation(self, tensors: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return observation_from_tensors(self.observation_space, tensors)

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        """Starts an episode. ``seed`` seeds ``self.np_random`` (gymnasium) and the server's episode.
        Without one, the server environment continues the random stream of its previous episode (the
        first unseeded reset gets a seed drawn from ``self.np_random``), so a seeded run is reproducible
        and gives the same episodes as a member of `NBVVectorEnv` seeded alike, autoresets included.
        ``options``: ``initial_views`` (int) and ``mesh`` (name)."""
        super().reset(seed=seed)
        fields: Dict[str, Any] = {}
        if seed is not None:
            fields["seed"] = wire_seeds_for_reset([seed])[0]
        elif not self._episode_seeded:
            fields["seed"] = int(self.np_random.integers(0, MAX_WIRE_SEED))
        if options:
            fields["options"] = dict(options)
        header, tensors = self._connection.request("reset", fields)
        self._episode_seeded = True
        return self._observation(tensors), header.get("info", {})

    def step(self, action: Any) -> Tuple[Dict[str, np.ndarray], float, bool, bool, Dict[str, Any]]:
        """One view. ``action``: 3 numbers in [-1, 1] (any array of that many elements); a different
        number of elements, NaN or out of range raises `InvalidRequestError` (a ValueError)."""
        action = action_array(action, self.action_space.shape, "action")
        header, tensors = self._connection.request("step", tensors={"action": action})
        return (self._observation(tensors), float(header["reward"]), bool(header["terminated"]),
                bool(header["truncated"]), header.get("info", {}))

    def last_view(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """RGB ``[H, W, 3]`` uint8 and z-depth ``[H, W]`` float32 of the last view, or None before any."""
        header, tensors = self._connection.request("render")
        if not header.get("available"):
            return None
        return tensors["rgb"], tensors["depth"]

    def render(self) -> Optional[np.ndarray]:
        """With ``render_mode="rgb_array"``: the last view's RGB image ``[H, W, 3]`` uint8 (an empty
        ``[0, 0, 3]`` image before the first view)."""
        if self.render_mode != "rgb_array":
            return None
        view = self.last_view()
        return np.zeros((0, 0, 3), dtype=np.uint8) if view is None else view[0]

    def close(self) -> None:
        """Closes the session and, if spawned, the server. Harmless to call twice."""
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()
        super().close()
