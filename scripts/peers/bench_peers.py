#!/usr/bin/env python3
"""The peers of `nbv bench`, timed on exactly its data in the same run, and the table of ratios.

    bench_peers.py --nbv out/bench/nbv.json --data out/bench/data --out out/bench/bench.json

Reads the figures `nbv bench --json` wrote and the mesh, cameras, reference depth and clouds of
`nbv bench --export DIR`; times
  - Open3D RaycastingScene.cast_rays (depth only) on the same mesh and cameras, one thread per cast and all
    threads over the batch, and checks its depth against ours on view 0 (same mask except silhouettes,
    relative depth difference at most 1e-4);
  - scipy cKDTree and Open3D compute_point_cloud_distance on the same 50k / 20k clouds, checking that their
    Chamfer distance equals ours;
then prints one table (figure, ours, peer, ratio, target, pass/fail) and writes it with every figure to
the --out JSON (atomically). Exit status 1 when a correctness check fails; missed speed targets are
reported, not fatal.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import (cast_depth, chamfer_mean_squared, compare_depth, load_cameras, load_cloud, median_time,  # noqa: E402
                     open3d_chamfer, raycasting_scene, time_scipy_chamfer, write_json_atomically)


def render_peer(data, size, repeat):
    """Open3D depth-only ray casting of the exported cameras at `size`: ms per view on one thread and on
    all threads (the batch in one call), and the depth check on view 0."""
    import open3d as o3d
    scene, _ = raycasting_scene(mesh_path=os.path.join(data, "mesh.ply"))
    doc, per_camera = load_cameras(os.path.join(data, f"cameras_{size}.json"))
    batch = np.concatenate(per_camera)
    batch_tensor = o3d.core.Tensor(batch)
    one = median_time(lambda: [cast_depth(scene, r, nthreads=1) for r in per_camera], repeat) / len(per_camera)
    every = median_time(lambda: scene.cast_rays(batch_tensor, nthreads=0)["t_hit"].numpy(), repeat) / len(per_camera)
    ours = np.load(os.path.join(data, f"depth_{size}_view0.npy"))
    theirs = cast_depth(scene, per_camera[0]).reshape(doc["height"], doc["width"])
    return {"ms_per_view_one_thread": one * 1e3, "ms_per_view_all_threads": every * 1e3, "views": len(per_camera),
            "open3d_version": o3d.__version__, "depth_check_view0": compare_depth(ours, theirs)}


def chamfer_peers(data, repeat):
    p = load_cloud(os.path.join(data, "chamfer_reconstruction.npy"))
    q = load_cloud(os.path.join(data, "chamfer_ground_truth.npy"))
    import scipy
    out = {"scipy_version": scipy.__version__,
           "scipy_all_workers_ms": time_scipy_chamfer(p, q, -1, repeat) * 1e3,
           "scipy_one_worker_ms": time_scipy_chamfer(p, q, 1, repeat) * 1e3,
           "scipy_value": chamfer_mean_squared(p, q)}
    seconds, value = open3d_chamfer(p, q, repeat)
    out["open3d_ms"], out["open3d_value"] = seconds * 1e3, value
    return out


def surface_peer(data, repeat):
    """Open3D's RaycastingScene.compute_distance on the exported points: ms on one thread and on all, and the
    largest difference from our distances."""
    import open3d as o3d
    scene, _ = raycasting_scene(mesh_path=os.path.join(data, "mesh.ply"))
    points = o3d.core.Tensor(load_cloud(os.path.join(data, "surface_points.npy")))
    one = median_time(lambda: scene.compute_distance(points, nthreads=1), repeat)
    every = median_time(lambda: scene.compute_distance(points, nthreads=0), repeat)
    theirs = scene.compute_distance(points).numpy()
    ours = np.load(os.path.join(data, "surface_distances.npy"))
    return {"ms_one_thread": one * 1e3, "ms_all_threads": every * 1e3, "max_abs_difference": float(np.abs(ours - theirs).max())}


def rows(ours, peers):
    """(figure, ours, peer, ratio, target, pass) rows; ratio is the figure the target applies to."""
    out = []

    def add(figure, mine, peer, ratio, target, passed):
        out.append({"figure": figure, "ours": mine, "peer": peer, "ratio": ratio, "target": target, "pass": bool(passed)})

    render = peers.get("render", {})
    if "224" in render and "render" in ours:
        mine, theirs = ours["render"]["224"], render["224"]
        speed = theirs["ms_per_view_one_thread"] / mine["ms_per_view_one_core"]
        add("render 224 RGB+depth, one core (ms/view) vs Open3D depth, 1 thread", mine["ms_per_view_one_core"],
            theirs["ms_per_view_one_thread"], speed, ">= 1.5x faster", speed >= 1.5)
        speed = theirs["ms_per_view_all_threads"] / mine["ms_per_view_all_cores"]
        add(f"render 224 RGB+depth, all {ours['cores']} cores (ms/view) vs Open3D depth, all threads", mine["ms_per_view_all_cores"],
            theirs["ms_per_view_all_threads"], speed, ">= 1.5x faster", speed >= 1.5)
        check = theirs["depth_check_view0"]
        add("render 224 view 0: mask differences off silhouettes", check["mask_differences_off_silhouette"], None, None, "0",
            check["mask_differences_off_silhouette"] == 0)
        add("render 224 view 0: max relative depth difference", check["max_relative_depth_difference"], None, None, "<= 1e-4",
            check["max_relative_depth_difference"] <= 1e-4)
    if "112" in render and "render" in ours:
        mine, theirs = ours["render"]["112"], render["112"]
        speed = theirs["ms_per_view_one_thread"] / mine["ms_per_view_one_core"]
        add("render 112 RGB+depth, one core (ms/view) vs Open3D depth, 1 thread", mine["ms_per_view_one_core"],
            theirs["ms_per_view_one_thread"], speed, "(info)", True)
    chamfer = peers.get("chamfer")
    if chamfer and "chamfer" in ours:
        mine = ours["chamfer"]
        ratio = mine["ms"] / chamfer["scipy_all_workers_ms"]
        add("Chamfer 50k vs 20k, all cores (ms) vs scipy cKDTree workers=-1", mine["ms"], chamfer["scipy_all_workers_ms"], ratio,
            "<= 0.5x the time", ratio <= 0.5)
        ratio = mine["ms"] / chamfer["open3d_ms"]
        add("Chamfer 50k vs 20k, all cores (ms) vs Open3D distances", mine["ms"], chamfer["open3d_ms"], ratio, "<= 1x the time", ratio <= 1)
        ratio = mine["ms_one_core"] / chamfer["scipy_one_worker_ms"]
        add("Chamfer 50k vs 20k, one core (ms) vs scipy cKDTree workers=1", mine["ms_one_core"], chamfer["scipy_one_worker_ms"], ratio,
            "(info)", True)
        for name in ("scipy", "open3d"):
            rel = abs(mine["value"] - chamfer[f"{name}_value"]) / chamfer[f"{name}_value"]
            add(f"Chamfer value vs {name} (relative difference)", mine["value"], chamfer[f"{name}_value"], rel, "<= 1e-5", rel <= 1e-5)
    surface = peers.get("surface")
    if "surface" in ours:
        mine = ours["surface"]
        for key, label in (("preparation", "the mesh"), ("preparation_union", "procedural union-0")):
            prep = mine[key]
            add(f"ground truth of {label} ({prep['triangles']} triangles), one core (ms)", prep["ms_one_core"], None, None, "(info)", True)
        if surface:
            ratio = mine["distance"]["ms_one_core"] / surface["ms_one_thread"]
            add(f"point-to-surface, {mine['distance']['points']} points, one core (ms) vs Open3D compute_distance, 1 thread",
                mine["distance"]["ms_one_core"], surface["ms_one_thread"], ratio, "<= 1x the time", ratio <= 1)
            add("point-to-surface value vs Open3D (largest absolute difference)", surface["max_abs_difference"], None, None, "<= 1e-5",
                surface["max_abs_difference"] <= 1e-5)
    if "incremental" in ours:
        inc = ours["incremental"]
        add("incremental reward per step (ms) vs full recomputation", inc["ms_per_step"], inc["full_recompute_ms"],
            inc["ms_per_step"] / inc["full_recompute_ms"], "(info)", True)
    if "environment" in ours:
        env = ours["environment"]
        one = env["steps_per_second_one_core"]
        add("environment steps/s, one core (112x112, 4 initial views, budget 10)", one, None, None, ">= 600", one >= 600)
        if "steps_per_cpu_second_one_core" in env:
            cpu = env["steps_per_cpu_second_one_core"]
            add("environment steps per CPU-second of the stepping thread (same run)", cpu, None, None, "(>= 600)", cpu >= 600)
        add(f"environment steps/s, vector of {env['vector_size']} on {env['vector_size']} cores", env["steps_per_second_vector"], one,
            env["vector_speedup"], ">= 1.6x one core", env["vector_speedup"] >= 1.6)
    if "wire" in ours:
        wire = ours["wire"]
        add(f"wire: vector-{wire['vector_size']} steps/s remote vs in-process", wire["remote_steps_per_second"],
            wire["in_process_steps_per_second"], wire["remote_over_in_process"], ">= 0.8", wire["remote_over_in_process"] >= 0.8)
        add("wire: single-step round trip (µs, median)", wire["single_step_round_trip_us"], None, None, "(info)", True)
    return out


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(x)
    return f"{x:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nbv", required=True, help="figures written by nbv bench --json")
    ap.add_argument("--data", required=True, help="folder written by nbv bench --export")
    ap.add_argument("--out", required=True, help="JSON to write (atomically)")
    ap.add_argument("--repeat", type=int, default=7, help="timing repetitions (median)")
    args = ap.parse_args()
    with open(args.nbv) as f:
        ours = json.load(f)
    peers = {}
    if "render" in ours:
        peers["render"] = {str(size): render_peer(args.data, size, args.repeat) for size in (224, 112)}
    if "chamfer" in ours:
        peers["chamfer"] = chamfer_peers(args.data, args.repeat)
    if "surface" in ours:
        peers["surface"] = surface_peer(args.data, args.repeat)
    table = rows(ours, peers)
    width = max(len(r["figure"]) for r in table)
    print(f"{'figure':<{width}}  {'ours':>10}  {'peer':>10}  {'ratio':>8}  {'target':<18}  result")
    for r in table:
        print(f"{r['figure']:<{width}}  {fmt(r['ours']):>10}  {fmt(r['peer']):>10}  {fmt(r['ratio']):>8}  {r['target']:<18}  "
              f"{'pass' if r['pass'] else 'FAIL'}")
    write_json_atomically({"nbv": ours, "peers": peers, "table": table}, args.out)
    print(f"wrote {args.out}")
    correctness = [r for r in table if ("value" in r["figure"] or "view 0" in r["figure"]) and not r["pass"]]
    sys.exit(1 if correctness else 0)


if __name__ == "__main__":
    main()
