"""`nbvgym-mapanything-worker`: MapAnything as NBVGym's reconstruction backbone, served over ZeroMQ.

The worker binds a ROUTER socket and answers `handshake`, `reconstruct`, `vjp` and `ping` with the
framing of docs/PROTOCOL.md (JSON header frame + raw little-endian tensor frames); the operations are
documented in docs/MAPANYTHING.md. Requests are handled one at a time, in arrival order.

    nbvgym-mapanything-worker --checkpoint DIR --bind tcp://127.0.0.1:5570 [--device cuda|cpu]
                              [--resolution 518x392|auto] [--amp bf16|none] [--upsample nearest|bilinear]
    nbvgym-mapanything-worker --stand-in ...      # StandInMapAnything: tests and demos, not MapAnything

The model is injectable: `MapAnythingWorker(model, forward=...)` serves any module with MapAnything's
`infer(views, ...)`, a differentiable `forward` and an `info_sharing` submodule.

Two things make a step cost one view rather than all of them (docs/MAPANYTHING.md):
- the image encoder's output of each view is cached (`FeatureCache`, keyed by the view's RGB bytes,
  size and the model resolution), so a call runs the encoder on new views only, then the
  multi-view transformer and the heads on all;
- a request may carry several members (`members: M`, tensors named `m/NAME`): the members that have
  the same view count, size and inputs run as one batch through the model.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import protocol
from .preprocessing import PATCH_SIZE, ResizeCrop, choose_resolution, parse_resolution, ray_directions

WORKER_VERSION = "nbvgym-mapanything-worker 0.1.0"
OPERATIONS = ("handshake", "reconstruct", "vjp", "ping")
#: Largest confidence sent back: MapAnything's confidence is >= 1 and unbounded (overflows fp16).
MAX_CONFIDENCE = float(np.finfo(np.float32).max)


class WorkerError(Exception):
    """A refused request: `code` (docs/PROTOCOL.md codes plus `model_error`), `field`, `message`."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(f"{code} [{field}]: {message}")
        self.code, self.field, self.message = code, field, message

    def info(self) -> Dict[str, object]:
        return {"code": self.code, "field": self.field, "message": f"{self.field}: {self.message}", "fatal": False}


@dataclass
class WorkerOptions:
    """How views are prepared and outputs mapped back."""

    #: Model resolution (W, H), multiples of 14; None: the closest aspect ratio of the 518 set.
    resolution: Optional[Tuple[int, int]] = None
    #: Upsampling of per-pixel outputs to the environment's pixels: "nearest" or "bilinear".
    upsample: str = "nearest"
    #: "bf16" (autocast on CUDA when supported) or "none" (fp32). Never fp16: confidence overflows.
    amp: str = "bf16"
    device: str = "cpu"
    #: Views whose image-encoder output is kept (least recently used dropped first); 0: no cache.
    feature_cache: int = 256


class FeatureCache:
    """The image encoder's output per view image, by key, at most `capacity` entries (least recently
    used dropped first). An entry is (features (1, C, h, w), registers (1, R, C) or None)."""

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"--feature-cache: expected a view count >= 0, got {capacity}")
        self.capacity = capacity
        self.entries: "OrderedDict[Tuple, Tuple]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
            self.entries.move_to_end(key)
        return entry

    def put(self, key, entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


@dataclass
class Member:
    """One member of a request, prepared: its views at the model resolution (batch size 1), the crop,
    its tensors, the image key of each view and (vjp) the view whose pose is differentiated."""

    views: List[Dict]
    crop: ResizeCrop
    tensors: Dict[str, np.ndarray]
    image_keys: List[Tuple]
    view_index: Optional[int] = None
    pose_leaf: object = None
    header: Dict = field(default_factory=dict)

    def signature(self) -> Tuple:
        """Members with equal signatures are stacked into one batch."""
        return (len(self.views), self.crop, tuple(sorted(k for k in self.views[0] if k != "camera_poses_leaf")))


def _token_features(output) -> List:
    """The per-view (B, width, h, w) features of `info_sharing`'s output (MultiViewTransformerOutput,
    or a (final, intermediates) tuple for the IFR variants)."""
    if isinstance(output, (tuple, list)) and output and hasattr(output[0], "features"):
        output = output[0]
    features = getattr(output, "features", output)
    if not isinstance(features, (list, tuple)) or not features:
        raise WorkerError("model_error", "info_sharing", f"expected the hooked output to hold per-view features, got {type(output).__name__}")
    return list(features)


class MapAnythingWorker:
    """Serves one model. `forward(views)` runs the model with gradients and geometric inputs on (the
    official model: `official.official_forward`); by default it is `model.forward` (the stand-in).

    When the model has MapAnything's `_encode_n_views(views)` (the image encoder over all views), the
    worker wraps it with `FeatureCache`: a view's encoder output depends on its image alone, so it is
    computed once per image and reused by every later call (reconstruct and vjp) that contains it."""

    def __init__(self, model, forward: Optional[Callable] = None, options: Optional[WorkerOptions] = None,
                 name: Optional[str] = None):
        import torch
        self.torch = torch
        self.model = model
        self.forward = forward or model.forward
        self.options = options or WorkerOptions()
        self.stand_in = bool(getattr(model, "is_stand_in", False))
        self.name = name or type(model).__name__
        if not hasattr(model, "info_sharing"):
            raise TypeError(f"{self.name}: expected an `info_sharing` submodule (the multi-view transformer) to hook")
        self._hooked: List[object] = []
        model.info_sharing.register_forward_hook(lambda module, args, output: self._hooked.append(output))
        self.amp_dtype = self._amp_dtype()
        self.cache = FeatureCache(self.options.feature_cache)
        #: Per view of the model call under way, the keys of its batch's images (None: no caching).
        self._call_keys: Optional[List[List[Tuple]]] = None
        self._encode_uncached = getattr(model, "_encode_n_views", None)
        if self._encode_uncached is not None and self.cache.capacity > 0:
            model._encode_n_views = self._encode_cached
        self.token_width = 0
        self.requests = 0
        #: What the last request asked for (op and view count), for the log.
        self.last_request = ""

    @property
    def caches_features(self) -> bool:
        return self._encode_uncached is not None and self.cache.capacity > 0

    def _amp_dtype(self):
        torch = self.torch
        if self.options.amp == "none":
            return None
        if self.options.amp != "bf16":
            raise ValueError(f"--amp: expected bf16 or none, got {self.options.amp!r}")
        if not self.options.device.startswith("cuda"):
            return None  # CPU: fp32 (bf16 autocast on CPU is slow and gains nothing here)
        if not torch.cuda.is_bf16_supported():
            print("[mapanything-worker] this GPU has no bf16: running fp32 (fp16 would overflow the confidence)",
                  file=sys.stderr)
            return None
        return torch.bfloat16

    # -- the cached image encoder ------------------------------------------------------------------

    def _encode_cached(self, views):
        """MapAnything's `_encode_n_views` with `FeatureCache`: the encoder runs, as one batch, on the
        images of this call that are not cached; returns per view (B, C, h, w) features and registers
        (or None), as the original does. Cached tensors are cloned outside inference mode so that
        `vjp`'s autograd can use entries made by `reconstruct` (under `torch.inference_mode`)."""
        torch = self.torch
        keys = self._call_keys
        batch = views[0]["img"].shape[0]
        if self.cache.capacity == 0 or keys is None or len(keys) != len(views) or any(len(k) != batch for k in keys):
            return self._encode_uncached(views)
        device_type = "cuda" if self.options.device.startswith("cuda") else "cpu"
        amp = (torch.is_autocast_enabled(device_type), str(torch.get_autocast_dtype(device_type)))
        full = [[(key, amp) for key in view_keys] for view_keys in keys]
        entries = {}
        todo = []
        for i, view_keys in enumerate(full):
            for b, key in enumerate(view_keys):
                if key not in entries:
                    entry = self.cache.get(key)
                    if entry is None:
                        todo.append((i, b, key))
                        entries[key] = None
                    else:
                        entries[key] = entry
        if todo:
            norm = views[0]["data_norm_type"]
            features, registers = self._encode_uncached([{"img": views[i]["img"][b:b + 1], "data_norm_type": norm} for i, b, _ in todo])
            with torch.inference_mode(False):
                for j, (_, _, key) in enumerate(todo):
                    entry = (features[j].clone(), None if registers is None else registers[j].clone())
                    entries[key] = entry
                    self.cache.put(key, entry)
        features = tuple(torch.cat([entries[key][0] for key in view_keys], dim=0) for view_keys in full)
        if any(entries[key][1] is None for view_keys in full for key in view_keys):
            return features, None
        return features, tuple(torch.cat([entries[key][1] for key in view_keys], dim=0) for view_keys in full)

    @contextlib.contextmanager
    def _keyed(self, members: List[Member]):
        """While the model runs on the stacked `members`: the image keys the cached encoder looks up."""
        self._call_keys = [[m.image_keys[i] for m in members] for i in range(len(members[0].views))]
        try:
            yield
        finally:
            self._call_keys = None

    # -- requests -------------------------------------------------------------------------------

    def handle(self, frames: List[bytes]) -> List[bytes]:
        """One request's frames -> the reply's frames (never raises)."""
        request_id = None
        self.last_request = "unreadable request"
        try:
            try:
                header, tensors = protocol.decode(frames)
            except (ValueError, UnicodeDecodeError) as error:
                code = "bad_json" if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)) else "bad_message"
                raise WorkerError(code, "frame 0", str(error)) from None
            except TypeError as error:
                raise WorkerError("bad_tensor", "tensors", f"expected {{name, dtype, shape}} descriptors: {error}") from None
            request_id = header.get("id")
            op = header.get("op")
            self.last_request = self._describe(op, header, tensors)
            if header.get("v") != protocol.PROTOCOL_VERSION:
                raise WorkerError("unsupported_version", "v", f"expected {protocol.PROTOCOL_VERSION}, got {header.get('v')!r}")
            if op not in OPERATIONS:
                raise WorkerError("unknown_op", "op", f"expected one of {', '.join(OPERATIONS)}, got {op!r}")
            with contextlib.redirect_stdout(sys.stderr):  # the model's prints never reach stdout
                if op in ("reconstruct", "vjp") and "members" in header:
                    reply, out = self._batch(op, header, tensors)
                else:
                    reply, out = getattr(self, f"op_{op}")(header, tensors)
            self.requests += 1
            return protocol.encode({"v": protocol.PROTOCOL_VERSION, "id": request_id, "ok": True, **reply}, out)
        except WorkerError as error:
            failure = error
        except Exception as error:  # the model failed (out of memory, bad checkpoint...): report, keep serving
            import traceback
            traceback.print_exc(file=sys.stderr)
            failure = WorkerError("model_error", "model", f"{type(error).__name__}: {error}")
        return protocol.encode({"v": protocol.PROTOCOL_VERSION, "id": request_id, "ok": False, "error": failure.info()})

    @staticmethod
    def _describe(op, header, tensors) -> str:
        rgbs = [t for name, t in tensors.items() if name.split("/")[-1] == "rgb" and t.ndim == 4]
        if not rgbs:
            return f"{op}"
        if "members" in header:
            return f"{op} ({len(rgbs)} members, {sum(t.shape[0] for t in rgbs)} views)"
        return f"{op} ({rgbs[0].shape[0]} views)"

    def op_ping(self, header, tensors):
        return {"pong": True}, {}

    def op_handshake(self, header, tensors):
        return {
            "protocol": protocol.PROTOCOL_VERSION, "worker": WORKER_VERSION, "model": self.name,
            "stand_in": self.stand_in, "device": self.options.device, "token_width": self.token_width,
            "patch_size": PATCH_SIZE, "operations": list(OPERATIONS), "upsample": self.options.upsample,
            "resolution": "auto" if self.options.resolution is None else "%dx%d" % self.options.resolution,
            "amp": "bf16" if self.amp_dtype is not None else "none", "members": True,
            "feature_cache": self.options.feature_cache if self.caches_features else 0,
        }, {}

    def op_reconstruct(self, header, tensors):
        member = self._member(header, tensors)
        return self._reconstruct([member])[0]

    def op_vjp(self, header, tensors):
        """d(sum(points_cotangent * points))/d(camera_poses[view_index]) rows 0-2, through `forward`."""
        member = self._member(header, tensors, vjp=True)
        return self._vjp([member])[0]

    def _batch(self, op, header, tensors):
        """A request of `members` M >= 1: tensors `m/NAME`, per-member header fields in `member_fields`
        (a list of M objects, e.g. `view_index`); the reply holds `members` (M reply objects) and tensors
        `m/NAME`. Members with equal view counts, sizes and inputs run as one batch."""
        count = header.get("members")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 4096:
            raise WorkerError("bad_header", "members", f"expected an integer in 1...4096, got {count!r}")
        fields = header.get("member_fields", [{}] * count)
        if not isinstance(fields, list) or len(fields) != count or not all(isinstance(f, dict) for f in fields):
            raise WorkerError("bad_header", "member_fields", f"expected a list of {count} objects, got {fields!r}"[:300])
        split: List[Dict[str, np.ndarray]] = [{} for _ in range(count)]
        for name, value in tensors.items():
            prefix, _, rest = name.partition("/")
            if not prefix.isdigit() or not rest or int(prefix) >= count:
                raise WorkerError("bad_tensor", name[:64], f"expected tensors named m/NAME with m in 0..<{count}")
            split[int(prefix)][rest] = value
        members = []
        for m in range(count):
            try:
                members.append(self._member({**fields[m], "token_grid": header.get("token_grid", fields[m].get("token_grid"))},
                                            split[m], vjp=op == "vjp"))
            except WorkerError as error:
                raise WorkerError(error.code, f"members[{m}].{error.field}", error.message) from None
        replies: List[Optional[Tuple]] = [None] * count
        groups: Dict[Tuple, List[int]] = {}
        for m, member in enumerate(members):
            groups.setdefault(member.signature(), []).append(m)
        for indices in groups.values():
            run = self._reconstruct if op == "reconstruct" else self._vjp
            for m, reply in zip(indices, run([members[m] for m in indices])):
                replies[m] = reply
        out = {f"{m}/{name}": value for m, (_, tensors_m) in enumerate(replies) for name, value in tensors_m.items()}
        return {"members": [fields_m for fields_m, _ in replies]}, out

    # -- the model ------------------------------------------------------------------------------

    @staticmethod
    def _stack(members: List[Member]) -> List[Dict]:
        """The members' views stacked along the batch axis (one view dict per view index)."""
        if len(members) == 1:
            return [{k: v for k, v in view.items() if k != "camera_poses_leaf"} for view in members[0].views]
        import torch
        stacked = []
        for i in range(len(members[0].views)):
            view = {"data_norm_type": members[0].views[i]["data_norm_type"]}
            for key, value in members[0].views[i].items():
                if key not in ("data_norm_type", "camera_poses_leaf"):
                    view[key] = torch.cat([m.views[i][key] for m in members], dim=0)
            stacked.append(view)
        return stacked

    def _reconstruct(self, members: List[Member]) -> List[Tuple[Dict, Dict]]:
        """`infer` on the stacked members -> each member's (reply fields, reply tensors)."""
        views = self._stack(members)
        self._hooked.clear()
        with self._keyed(members):
            outputs = self.model.infer(views, memory_efficient_inference=True, use_amp=self.amp_dtype is not None,
                                       amp_dtype="bf16", apply_mask=True, mask_edges=True)
        if not self._hooked:
            raise WorkerError("model_error", "info_sharing", "the multi-view transformer did not run (no hooked output)")
        features = [f.float() for f in _token_features(self._hooked[-1])]
        self._hooked.clear()
        replies = []
        for b, member in enumerate(members):
            mine = [{key: value[b:b + 1] for key, value in o.items() if hasattr(value, "shape") and value.dim() > 0
                     and value.shape[0] == len(members)} for o in outputs]
            replies.append(self._reconstruction(member, mine, [f[b:b + 1] for f in features]))
        return replies

    def _reconstruction(self, member: Member, outputs: List[Dict], features: List) -> Tuple[Dict, Dict]:
        """One member's reply from its (batch 1) outputs and hooked features."""
        torch = self.torch
        crop, tensors = member.crop, member.tensors
        grid = member.header.get("token_grid") or "environment"
        w, h = crop.source
        n = len(outputs)
        with torch.no_grad():
            stacked = lambda key: torch.cat([o[key].float() for o in outputs], dim=0)
            points = crop.to_source_pixels(stacked("pts3d"), self.options.upsample)
            along = crop.to_source_pixels(stacked("depth_along_ray").reshape(n, *crop.target[::-1], 1), self.options.upsample)[..., 0]
            conf = torch.cat([o["conf"].float().reshape(1, *crop.target[::-1], 1) for o in outputs], dim=0)
            conf = crop.to_source_pixels(conf, self.options.upsample)[..., 0]
            model_mask = torch.cat([self._mask(o).reshape(1, *crop.target[::-1], 1).float() for o in outputs], dim=0)
            mask = crop.to_source_pixels(model_mask, "nearest")[..., 0] > 0.5
            poses = torch.cat([self._pose(o) for o in outputs], dim=0)
        points, along, conf = points.cpu().numpy(), along.cpu().numpy(), conf.cpu().numpy()
        _, _, inside = crop.nearest_model_indices()
        valid = mask.cpu().numpy() & inside[None] & (along > 0) & np.isfinite(along) & np.isfinite(points).all(axis=-1)
        overflow = int((~np.isfinite(conf) & valid).sum())
        conf = np.nan_to_num(conf, nan=MAX_CONFIDENCE, posinf=MAX_CONFIDENCE, neginf=0.0)
        along = np.where(valid, along, 0).astype(np.float32)
        conf = np.where(valid, conf, 0).astype(np.float32)
        points = np.where(valid[..., None], points, 0).astype(np.float32)
        if "intrinsics" in tensors:
            rays = np.stack([ray_directions(k, w, h) for k in tensors["intrinsics"].astype(np.float64)])
        else:
            rays = crop.to_source_pixels(stacked("ray_directions").reshape(n, *crop.target[::-1], 3), self.options.upsample)
            rays = torch.nn.functional.normalize(rays, dim=-1).cpu().numpy().astype(np.float32)
        tokens, token_grid = self._tokens(features, crop, grid)
        scale = float(outputs[0]["metric_scaling_factor"].float().reshape(-1)[0])
        reply = {"metric_scale": scale, "model_resolution": list(crop.target), "token_grid": list(token_grid),
                 "confidence_overflow": overflow, "stand_in": self.stand_in}
        return reply, {
            "ray_directions": rays, "depth_along_ray": along, "camera_poses": poses.cpu().numpy().astype(np.float32),
            "confidence": conf, "mask": valid.astype(np.uint8), "points": points, "tokens": tokens,
        }

    def _vjp(self, members: List[Member]) -> List[Tuple[Dict, Dict]]:
        """`forward` with autograd on the stacked members; one backward pass gives every member's pose
        cotangent (members are independent batch entries, so the summed loss separates)."""
        torch = self.torch
        views = self._stack(members)
        self._hooked.clear()
        with torch.enable_grad():
            with self._keyed(members):
                outputs = self.forward(views)
            loss = 0
            for b, member in enumerate(members):
                pts = torch.cat([o["pts3d"][b:b + 1] for o in outputs], dim=0).float()
                points = member.crop.to_source_pixels(pts, self.options.upsample)
                _, _, inside = member.crop.nearest_model_indices()
                cot = member.tensors["points_cotangent"].astype(np.float32) * inside[None, :, :, None]
                loss = loss + (points * torch.from_numpy(cot).to(points.device)).sum()
            grads = torch.autograd.grad(loss, [m.pose_leaf for m in members], allow_unused=True)
        self._hooked.clear()
        replies = []
        for member, grad in zip(members, grads):
            g = np.zeros((3, 4)) if grad is None else grad.detach().double().cpu().numpy()[:3, :]
            replies.append(({"view_index": member.view_index}, {"pose_cotangent": np.ascontiguousarray(g, dtype=np.float64)}))
        return replies

    # -- inputs and outputs ---------------------------------------------------------------------

    def _member(self, header, tensors, vjp: bool = False) -> Member:
        """Validates one member's tensors (and, for vjp, `view_index` and `points_cotangent`)."""
        grid = header.get("token_grid") or "environment"
        if grid not in ("environment", "model"):
            raise WorkerError("bad_header", "token_grid", f"expected \"environment\" or \"model\", got {grid!r}")
        if not vjp:
            views, crop, keys = self._views(header, tensors)
            return Member(views, crop, tensors, keys, header=header)
        rgb = self._rgb(tensors)
        n = rgb.shape[0]
        index = header.get("view_index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
            raise WorkerError("bad_header", "view_index", f"expected an integer in 0..<{n}, got {index!r}")
        if "camera_poses" not in tensors:
            raise WorkerError("bad_tensor", "camera_poses", "vjp needs the pose inputs (it differentiates with respect to one)")
        cot = tensors.get("points_cotangent")
        expected = (n, rgb.shape[1], rgb.shape[2], 3)
        if cot is None or cot.dtype.str not in ("<f4", "<f8") or cot.shape != expected:
            got = "nothing" if cot is None else f"{cot.dtype.str} {list(cot.shape)}"
            raise WorkerError("bad_tensor", "points_cotangent", f"expected <f4 or <f8 with shape {list(expected)}, got {got}")
        if not np.isfinite(cot).all():
            raise WorkerError("bad_tensor", "points_cotangent", "expected finite values")
        views, crop, keys = self._views(header, tensors, grad_view=index)
        leaf = views[index]["camera_poses_leaf"]
        return Member(views, crop, tensors, keys, view_index=index, pose_leaf=leaf, header=header)

    def _views(self, header, tensors, grad_view: Optional[int] = None) -> Tuple[List[Dict], ResizeCrop, List[Tuple]]:
        """Validates the view tensors and builds MapAnything's input views at the model resolution, and
        each view's image key (a hash of its RGB bytes, its size and the crop to the model's image)."""
        torch = self.torch
        rgb = self._rgb(tensors)
        n, h, w, _ = rgb.shape
        known = {"rgb", "intrinsics", "camera_poses", "depth_z", "is_metric_scale", "points_cotangent"}
        for name in tensors:
            if name not in known:
                raise WorkerError("bad_tensor", name, f"unknown tensor; expected some of {', '.join(sorted(known))}")

        def optional(name, shape, dtypes):
            value = tensors.get(name)
            if value is None:
                return None
            if value.dtype.str not in dtypes or value.shape != shape:
                raise WorkerError("bad_tensor", name, f"expected {' or '.join(dtypes)} with shape {list(shape)}, got {value.dtype.str} {list(value.shape)}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise WorkerError("bad_tensor", name, "expected finite values")
            return value

        k = optional("intrinsics", (n, 3, 3), ("<f4", "<f8"))
        poses = optional("camera_poses", (n, 4, 4), ("<f4", "<f8"))
        depth = optional("depth_z", (n, h, w), ("<f4",))
        metric = optional("is_metric_scale", (n,), ("|u1",))
        if k is not None and not ((k[:, 0, 0] > 0) & (k[:, 1, 1] > 0)).all():
            raise WorkerError("bad_tensor", "intrinsics", "expected positive focal lengths fx = K[0,0], fy = K[1,1]")
        if depth is not None and (depth < 0).any():
            raise WorkerError("bad_tensor", "depth_z", "expected z-depth >= 0 (0 = missing)")
        if depth is not None and k is None:
            raise WorkerError("bad_tensor", "intrinsics", "depth_z needs intrinsics (MapAnything's rule)")
        if poses is not None and not np.allclose(poses[:, 3, :], [0, 0, 0, 1], atol=1e-6):
            raise WorkerError("bad_tensor", "camera_poses", "expected 4x4 camera-to-world matrices with last row [0, 0, 0, 1]")

        crop = ResizeCrop.plan(w, h, choose_resolution(w, h, self.options.resolution))
        device = self.options.device
        images = crop.image(rgb).to(device)
        k_model = crop.intrinsics(k.astype(np.float64)) if k is not None else None
        depth_model = crop.depth(depth) if depth is not None else None
        keys = [(hashlib.blake2b(np.ascontiguousarray(rgb[i]).tobytes(), digest_size=16).digest(), crop) for i in range(n)]
        views = []
        for i in range(n):
            view = {"img": images[i:i + 1], "data_norm_type": ["dinov2"]}
            if k_model is not None:
                view["intrinsics"] = torch.tensor(k_model[i:i + 1], dtype=torch.float32, device=device)
            if poses is not None:
                pose = torch.tensor(poses[i], dtype=torch.float32, device=device)
                if i == grad_view:
                    pose.requires_grad_(True)
                    view["camera_poses_leaf"] = pose
                view["camera_poses"] = pose[None]
            if depth_model is not None:
                # (1, H', W'): the official preprocessing computes depth_z[..., None] * rays.
                view["depth_z"] = torch.tensor(depth_model[i:i + 1], dtype=torch.float32, device=device)
            view["is_metric_scale"] = torch.tensor([bool(metric[i]) if metric is not None else True], device=device)
            views.append(view)
        return views, crop, keys

    @staticmethod
    def _rgb(tensors) -> np.ndarray:
        rgb = tensors.get("rgb")
        if rgb is None or rgb.dtype.str != "|u1" or rgb.ndim != 4 or rgb.shape[3] != 3 or min(rgb.shape[:3]) < 1:
            got = "nothing" if rgb is None else f"{rgb.dtype.str} {list(rgb.shape)}"
            raise WorkerError("bad_tensor", "rgb", f"expected |u1 [views, height, width, 3], got {got}")
        return rgb

    def _mask(self, output):
        torch = self.torch
        for key in ("mask", "non_ambiguous_mask"):
            if key in output:
                return output[key].bool()
        return torch.ones_like(output["depth_along_ray"], dtype=torch.bool)

    def _pose(self, output):
        """(1, 4, 4) camera-to-view-0 pose of one view's outputs."""
        torch = self.torch
        if "camera_poses" in output:
            return output["camera_poses"].float().reshape(1, 4, 4)
        q, t = output["cam_quats"].float().reshape(4), output["cam_trans"].float().reshape(3)
        x, y, z, w = q / q.norm()
        r = torch.stack([
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)]),
            torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)]),
            torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]),
        ])
        pose = torch.eye(4, device=r.device)
        pose[:3, :3], pose[:3, 3] = r, t
        return pose[None]

    def _tokens(self, features, crop: ResizeCrop, grid: str) -> Tuple[np.ndarray, Tuple[int, int]]:
        """[V, P, width] tokens: on the environment's patch grid (nearest model patch), or the model's."""
        torch = self.torch
        per_view = torch.cat([f.reshape(1, f.shape[-3], -1) if f.dim() == 4 else f for f in features], dim=0)  # [V, C, P]
        tokens = per_view.permute(0, 2, 1).contiguous().cpu().numpy().astype(np.float32)          # [V, P, C]
        rows, cols = features[0].shape[-2], features[0].shape[-1]
        self.token_width = tokens.shape[-1]
        if grid == "model":
            return tokens, (rows, cols)
        if (rows, cols) != (crop.target[1] // PATCH_SIZE, crop.target[0] // PATCH_SIZE):
            raise WorkerError("model_error", "info_sharing", f"features on a {rows}x{cols} grid; expected the "
                              f"{crop.target[1] // PATCH_SIZE}x{crop.target[0] // PATCH_SIZE} patches of the model's image")
        env_grid, index = crop.token_indices()
        return np.ascontiguousarray(tokens[:, index, :]), env_grid

    def warm_up(self) -> None:
        """One small reconstruction (a plane seen head-on): loads kernels and learns the token width."""
        h = w = 2 * PATCH_SIZE * 4
        k = np.array([[[w, 0, (w - 1) / 2], [0, w, (h - 1) / 2], [0, 0, 1]]], dtype=np.float64)
        tensors = {"rgb": np.full((1, h, w, 3), 128, np.uint8), "intrinsics": k,
                   "camera_poses": np.eye(4)[None], "depth_z": np.full((1, h, w), 2.0, np.float32)}
        self.op_reconstruct({}, tensors)


def serve(worker: MapAnythingWorker, bind: str, stop: Optional[threading.Event] = None, announce=print) -> None:
    """Answers requests on a ROUTER socket bound to `bind` until `stop` is set; prints the endpoint."""
    import zmq
    context = zmq.Context.instance()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(bind)
    announce(f"listening on {socket.getsockopt_string(zmq.LAST_ENDPOINT)}")
    try:
        while stop is None or not stop.is_set():
            if not socket.poll(200):
                continue
            frames = socket.recv_multipart()
            if len(frames) < 2:
                continue
            envelope, body = frames[:1], frames[1:]
            if body and body[0] == b"":  # REQ clients add an empty delimiter: echo it
                envelope, body = envelope + [b""], body[1:]
            started = time.perf_counter()
            reply = worker.handle(body)
            socket.send_multipart(envelope + reply)
            header = json.loads(reply[0])
            print(f"[mapanything-worker] {worker.last_request}: {'ok' if header.get('ok') else header['error']['code']} "
                  f"in {time.perf_counter() - started:.3f} s", file=sys.stderr, flush=True)
    finally:
        socket.close(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbvgym-mapanything-worker",
        description="Serve MapAnything (from a local checkpoint) as NBVGym's reconstruction backbone over ZeroMQ "
                    "(docs/MAPANYTHING.md). Prints 'listening on ENDPOINT' when ready.")
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint directory with config.json and model.safetensors")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5570", help="ZeroMQ endpoint to bind (tcp://127.0.0.1:* picks a free port)")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    parser.add_argument("--resolution", default="auto", help="model resolution WxH (multiples of 14), or auto: the 518 set's closest aspect ratio")
    parser.add_argument("--amp", default="bf16", choices=("bf16", "none"), help="mixed precision on CUDA (fp16 is not offered: confidence overflows)")
    parser.add_argument("--upsample", default="nearest", choices=("nearest", "bilinear"), help="upsampling of per-pixel outputs to the environment's resolution")
    parser.add_argument("--feature-cache", type=int, default=256, metavar="VIEWS",
                        help="views whose image-encoder output is kept for later calls (least recently used dropped first; "
                             "v1.1 at 518x518 in bf16: 4.2 MB per view); 0 turns the cache off")
    parser.add_argument("--dinov2-repo", metavar="DIR", help="local clone of facebookresearch/dinov2 for building the encoder offline (default: torch hub's cache)")
    parser.add_argument("--stand-in", action="store_true", help="serve StandInMapAnything (exact geometry from the inputs; for tests, NOT MapAnything)")
    parser.add_argument("--stand-in-token-width", type=int, default=32, help="token width of the stand-in")
    return parser


def protect_stdout():
    """Keeps the process's stdout for the worker's own lines: returns a file on a duplicate of file
    descriptor 1 and points descriptor 1 (and `sys.stdout`) at stderr, so that whatever the model or
    its libraries print, from Python or C, lands in the log instead."""
    sys.stdout.flush()
    own = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return own


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    out = protect_stdout()
    import torch
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        options = WorkerOptions(resolution=parse_resolution(args.resolution), upsample=args.upsample, amp=args.amp,
                                device=device, feature_cache=args.feature_cache)
        if args.feature_cache < 0:
            raise ValueError(f"--feature-cache: expected a view count >= 0, got {args.feature_cache}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.stand_in:
        from .stand_in import StandInMapAnything
        model = StandInMapAnything(token_width=args.stand_in_token_width).to(device).eval()
        model.requires_grad_(False)
        worker = MapAnythingWorker(model, options=options, name="StandInMapAnything (stand-in, not MapAnything)")
    else:
        if not args.checkpoint:
            print("error: --checkpoint DIR is required (or --stand-in for the test stand-in)", file=sys.stderr)
            return 2
        from .official import load_official_model, official_forward
        try:
            model = load_official_model(args.checkpoint, device, args.dinov2_repo)
        except (FileNotFoundError, ImportError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        worker = MapAnythingWorker(model, options=options, name=f"MapAnything ({args.checkpoint})")
        worker.forward = official_forward(model, worker.amp_dtype)
    worker.warm_up()
    print(f"[mapanything-worker] {worker.name} on {device}, token width {worker.token_width}, "
          f"resolution {args.resolution}, amp {'bf16' if worker.amp_dtype is not None else 'none'}, "
          f"feature cache {args.feature_cache if worker.caches_features else 0} views", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve(worker, args.bind, stop, announce=lambda line: print(line, file=out, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
