"""Resizing views to MapAnything's resolution and mapping its outputs back (docs/MAPANYTHING.md).

Pixel convention (docs/ARCHITECTURE.md): pixel (u, v) has its centre at integer coordinates, so the
continuous image coordinate of pixel u is x = u + 0.5 (x in [0, W)). Resizing by s_x scales x, and
cropping shifts it by the crop offset o_x (in resized pixels). A view of W x H pixels therefore maps
to the model's image by

    u' = s_x (u + 0.5) - 0.5 - o_x,        v' = s_y (v + 0.5) - 0.5 - o_y

and the intrinsics follow the same affine map, so a 3-D point projects to corresponding places:

    f_x' = s_x f_x,   c_x' = s_x (c_x + 0.5) - 0.5 - o_x        (and likewise for y).

Images are resized bilinearly with antialiasing (torch); z-depth is resized by nearest neighbour (a
depth value stays the z of a real surface point); outputs come back to the environment's pixels by
nearest (default) or bilinear sampling at u'(u), v'(v).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

#: MapAnything's patch size in pixels.
PATCH_SIZE = 14

#: The 518 resolution set as (width, height): landscape aspect ratios and their portrait versions.
RESOLUTIONS_518: Tuple[Tuple[int, int], ...] = (
    (518, 518), (518, 392), (518, 336), (518, 294), (518, 252), (518, 168),
    (392, 518), (336, 518), (294, 518), (252, 518), (168, 518),
)

#: ImageNet mean and standard deviation (DINOv2's normalisation, `data_norm_type` "dinov2").
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def parse_resolution(text: str) -> Optional[Tuple[int, int]]:
    """``"518x392"`` -> (518, 392); ``"auto"`` -> None. Both sides must be positive multiples of 14."""
    if text == "auto":
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--resolution: expected WIDTHxHEIGHT (e.g. 518x392) or auto, got {text!r}") from None
    if w <= 0 or h <= 0 or w % PATCH_SIZE or h % PATCH_SIZE:
        raise ValueError(f"--resolution: width and height must be positive multiples of {PATCH_SIZE}, got {w}x{h}")
    return w, h


def choose_resolution(width: int, height: int, fixed: Optional[Tuple[int, int]] = None) -> Tuple[int, int]:
    """The model resolution (W', H') for a W x H view: `fixed`, or the member of the 518 set whose
    aspect ratio is closest (in log ratio) to the view's."""
    if fixed is not None:
        return fixed
    aspect = math.log(width / height)
    return min(RESOLUTIONS_518, key=lambda r: abs(math.log(r[0] / r[1]) - aspect))


@dataclass(frozen=True)
class ResizeCrop:
    """Resize a W x H image to `resized` (covering the target), then crop the centred `target` window."""

    source: Tuple[int, int]   # (W, H) of the environment's views
    resized: Tuple[int, int]  # (W_r, H_r) after resizing, >= target on both axes
    target: Tuple[int, int]   # (W', H') the model sees
    offset: Tuple[int, int]   # (o_x, o_y) crop offset in resized pixels

    @staticmethod
    def plan(width: int, height: int, target: Tuple[int, int]) -> "ResizeCrop":
        tw, th = target
        s = max(tw / width, th / height)
        rw, rh = max(tw, round(width * s)), max(th, round(height * s))
        return ResizeCrop((width, height), (rw, rh), (tw, th), ((rw - tw) // 2, (rh - th) // 2))

    @property
    def scale(self) -> Tuple[float, float]:
        return self.resized[0] / self.source[0], self.resized[1] / self.source[1]

    def to_model(self, u, v):
        """Environment pixel coordinates -> model pixel coordinates (the affine map above)."""
        sx, sy = self.scale
        return sx * (np.asarray(u) + 0.5) - 0.5 - self.offset[0], sy * (np.asarray(v) + 0.5) - 0.5 - self.offset[1]

    def to_source(self, u, v):
        """Model pixel coordinates -> environment pixel coordinates."""
        sx, sy = self.scale
        return (np.asarray(u) + 0.5 + self.offset[0]) / sx - 0.5, (np.asarray(v) + 0.5 + self.offset[1]) / sy - 0.5

    def intrinsics(self, k: np.ndarray) -> np.ndarray:
        """[..., 3, 3] intrinsics of the environment's views -> those of the model's images."""
        sx, sy = self.scale
        out = np.array(k, dtype=np.float64, copy=True)
        out[..., 0, 0] = sx * k[..., 0, 0]
        out[..., 0, 1] = sx * k[..., 0, 1]
        out[..., 1, 1] = sy * k[..., 1, 1]
        out[..., 0, 2] = sx * (k[..., 0, 2] + 0.5) - 0.5 - self.offset[0]
        out[..., 1, 2] = sy * (k[..., 1, 2] + 0.5) - 0.5 - self.offset[1]
        return out

    # -- inputs ----------------------------------------------------------------------------------

    def image(self, rgb: np.ndarray):
        """uint8 [V, H, W, 3] -> float32 torch [V, 3, H', W'], ImageNet-normalised."""
        import torch
        import torch.nn.functional as F
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 255.0
        rw, rh = self.resized
        if (rw, rh) != self.source:
            x = F.interpolate(x, size=(rh, rw), mode="bilinear", align_corners=False, antialias=True).clamp_(0, 1)
        (ox, oy), (tw, th) = self.offset, self.target
        x = x[:, :, oy:oy + th, ox:ox + tw]
        mean = torch.from_numpy(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.from_numpy(IMAGENET_STD).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()

    def nearest_source_indices(self) -> Tuple[np.ndarray, np.ndarray]:
        """For each model column and row, the environment pixel whose area holds its centre."""
        sx, sy = self.scale
        (ox, oy), (tw, th) = self.offset, self.target
        cols = np.clip(np.floor((np.arange(tw) + 0.5 + ox) / sx), 0, self.source[0] - 1).astype(np.int64)
        rows = np.clip(np.floor((np.arange(th) + 0.5 + oy) / sy), 0, self.source[1] - 1).astype(np.int64)
        return cols, rows

    def depth(self, depth: np.ndarray) -> np.ndarray:
        """z-depth [V, H, W] -> [V, H', W'] by nearest neighbour (0 stays missing)."""
        cols, rows = self.nearest_source_indices()
        return np.ascontiguousarray(depth[:, rows[:, None], cols[None, :]])

    # -- outputs ---------------------------------------------------------------------------------

    def nearest_model_indices(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each environment pixel, the nearest model pixel (cols [W], rows [H]) and whether the
        pixel lies inside the model's (cropped) image, [H, W] bool."""
        w, h = self.source
        (tw, th) = self.target
        up, vp = self.to_model(np.arange(w), np.arange(h))
        inside_u = (up >= -0.5) & (up < tw - 0.5)
        inside_v = (vp >= -0.5) & (vp < th - 0.5)
        cols = np.clip(np.floor(up + 0.5), 0, tw - 1).astype(np.int64)
        rows = np.clip(np.floor(vp + 0.5), 0, th - 1).astype(np.int64)
        return cols, rows, inside_v[:, None] & inside_u[None, :]

    def to_source_pixels(self, x, mode: str = "nearest"):
        """Per-pixel model outputs [V, H', W', C] (torch) -> [V, H, W, C] at the environment's pixels.

        Differentiable in `x` (gather or `grid_sample`), so the pose VJP goes through it."""
        import torch
        import torch.nn.functional as F
        cols, rows, _ = self.nearest_model_indices()
        if mode == "nearest":
            r = torch.from_numpy(rows).to(x.device)
            c = torch.from_numpy(cols).to(x.device)
            return x[:, r][:, :, c]
        if mode != "bilinear":
            raise ValueError(f"upsampling mode: expected nearest or bilinear, got {mode!r}")
        w, h = self.source
        tw, th = self.target
        up, vp = self.to_model(np.arange(w), np.arange(h))
        gx = (up + 0.5) / tw * 2 - 1
        gy = (vp + 0.5) / th * 2 - 1
        grid = np.stack(np.broadcast_arrays(gx[None, :], gy[:, None]), axis=-1)  # [H, W, 2] as (x, y)
        grid = torch.from_numpy(grid).to(device=x.device, dtype=x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1, -1)
        out = F.grid_sample(x.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.permute(0, 2, 3, 1)

    def token_indices(self, patch: int = PATCH_SIZE) -> Tuple[Tuple[int, int], np.ndarray]:
        """The environment's patch grid (rows, cols) = (ceil(H/14), ceil(W/14)) and, for each of its
        patches, the index (row * cols' + col) of the model patch holding the patch's centre."""
        w, h = self.source
        tw, th = self.target
        grid_rows, grid_cols = -(-h // patch), -(-w // patch)
        cu = (np.arange(grid_cols) * patch + np.minimum(np.arange(grid_cols) * patch + patch, w)) / 2 - 0.5
        cv = (np.arange(grid_rows) * patch + np.minimum(np.arange(grid_rows) * patch + patch, h)) / 2 - 0.5
        up, vp = self.to_model(cu, cv)
        model_cols, model_rows = tw // patch, th // patch
        pc = np.clip(np.floor((up + 0.5) / patch), 0, model_cols - 1).astype(np.int64)
        pr = np.clip(np.floor((vp + 0.5) / patch), 0, model_rows - 1).astype(np.int64)
        return (grid_rows, grid_cols), (pr[:, None] * model_cols + pc[None, :]).reshape(-1)


def ray_directions(k: np.ndarray, width: int, height: int) -> np.ndarray:
    """Unit rays [H, W, 3] of intrinsics k: normalize((u - c_x)/f_x, (v - c_y)/f_y, 1) (zero skew)."""
    u = np.arange(width, dtype=np.float64)
    v = np.arange(height, dtype=np.float64)
    x = (u[None, :] - k[0, 2]) / k[0, 0]
    y = (v[:, None] - k[1, 2]) / k[1, 1]
    x, y = np.broadcast_arrays(x, y)
    d = np.stack([x, y, np.ones_like(x)], axis=-1)
    return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)

