"""Checkpoint directories of the real MapAnything architecture with random weights, for tests,
benchmarks and the device check (no download: weights stay the user's).

A released checkpoint directory holds `config.json` ({"model_str", "model_config"}: the constructor
arguments) and `model.safetensors`. `write_random_checkpoint` builds the official `MapAnything` from a
configuration (DINOv2's code from a local checkout, `pretrained=False`), seeds its weights, and writes
both files in that layout, so the worker loads it exactly as it loads a downloaded checkpoint.

`MapAnything.save_pretrained` cannot be used: it fails on a freshly built model (its `__init__` writes
classes into the config dicts it was given), so `config.json` is written from a deep copy taken
before construction, and the weights with `safetensors.torch.save_model`, which stores the tensors
that `dense_head` shares with the DPT modules once.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict

#: The mask logit's bias in the dense head (channel 5 of its last convolution). With random weights
#: the validity-mask logit is negative everywhere (every pixel masked out); +4 leaves some valid.
MASK_BIAS_KEY, MASK_BIAS_CHANNEL, MASK_BIAS = "dense_head.1.conv2.2.bias", 5, 4.0


def released_config(path: Path) -> Dict:
    """The released v1.1 constructor arguments ({"model_str", "model_config"}), e.g. the
    `mapanything-v1.1-config.json` kept beside the vendored sources."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected the released v1.1 configuration (JSON with model_str and model_config)")
    return json.loads(path.read_text())


def tiny_config(released: Dict) -> Dict:
    """The released configuration shrunk to a real but small model (27.2 M parameters): DINOv2 ViT-S/14
    with its first 2 blocks; an alternating-attention transformer of 4 blocks, width 384, 6 heads,
    intermediate outputs after blocks 1 and 2; DPT features of 64 channels; ray-direction and depth
    encoders with intermediate widths 64, 96, 128. Everything else (heads, adaptors, geometric
    inputs, register tokens) is the released one."""
    config = copy.deepcopy(released)
    model = config["model_config"]
    model["encoder_config"].update({"size": "small", "name": "dinov2_small_2_layers", "keep_first_n_layers": 2})
    model["info_sharing_config"]["module_args"].update({"depth": 4, "indices": [1, 2], "dim": 384, "num_heads": 6,
                                                        "name": "aat_4_layers_vits_dim_ifr", "size": "4_layers"})
    model["pred_head_config"]["feature_head"]["feature_dim"] = 64
    for key in ("ray_dirs_encoder_config", "depth_encoder_config"):
        model["geometric_input_config"][key]["intermediate_dims"] = [64, 96, 128]
    return config


def write_random_checkpoint(config: Dict, directory: Path, dinov2_repo: str, seed: int = 0) -> Dict[str, float]:
    """Builds `config` with weights drawn from `seed` (the modules' own initialisers), sets the
    mask-logit bias to `MASK_BIAS`, and writes `directory`/config.json and model.safetensors atomically.
    Returns {"parameters": count, "bytes": size of model.safetensors}."""
    import torch
    from safetensors.torch import save_model

    from .official import _without_pretrained_paths, offline_torch_hub

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    constructor = _without_pretrained_paths(copy.deepcopy(config["model_config"]))
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(sys.stderr):
        from mapanything.models import MapAnything
        with offline_torch_hub(dinov2_repo):
            model = MapAnything(**copy.deepcopy(constructor))
    with torch.no_grad():
        model.state_dict()[MASK_BIAS_KEY][MASK_BIAS_CHANNEL] = MASK_BIAS
    weights = directory / "model.safetensors"
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        save_model(model, str(temporary))
        os.replace(temporary, weights)
    finally:
        temporary.unlink(missing_ok=True)
    text = json.dumps({"model_str": config.get("model_str", "mapanything"), "model_config": constructor}, indent=1)
    temporary = directory / "config.json.tmp"
    temporary.write_text(text)
    os.replace(temporary, directory / "config.json")
    return {"parameters": float(sum(p.numel() for p in model.parameters())), "bytes": float(weights.stat().st_size)}


def main() -> int:
    """Writes a random-weight checkpoint directory (tests, benchmarks, scripts/device-mapanything)."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m nbvgym.mapanything.checkpoints",
                                     description="Write a MapAnything checkpoint directory (config.json, model.safetensors) "
                                                 "with random weights, from local code only (no download).")
    parser.add_argument("size", choices=("tiny", "v1.1"), help="tiny: 27.2 M parameters; v1.1: the released configuration (1,228.5 M)")
    parser.add_argument("directory", help="where config.json and model.safetensors go")
    parser.add_argument("--config", required=True, help="the released v1.1 configuration JSON (../shared/vendor/mapanything-v1.1-config.json)")
    parser.add_argument("--dinov2-repo", required=True, help="a local clone of facebookresearch/dinov2 (../shared/vendor/dinov2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args()
    released = released_config(Path(args.config))
    config = tiny_config(released) if args.size == "tiny" else released
    facts = write_random_checkpoint(config, Path(args.directory), args.dinov2_repo, args.seed)
    print(f"wrote {args.directory}: {facts['parameters'] / 1e6:.1f} M parameters, {facts['bytes'] / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
