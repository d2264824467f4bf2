"""`StandInMapAnything`: a small PyTorch module with MapAnything's input and output schema, for tests.

It is NOT MapAnything and learns nothing: it reconstructs exactly from the geometric inputs it is
given (z-depth, intrinsics, poses), as the environment's geometric backbone does, so that the worker,
the wire and the Swift environment can be tested end to end without the real weights or a GPU.

For view k with intrinsics K_k, camera-to-world pose (R_k, t_k) and z-depth z at pixel (u, v):

    d      = normalize(K_k^-1 [u, v, 1])                  ray direction, camera frame
    a      = z |K_k^-1 [u, v, 1]|                         depth along the ray
    X_0    = R_0^T (R_k (a d) + t_k - t_0)                point in view 0's camera frame (`pts3d`)

so `pts3d` is differentiable in every pose input (the pose path the worker's VJP differentiates).
Tokens: a 14 x 14 patch embedding of (image, rays, log depth) per view, then `info_sharing`, a
module mixing every view's patches with the mean over all views (its output holds `.features`, one
(B, width, H/14, W/14) tensor per view, as MapAnything's multi-view transformer). Confidence is
1 + exp(offset + head(tokens)); set `conf_logit_offset` high to make it overflow (tests do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

PATCH_SIZE = 14


@dataclass
class StandInInfoSharingOutput:
    """What `StandInInfoSharing` returns: `features`, one (B, width, h, w) tensor per view."""

    features: List[torch.Tensor]


class StandInInfoSharing(nn.Module):
    """Stand-in for `model.info_sharing`: f_v' = f_v + W mean_{views, patches}(f) (1x1 linear map)."""

    def __init__(self, width: int):
        super().__init__()
        self.mix = nn.Linear(width, width)

    def forward(self, features: List[torch.Tensor]) -> StandInInfoSharingOutput:
        shared = torch.stack([f.mean(dim=(2, 3)) for f in features], dim=0).mean(dim=0)  # (B, width)
        offset = self.mix(shared)[:, :, None, None]
        return StandInInfoSharingOutput(features=[f + offset for f in features])


def _matrix_to_quaternion(r: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations -> (B, 4) quaternions (x, y, z, w), w >= 0 (no gradient: an output only)."""
    out = []
    for m in r.detach().double().cpu():
        t = float(m.trace())
        if t > 0:
            s = (t + 1) ** 0.5 * 2
            q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
        else:
            i = int(torch.argmax(torch.diagonal(m)))
            j, k = (i + 1) % 3, (i + 2) % 3
            s = float(1 + m[i, i] - m[j, j] - m[k, k]) ** 0.5 * 2
            q = [0.0] * 4
            q[i], q[j], q[k], q[3] = s / 4, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s, (m[k, j] - m[j, k]) / s
        q = torch.tensor([float(x) for x in q])
        out.append(q if q[3] >= 0 else -q)
    return torch.stack(out).to(device=r.device, dtype=r.dtype)


class StandInMapAnything(nn.Module):
    """A stand-in for MapAnything with the same per-view inputs and output keys (see module doc).

    Inputs per view (as `MapAnything.infer`): `img` (B, 3, H, W) ImageNet-normalised with H, W
    multiples of 14, `data_norm_type`, `intrinsics` (B, 3, 3), `camera_poses` (B, 4, 4) camera-to-world,
    `depth_z` (B, H, W) (exactly; MapAnything's preprocessing fails on (B, H, W, 1)), `is_metric_scale` (B,). The stand-in needs the three geometric
    inputs (it has nothing else to reconstruct from). `forward` takes the same views (the real model's
    forward takes preprocessed views; the worker hides that difference).
    """

    #: Marks the stand-in everywhere it is reported (handshake, logs).
    is_stand_in = True

    def __init__(self, token_width: int = 32, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.token_width = token_width
        self.patch_embed = nn.Conv2d(7, token_width, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)
        self.info_sharing = StandInInfoSharing(token_width)
        self.conf_head = nn.Conv2d(token_width, 1, kernel_size=1)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
        #: Added to the confidence logit: 100 makes 1 + exp(.) overflow float32 (and fp16 far sooner).
        self.conf_logit_offset = 0.0
        #: The keyword arguments of the last `infer` call (tests check what the worker asked for).
        self.last_infer_options: Dict[str, object] = {}

    @staticmethod
    def _require(view: Dict[str, object], key: str, index: int) -> torch.Tensor:
        if key not in view:
            raise ValueError(f"views[{index}].{key}: StandInMapAnything needs intrinsics, camera_poses and depth_z "
                             "(it unprojects the given depth)")
        return view[key]

    def forward(self, views: List[Dict[str, object]], memory_efficient_inference: bool = False,
                minibatch_size=None) -> List[Dict[str, torch.Tensor]]:
        pose0 = self._require(views[0], "camera_poses", 0)
        r0, t0 = pose0[:, :3, :3], pose0[:, :3, 3]
        geometry, features = [], []
        for index, view in enumerate(views):
            img = view["img"]
            b, _, h, w = img.shape
            if h % PATCH_SIZE or w % PATCH_SIZE:
                raise ValueError(f"views[{index}].img: height and width must be multiples of {PATCH_SIZE}, got {h}x{w}")
            k = self._require(view, "intrinsics", index).to(img.dtype)
            pose = self._require(view, "camera_poses", index).to(img.dtype)
            z = self._require(view, "depth_z", index).to(img.dtype)
            if z.shape != (b, h, w):
                raise ValueError(f"views[{index}].depth_z: expected shape {(b, h, w)} (B, H, W) as MapAnything's "
                                 f"preprocessing needs (it computes depth_z[..., None] * rays), got {tuple(z.shape)}")
            u = torch.arange(w, dtype=img.dtype, device=img.device)
            v = torch.arange(h, dtype=img.dtype, device=img.device)
            x = (u[None, None, :] - k[:, 0, 2, None, None]) / k[:, 0, 0, None, None]
            y = (v[None, :, None] - k[:, 1, 2, None, None]) / k[:, 1, 1, None, None]
            x, y = torch.broadcast_tensors(x, y)
            plane = torch.stack([x, y, torch.ones_like(x)], dim=-1)           # (B, H, W, 3)
            norm = plane.norm(dim=-1, keepdim=True)
            rays = plane / norm
            along = z[..., None] * norm                                        # (B, H, W, 1)
            cam = rays * along
            # Camera k -> view 0's frame: R = R_0^T R_k, t = R_0^T (t_k - t_0).
            rel_r = r0.transpose(1, 2).to(img.dtype) @ pose[:, :3, :3]
            rel_t = ((pose[:, :3, 3] - t0.to(img.dtype))[:, None, :] @ r0.to(img.dtype))[:, 0, :]
            pts = torch.einsum("bij,bhwj->bhwi", rel_r, cam) + rel_t[:, None, None, :]
            geometry.append((rays, along, cam, pts, rel_r, rel_t, z > 0))
            embed_in = torch.cat([img, rays.permute(0, 3, 1, 2), torch.log1p(along.clamp(min=0)).permute(0, 3, 1, 2)], dim=1)
            features.append(self.patch_embed(embed_in))
        shared = self.info_sharing(features).features
        outputs = []
        for (rays, along, cam, pts, rel_r, rel_t, valid), tokens in zip(geometry, shared):
            b, h, w = along.shape[:3]
            logit = F.interpolate(self.conf_head(tokens).float(), size=(h, w), mode="nearest")[:, 0]
            conf = 1 + torch.exp(self.conf_logit_offset + torch.tanh(logit))
            pose_out = torch.zeros((b, 4, 4), dtype=pts.dtype, device=pts.device)
            pose_out[:, :3, :3] = rel_r
            pose_out[:, :3, 3] = rel_t
            pose_out[:, 3, 3] = 1
            outputs.append({
                "pts3d": pts, "pts3d_cam": cam, "ray_directions": rays, "depth_along_ray": along,
                "cam_trans": rel_t, "cam_quats": _matrix_to_quaternion(rel_r), "camera_poses": pose_out,
                "metric_scaling_factor": torch.ones((b,), dtype=pts.dtype, device=pts.device),
                "conf": conf, "non_ambiguous_mask": valid,
            })
        return outputs

    @torch.inference_mode()
    def infer(self, views: List[Dict[str, object]], memory_efficient_inference: bool = True, use_amp: bool = True,
              amp_dtype: str = "bf16", apply_mask: bool = True, mask_edges: bool = True, **options) -> List[Dict[str, torch.Tensor]]:
        """As `MapAnything.infer`: no gradients; adds `mask` (B, H, W, 1), `depth_z`, `intrinsics`."""
        self.last_infer_options = dict(memory_efficient_inference=memory_efficient_inference, use_amp=use_amp,
                                       amp_dtype=amp_dtype, apply_mask=apply_mask, mask_edges=mask_edges, **options)
        outputs = self.forward(views)
        for out, view in zip(outputs, views):
            mask = out["non_ambiguous_mask"][..., None]
            out["mask"] = mask
            out["depth_z"] = out["pts3d_cam"][..., 2:3]
            out["intrinsics"] = view["intrinsics"]
            if apply_mask:
                for key in ("pts3d", "pts3d_cam", "depth_along_ray", "depth_z"):
                    out[key] = out[key] * mask
        return outputs
