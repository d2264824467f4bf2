#!/usr/bin/env python3
"""Reference peer for NBVGym's metrics (Sources/Metrics), computed with scipy's cKDTree.

Clouds are raw little-endian float32 files, row-major [n, 3] (the layout of PointCloud.coordinates).

    chamfer_peer.py P.bin Q.bin [--eps E] [--tau T]
        prints JSON: the Chamfer distance CD(P, Q) for every reduction/norm, its two sides,
        coverage@eps of Q by P, and precision / recall / F-score at tau.

    chamfer_peer.py --bench [P.bin Q.bin] [--repeat N]
        times cKDTree build + query in both directions (what one Chamfer evaluation costs), with
        workers=-1 and workers=1, and Open3D's compute_point_cloud_distance both ways if open3d
        imports; without files, uses 50k vs 20k noisy unit-sphere points. Prints JSON (seconds, median).

Exit status 2 with a message on stderr when numpy or scipy is missing.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import scipy  # noqa: F401  (the peer; imported here so that its absence is reported up front)
    from peerlib import load_cloud as load, open3d_chamfer, squared_nearest, time_scipy_chamfer
except ImportError as error:  # the Swift test reports this verbatim
    print(f"chamfer_peer.py needs numpy and scipy: {error}", file=sys.stderr)
    sys.exit(2)


def metrics(p, q, eps, tau):
    dp = squared_nearest(p, q)  # P -> Q
    dq = squared_nearest(q, p)  # Q -> P
    out = {"count_p": len(p), "count_q": len(q), "eps": eps, "tau": tau, "chamfer": {}, "accuracy": {}, "completeness": {}}
    for reduction in ("mean", "sum"):
        for norm in ("squared", "l1"):
            key = f"{reduction}/{norm}"
            if len(p) == 0 or len(q) == 0:
                a = c = math.inf
            else:
                tp = dp if norm == "squared" else np.sqrt(dp)
                tq = dq if norm == "squared" else np.sqrt(dq)
                a = float(tp.mean() if reduction == "mean" else tp.sum())
                c = float(tq.mean() if reduction == "mean" else tq.sum())
            out["accuracy"][key], out["completeness"][key], out["chamfer"][key] = a, c, a + c
    out["coverage"] = float(np.mean(np.sqrt(dq) <= eps)) if len(q) else 0.0
    precision = float(np.mean(np.sqrt(dp) <= tau)) if len(p) else 0.0
    recall = float(np.mean(np.sqrt(dq) <= tau)) if len(q) else 0.0
    out["precision"], out["recall"] = precision, recall
    out["fscore"] = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    # JSON has no infinity: write it as a string the Swift side parses.
    return json.loads(json.dumps(out).replace("Infinity", '"inf"'))


def sphere(n, seed, noise=0.005):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return (v * (1 + noise * rng.normal(size=(n, 1)))).astype(np.float32)


def bench(p, q, repeat):
    out = {"count_p": len(p), "count_q": len(q), "repeat": repeat,
           "scipy_version": __import__("scipy").__version__,
           "scipy_workers_all_s": time_scipy_chamfer(p, q, -1, repeat),
           "scipy_workers_1_s": time_scipy_chamfer(p, q, 1, repeat)}
    try:
        import open3d as o3d
        out["open3d_version"] = o3d.__version__
        out["open3d_s"], _ = open3d_chamfer(p, q, repeat)
    except Exception as error:  # open3d is optional
        out["open3d_unavailable"] = f"{type(error).__name__}: {error}"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("p", nargs="?", help="reconstruction P, float32 [n, 3]")
    parser.add_argument("q", nargs="?", help="ground truth Q, float32 [m, 3]")
    parser.add_argument("--eps", type=float, default=math.sqrt(5e-5), help="coverage radius (default sqrt(5e-5))")
    parser.add_argument("--tau", type=float, default=0.01, help="F-score radius (default 0.01)")
    parser.add_argument("--bench", action="store_true", help="time cKDTree (and Open3D) instead")
    parser.add_argument("--repeat", type=int, default=7, help="timing repetitions (median reported)")
    args = parser.parse_args()
    if args.bench:
        if args.p and args.q:
            p, q = load(args.p), load(args.q)
        else:
            p, q = sphere(50_000, 1), sphere(20_000, 2)
        print(json.dumps(bench(p, q, args.repeat)))
        return
    if not (args.p and args.q):
        parser.error("two cloud files P and Q are required (or --bench)")
    print(json.dumps(metrics(load(args.p), load(args.q), args.eps, args.tau)))


if __name__ == "__main__":
    main()
