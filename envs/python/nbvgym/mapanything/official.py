"""Loading the official `mapanything` model from a local checkpoint directory, with no network access.

A checkpoint directory (as `facebook/map-anything` and `facebook/map-anything-apache` ship) holds
`config.json` (the model's constructor arguments) and `model.safetensors`. Building the model makes
UniCeption's DINOv2 encoder call `torch.hub.load("facebookresearch/dinov2", ..., pretrained=True)`,
which downloads code and weights; here those calls get `pretrained=False` (the checkpoint overwrites
the encoder's weights anyway) and, when a local DINOv2 checkout is given or cached, `source="local"`.

Nothing in this file runs in the project's tests (no weights, no `mapanything` package here); see
docs/MAPANYTHING.md for what has and has not been verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

#: Geometric-input settings that make `forward` use every given input, deterministically (what
#: `infer` sets internally when all inputs are used; the shipped config is images-only, all zero).
GEOMETRIC_INPUTS_ON = {
    "overall_prob": 1.0, "dropout_prob": 0.0, "ray_dirs_prob": 1.0, "depth_prob": 1.0, "cam_prob": 1.0,
    "sparse_depth_prob": 0.0, "depth_scale_norm_all_prob": 0.0, "pose_scale_norm_all_prob": 0.0,
}


def log(message: str) -> None:
    print(f"[mapanything-worker] {message}", file=sys.stderr, flush=True)


def _dinov2_checkout(explicit: Optional[str]) -> Optional[Path]:
    """A local clone of facebookresearch/dinov2 (hubconf.py): `explicit`, else torch hub's cache."""
    if explicit:
        path = Path(explicit)
        if not (path / "hubconf.py").is_file():
            raise FileNotFoundError(f"--dinov2-repo {explicit}: expected a clone of github.com/facebookresearch/dinov2 "
                                    "(a folder with hubconf.py)")
        return path
    import torch
    for candidate in sorted(Path(torch.hub.get_dir()).glob("facebookresearch_dinov2_*")):
        if (candidate / "hubconf.py").is_file():
            return candidate
    return None


@contextlib.contextmanager
def offline_torch_hub(dinov2_repo: Optional[str]) -> Iterator[None]:
    """While building the model: DINOv2 hub loads get pretrained=False and a local source when known."""
    import torch
    real_load = torch.hub.load
    checkout = _dinov2_checkout(dinov2_repo)

    def load(repo_or_dir, model, *args, **kwargs):
        if "dinov2" in str(repo_or_dir):
            kwargs["pretrained"] = False
            kwargs.pop("force_reload", None)
            if checkout is not None:
                kwargs["source"] = "local"
                kwargs.pop("skip_validation", None)
                kwargs.pop("trust_repo", None)
                return real_load(str(checkout), model, *args, **kwargs)
        return real_load(repo_or_dir, model, *args, **kwargs)

    torch.hub.load = load
    try:
        yield
    finally:
        torch.hub.load = real_load


def _without_pretrained_paths(config: Dict) -> Dict:
    """The constructor arguments with every pretrained-checkpoint path and hub reload turned off."""
    config = json.loads(json.dumps(config))  # deep copy
    config["pretrained_checkpoint_path"] = None
    config["load_specific_pretrained_submodules"] = False
    config["torch_hub_force_reload"] = False
    for key in ("encoder_config",):
        if isinstance(config.get(key), dict) and "pretrained_checkpoint_path" in config[key]:
            config[key]["pretrained_checkpoint_path"] = None
    return config


def load_official_model(checkpoint: str, device: str, dinov2_repo: Optional[str] = None):
    """The official MapAnything model from `checkpoint` (config.json + model.safetensors), in eval mode
    on `device`, parameters frozen (the worker differentiates inputs only)."""
    directory = Path(checkpoint)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"--checkpoint {checkpoint}: missing {path.name}; expected a MapAnything checkpoint "
                                    "directory with config.json and model.safetensors (docs/MAPANYTHING.md)")
    try:
        from mapanything.models import MapAnything
    except ImportError as error:
        raise ImportError("the official `mapanything` package is not installed: pip install it from "
                          "https://github.com/facebookresearch/map-anything (docs/MAPANYTHING.md)") from error
    from safetensors.torch import load_file

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = _without_pretrained_paths(json.loads(config_path.read_text()))
    config.pop("model_str", None)
    if "model_config" in config and isinstance(config["model_config"], dict):  # {"model_str", "model_config"} layout
        config = _without_pretrained_paths(config["model_config"])
    with offline_torch_hub(dinov2_repo):
        model = MapAnything(**config)
    state = load_file(str(weights_path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        log(f"checkpoint: {len(missing)} missing and {len(unexpected)} unexpected keys "
            f"(first missing: {missing[:3]}, first unexpected: {unexpected[:3]})")
    model.requires_grad_(False)
    return model.to(device).eval()


@contextlib.contextmanager
def geometric_inputs_enabled(model) -> Iterator[None]:
    """Sets `model.geometric_input_config` so `forward` uses every geometric input, then restores it."""
    config = getattr(model, "geometric_input_config", None)
    if config is None:
        yield
        return
    saved = dict(config)
    config.update(GEOMETRIC_INPUTS_ON)
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def official_forward(model, amp_dtype):
    """`views -> outputs` through `model.forward` with gradients and every geometric input used:
    the official preprocessing (intrinsics -> rays, z-depth -> depth along rays, poses -> view-0
    quaternions and translations), then the forward pass under autocast when `amp_dtype` is set."""
    from mapanything.utils.inference import preprocess_input_views_for_inference, validate_input_views_for_inference
    import torch

    def forward(views: List[Dict]) -> List[Dict]:
        processed = preprocess_input_views_for_inference(validate_input_views_for_inference(views))
        device_type = "cuda" if str(model.device).startswith("cuda") else "cpu"
        with geometric_inputs_enabled(model), torch.autocast(device_type, enabled=amp_dtype is not None,
                                                             dtype=amp_dtype or torch.float32):
            return model.forward(processed, memory_efficient_inference=False)

    return forward
