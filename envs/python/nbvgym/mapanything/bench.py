"""Timing the worker on the real MapAnything model: one environment step's `reconstruct` and `vjp`,
with the feature cache against without it, and M members in one request against M requests.

    python -m nbvgym.mapanything.bench --checkpoint DIR --dinov2-repo DIR [--device cuda] [--amp bf16]
        [--resolution 518x518] [--views 2,4,8,16] [--members 4] [--repeats 3] [--json OUT]

A step with V views: the views 0..V-2 were seen by the previous step (so the cache holds them) and
view V-1 is new (fresh random pixels every repetition, so it is never cached). "uncached" runs the
same call with the cache off. "batched": M such steps (M environments) as one request with `members`
against the same M steps as M requests, cache on. Configurations alternate within each repetition,
so their ratios come from the same minutes of machine load; the figure is the median. On CUDA each
timing is bracketed by synchronisations and the peak memory of each call is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from typing import Dict, List

import numpy as np

from .. import protocol
from .testing import sphere_views


def _eyes(count: int, seed: int) -> List:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        d = rng.normal(size=3)
        out.append(tuple(2.5 * d / np.linalg.norm(d)))
    return out


def _call(worker, op: str, tensors: Dict, **fields) -> Dict:
    header, out = protocol.decode(worker.handle(protocol.encode({"v": 1, "id": "b", "op": op, **fields}, tensors)))
    if not header["ok"]:
        raise RuntimeError(f"{op}: {header['error']}")
    return out


class Bench:
    def __init__(self, worker, size, seed: int = 0):
        import torch
        self.torch, self.worker, self.size = torch, worker, size
        self.cuda = worker.options.device.startswith("cuda")
        self.rng = np.random.default_rng(seed)

    def episode(self, views: int, seed: int) -> Dict:
        w, h = self.size
        return sphere_views(_eyes(views, seed), width=w, height=h, focal=0.9 * w, seed=seed)

    def fresh_last(self, episode: Dict) -> Dict:
        """The episode with new random pixels in its last view (never seen by the cache)."""
        out = dict(episode, rgb=episode["rgb"].copy())
        out["rgb"][-1] = self.rng.integers(0, 256, out["rgb"][-1].shape, dtype=np.uint8)
        return out

    def timed(self, run) -> Dict:
        torch = self.torch
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        run()
        if self.cuda:
            torch.cuda.synchronize()
        return {"s": time.perf_counter() - started,
                "peak_gb": torch.cuda.max_memory_allocated() / 1e9 if self.cuda else float("nan")}

    def step(self, op: str, episodes: List[Dict], cached: bool, batched: bool) -> Dict:
        """One step of every episode (last view new), timed; the cache is warmed with views 0..V-2 first."""
        worker = self.worker
        worker.cache.entries.clear()
        episodes = [self.fresh_last(e) for e in episodes]
        if cached:
            for e in episodes:
                _call(worker, "reconstruct", {k: v[:-1] for k, v in e.items()})
        capacity = worker.cache.capacity
        worker.cache.capacity = capacity if cached else 0

        def request(e):
            if op == "vjp":
                cot = self.rng.normal(size=e["rgb"].shape[:3] + (3,)).astype(np.float32)
                return dict(e, points_cotangent=cot), {"view_index": len(e["rgb"]) - 1}
            return dict(e), {}

        requests = [request(e) for e in episodes]
        try:
            if batched:
                tensors = {f"{m}/{k}": v for m, (t, _) in enumerate(requests) for k, v in t.items()}
                fields = {"members": len(requests)}
                if op == "vjp":
                    fields["member_fields"] = [f for _, f in requests]
                return self.timed(lambda: _call(worker, op, tensors, **fields))
            return self.timed(lambda: [_call(worker, op, t, **f) for t, f in requests])
        finally:
            worker.cache.capacity = capacity


def run(args) -> List[Dict]:
    import torch
    from .official import load_official_model, official_forward
    from .preprocessing import parse_resolution
    from .worker import MapAnythingWorker, WorkerOptions

    size = parse_resolution(args.resolution)
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        model = load_official_model(args.checkpoint, args.device, args.dinov2_repo)
    options = WorkerOptions(resolution=size, amp=args.amp, device=args.device, feature_cache=1024)
    worker = MapAnythingWorker(model, options=options, name="bench")
    worker.forward = official_forward(model, worker.amp_dtype)
    print(f"[bench] model loaded in {time.perf_counter() - started:.1f} s; {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M "
          f"parameters; {args.device}, amp {args.amp}, {size[0]}x{size[1]}", file=sys.stderr, flush=True)
    bench = Bench(worker, size)
    rows = []
    for views in [int(v) for v in args.views.split(",")]:
        single = [bench.episode(views, seed=views)]
        members = [bench.episode(views, seed=100 * views + m) for m in range(args.members)]
        configs = {f"{op} {mode}": (op, single if mode in ("cached", "uncached") else members, mode != "uncached", mode == "batched")
                   for op in args.ops.split(",") for mode in ("cached", "uncached", "batched", "one-by-one")
                   if args.members > 1 or mode in ("cached", "uncached")}
        with contextlib.redirect_stdout(sys.stderr):
            for name, (op, episodes, cached, batched) in configs.items():  # warm-up: kernels, allocator
                bench.step(op, episodes, cached, batched)
            results = {name: [] for name in configs}
            for _ in range(args.repeats):
                for name, (op, episodes, cached, batched) in configs.items():
                    results[name].append(bench.step(op, episodes, cached, batched))
        for name, samples in results.items():
            row = {"views": views, "config": name, "s": statistics.median(s["s"] for s in samples),
                   "peak_gb": max(s["peak_gb"] for s in samples), "members": args.members if "batch" in name or "one-by-one" in name else 1}
            rows.append(row)
            print(f"[bench] {views:3d} views  {name:22s} {row['s'] * 1000:9.1f} ms  peak {row['peak_gb']:.2f} GB", file=sys.stderr, flush=True)
    return rows


def table(rows: List[Dict]) -> str:
    """Markdown: per view count, each op's cached and uncached times and their ratio, and batched
    against one-by-one for M members."""
    lines = ["| views | op | cached ms | uncached ms | uncached/cached | M | batched ms | one-by-one ms | one-by-one/batched | peak GB (uncached) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["views"], r["config"]): r for r in rows}
    for views in sorted({r["views"] for r in rows}):
        for op in ("reconstruct", "vjp"):
            c, u = by.get((views, f"{op} cached")), by.get((views, f"{op} uncached"))
            if not c:
                continue
            b, o = by.get((views, f"{op} batched")), by.get((views, f"{op} one-by-one"))
            batch = (f"{b['members']} | {b['s'] * 1e3:.1f} | {o['s'] * 1e3:.1f} | {o['s'] / b['s']:.2f}" if b and o else "1 | - | - | -")
            lines.append(f"| {views} | {op} | {c['s'] * 1e3:.1f} | {u['s'] * 1e3:.1f} | {u['s'] / c['s']:.2f} | {batch} | {u['peak_gb']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbvgym.mapanything.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (config.json, model.safetensors)")
    parser.add_argument("--dinov2-repo", required=True, help="local clone of facebookresearch/dinov2")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--amp", default="none", choices=("bf16", "none"), help="bf16 autocast (CUDA only) or fp32")
    parser.add_argument("--resolution", default="112x112", help="model resolution WxH (multiples of 14); views are made at this size")
    parser.add_argument("--views", default="2,4", help="comma-separated view counts V (a step adds view V-1)")
    parser.add_argument("--ops", default="reconstruct,vjp", help="comma-separated: reconstruct, vjp")
    parser.add_argument("--members", type=int, default=4, help="M, environments per batched request (1: no batch comparison)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions per configuration (after one warm-up)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    rows = run(args)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
