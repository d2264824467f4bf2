#!/usr/bin/env python3
"""Peer timing for the renderer: Open3D RaycastingScene depth-only ray casting of the UV spheres that
RenderingTests' RenderTimingTests renders, same camera (first of its 10), same resolution.

    python3 scripts/reference_raycast.py [--depth-dir DIR]

Prints milliseconds per 224x224 and 112x112 cast; with --depth-dir, compares the z-depth with the
renderer's (files written by RenderTimingTests when NBV_RENDER_DEPTH_DIR is set).
"""
import argparse
import math
import os
import time

import numpy as np
import open3d as o3d


def uv_sphere(stacks, slices):
    """Same vertices and triangles as TestScenes.uvSphere (radius 1, centre 0)."""
    pos = [(0.0, 1.0, 0.0)]
    for i in range(1, stacks):
        th = math.pi * i / stacks
        for j in range(slices):
            ph = 2 * math.pi * j / slices
            pos.append((math.sin(th) * math.cos(ph), math.cos(th), math.sin(th) * math.sin(ph)))
    pos.append((0.0, -1.0, 0.0))
    south = len(pos) - 1
    ring = lambda i, j: 1 + (i - 1) * slices + (j % slices)
    tri = [(0, ring(1, j + 1), ring(1, j)) for j in range(slices)]
    for i in range(1, stacks - 1):
        for j in range(slices):
            tri.append((ring(i, j), ring(i, j + 1), ring(i + 1, j + 1)))
            tri.append((ring(i, j), ring(i + 1, j + 1), ring(i + 1, j)))
    tri += [(ring(stacks - 1, j), ring(stacks - 1, j + 1), south) for j in range(slices)]
    return np.asarray(pos, np.float32), np.asarray(tri, np.uint32)


def look_at(eye):
    """Geometry.lookAtPose: camera-to-world rotation columns r (right), d (down), f (forward)."""
    f = -eye / np.linalg.norm(eye)
    r = np.cross(f, [0.0, 1.0, 0.0]); r /= np.linalg.norm(r)
    d = np.cross(f, r)
    return np.stack([r, d, f], axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth-dir")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    eye = np.array([0.0, 0.3 * (0 % 5 - 2), 2.5])
    rot = look_at(eye)
    for stacks in (36, 112):
        pos, tri = uv_sphere(stacks, 2 * stacks)
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(pos), o3d.core.Tensor(tri))
        for size in (112, 224):
            f = size / 2 / math.tan(math.radians(30))
            c = (size - 1) / 2
            u, v = np.meshgrid(np.arange(size), np.arange(size))
            dirs_cam = np.stack([(u - c) / f, (v - c) / f, np.ones_like(u, dtype=float)], -1).reshape(-1, 3)
            dirs = dirs_cam @ rot.T
            rays = np.concatenate([np.broadcast_to(eye, dirs.shape), dirs], 1).astype(np.float32)
            rays_t = o3d.core.Tensor(rays)
            scene.cast_rays(rays_t)
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                hit = scene.cast_rays(rays_t)["t_hit"].numpy()
            ms = (time.perf_counter() - t0) / args.repeats * 1e3
            print(f"open3d RaycastingScene sphere {len(tri)} triangles {size}x{size}: {ms:.3f} ms per cast")
            path = args.depth_dir and os.path.join(args.depth_dir, f"depth_sphere{stacks}_224.f32")
            if size == 224 and path and os.path.exists(path):
                ours = np.fromfile(path, "<f4")
                theirs = np.where(np.isfinite(hit), hit, 0)  # t along a ray with z = 1 is z-depth
                both = (ours > 0) & (theirs > 0)
                rel = np.abs(ours[both] - theirs[both]) / theirs[both]
                print(f"  depth vs renderer: {both.sum()} pixels both, mask differs at {((ours > 0) != (theirs > 0)).sum()}, "
                      f"max rel diff {rel.max():.2e}")


if __name__ == "__main__":
    main()
