#!/usr/bin/env python3
"""Peer timing for the renderer: Open3D RaycastingScene depth-only ray casting of the UV spheres that
RenderingTests' RenderTimingTests renders, same camera (first of its 10), same resolution.

    python3 scripts/peers/reference_raycast.py [--depth-dir DIR]

Prints milliseconds per 224x224 and 112x112 cast; with --depth-dir, compares the z-depth with the
renderer's (files written by RenderTimingTests when NBV_RENDER_DEPTH_DIR is set). scripts/bench does the
same on a real mesh with the cameras of `nbv bench`.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import cast_depth, compare_depth, look_at, median_time, pixel_directions, rays, raycasting_scene, uv_sphere  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth-dir")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    eye = np.array([0.0, 0.3 * (0 % 5 - 2), 2.5])
    rotation = look_at(eye)
    for stacks in (36, 112):
        scene, triangles = raycasting_scene(*uv_sphere(stacks, 2 * stacks))
        for size in (112, 224):
            f = size / 2 / math.tan(math.radians(30))
            c = (size - 1) / 2
            ray_array = rays(rotation, eye, pixel_directions(size, size, f, f, c, c))
            ms = median_time(lambda: cast_depth(scene, ray_array), args.repeats) * 1e3
            print(f"open3d RaycastingScene sphere {triangles} triangles {size}x{size}: {ms:.3f} ms per cast")
            path = args.depth_dir and os.path.join(args.depth_dir, f"depth_sphere{stacks}_224.f32")
            if size == 224 and path and os.path.exists(path):
                ours = np.fromfile(path, "<f4").reshape(size, size)
                print(f"  depth vs renderer: {compare_depth(ours, cast_depth(scene, ray_array).reshape(size, size))}")


if __name__ == "__main__":
    main()
