"""NBVGym for gymnasium: next-best-view environments served over ZeroMQ by `nbv serve`.

Importing registers ``nbvgym/NBV-v0`` (the procedural definition) and one id per shipped definition
(``envs/procedural-v0.json`` -> ``nbvgym/Procedural-v0``, ``envs/assimp-v0.json`` -> ``nbvgym/Assimp-v0``),
each with a vector entry point for ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``.
Ray RLlib's creator is ``nbvgym.rllib.env_creator`` (imported on demand; needs no Ray itself).
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from .client import Client, CurveOptions
from .env import NBVEnv
from .errors import InvalidRequestError, NBVError, ServerError, ServerUnavailableError
from .server import REPO_ROOT, LocalServer
from .vector import NBVVectorEnv

__all__ = ["NBVEnv", "NBVVectorEnv", "Client", "CurveOptions", "LocalServer", "NBVError", "ServerError",
           "InvalidRequestError", "ServerUnavailableError", "gym_id"]
__version__ = "0.1.0"

#: Definitions shipped in envs/ (registered even when the repository is not beside the package).
SHIPPED_DEFINITIONS = ("procedural-v0", "assimp-v0")


def gym_id(definition: str) -> str:
    """The gymnasium id of a definition name: ``procedural-v0`` -> ``nbvgym/Procedural-v0``."""
    name, _, version = definition.rpartition("-v")
    words = name.replace("_", "-").split("-")
    return f"nbvgym/{''.join(w[:1].upper() + w[1:] for w in words)}-v{version}"


def _register(env_id: str, definition: str) -> None:
    if env_id not in registry:
        # Registered ids flatten observation entries to 1-D, what Stable-Baselines3 (check_env,
        # MultiInputPolicy) and RLlib's default encoders expect; pass flatten_observations=False to
        # gymnasium.make for the shaped [budget, width] arrays.
        register(id=env_id, entry_point="nbvgym.env:NBVEnv", vector_entry_point="nbvgym.vector:NBVVectorEnv",
                 kwargs={"definition": definition, "flatten_observations": True})


def _definitions():
    names = list(SHIPPED_DEFINITIONS)
    envs_dir = REPO_ROOT / "envs"
    if envs_dir.is_dir():
        names += sorted(p.stem for p in envs_dir.glob("*.json") if "-v" in p.stem and p.stem not in names)
    return names


_register("nbvgym/NBV-v0", "procedural-v0")
for _definition in _definitions():
    _register(gym_id(_definition), _definition)
