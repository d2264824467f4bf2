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


def _dinov2_checkout(explicit: Optional[str]) -> Path:
    """A local clone of facebookresearch/dinov2 (a folder with hubconf.py): `explicit`, else the one in
    torch hub's cache; an error naming both places when there is none (torch hub would otherwise try
    the network and fail with a traceback about the internet connection)."""
    if explicit:
        path = Path(explicit)
        if not (path / "hubconf.py").is_file():
            raise FileNotFoundError(f"--dinov2-repo {explicit}: expected a clone of github.com/facebookresearch/dinov2 "
                                    "(a folder with hubconf.py)")
        return path
    import torch
    hub = Path(torch.hub.get_dir())
    for candidate in sorted(hub.glob("facebookresearch_dinov2_*")):
        if (candidate / "hubconf.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"no DINOv2 code to build MapAnything's encoder: pass --dinov2-repo DIR (a clone of "
        f"https://github.com/facebookresearch/dinov2, code only; no weights are downloaded) or put that clone "
        f"in torch hub's cache as {hub}/facebookresearch_dinov2_main (docs/MAPANYTHING.md)")


@contextlib.contextmanager
def offline_torch_hub(dinov2_repo: Optional[str]) -> Iterator[None]:
    """While building the model: DINOv2 hub loads get pretrained=False and the local checkout as source."""
    import torch
    real_load = torch.hub.load
    checkout = _dinov2_checkout(dinov2_repo)

    def load(repo_or_dir, model, *args, **kwargs):
        if "dinov2" in str(repo_or_dir):
            kwargs["pretrained"] = False
            for key in ("force_reload", "skip_validation", "trust_repo"):
                kwargs.pop(key, None)
            kwargs["source"] = "local"
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


def check_state(model, state: Dict) -> List[str]:
    """Checks checkpoint tensors `state` against `model` before loading them; returns the model keys
    that are tied duplicates filled by their stored alias.

    safetensors stores a tensor shared by several modules once (MapAnything's `dense_head.*` entries
    alias the DPT modules' weights), so those keys are absent from the file yet loaded through the
    alias. A key is a tied duplicate when its tensor shares storage, offset and shape with a key the
    file holds. Any other absent key, or a tensor whose shape differs from the model's, raises
    `ValueError` naming the keys: the model would run with random weights there."""
    expected = model.state_dict(keep_vars=True)
    misshaped = [f"{key}: checkpoint {list(state[key].shape)}, model {list(value.shape)}"
                 for key, value in expected.items() if key in state and tuple(state[key].shape) != tuple(value.shape)]
    if misshaped:
        raise ValueError(f"{len(misshaped)} checkpoint tensors have the wrong shape for this config.json "
                         f"(first: {'; '.join(misshaped[:3])})")

    def identity(tensor):
        return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()))

    stored = {identity(expected[key]) for key in expected if key in state}
    absent = [key for key in expected if key not in state]
    tied = [key for key in absent if identity(expected[key]) in stored]
    missing = [key for key in absent if key not in set(tied)]
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} weights of the model its config.json describes "
                         f"(first: {', '.join(missing[:5])}); it was saved from a different configuration or is truncated")
    return tied


def load_official_model(checkpoint: str, device: str, dinov2_repo: Optional[str] = None):
    """The official MapAnything model from `checkpoint` (config.json + model.safetensors), in eval mode
    on `device`, parameters frozen (the worker differentiates inputs only). The model's own prints
    (UniCeption announces its torch hub loads) go to stderr, never to the worker's stdout."""
    directory = Path(checkpoint)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"--checkpoint {checkpoint}: missing {path.name}; expected a MapAnything checkpoint "
                                    "directory with config.json and model.safetensors (docs/MAPANYTHING.md)")
    with contextlib.redirect_stdout(sys.stderr):
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
        tied = check_state(model, state)
        unexpected = [key for key in state if key not in model.state_dict()]
        model.load_state_dict(state, strict=False)
    log(f"checkpoint: {len(state)} tensors loaded; {len(tied)} tied duplicates filled by their stored alias "
        f"(safetensors stores shared tensors once; first: {tied[:2]})")
    if unexpected:
        log(f"checkpoint: {len(unexpected)} tensors the model does not use, ignored (first: {unexpected[:3]})")
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
