#!/usr/bin/env python3
"""Reference peer for NBVGym's point-to-surface distance (SurfaceIndex, Sources/Reconstruction/Metrics).

    surface_peer.py VERTICES.bin TRIANGLES.bin POINTS.bin [--bench REPEAT]

VERTICES.bin: raw little-endian float32 [v, 3]; TRIANGLES.bin: raw little-endian uint32 [t, 3];
POINTS.bin: raw little-endian float32 [n, 3]. Prints JSON:
  numpy: the distance from each point to the mesh by scanning every triangle (numpy, written independently:
         the point's projection onto the triangle's plane if it falls inside, else the nearest of the three
         edge segments), in float64;
  trimesh: trimesh.proximity.closest_point's distance for each point (candidate triangles from an r-tree of
         their boxes, then each candidate's closest point), in float64, when trimesh and rtree import
         (scripts/requirements-test.txt; else trimesh_error);
  open3d: Open3D's RaycastingScene.compute_distance for each point, when open3d imports (else open3d_error);
  with --bench R: open3d_seconds, the median time of compute_distance over R runs on all threads and on one.
Exit status 2 with a message on stderr when numpy is missing.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    from peerlib import load_cloud, median_time
except ImportError as error:
    print(f"surface_peer.py needs numpy: {error}", file=sys.stderr)
    sys.exit(2)


def segment_squared(p, a, b):
    """Squared distance from points p [n, 3] to segments a-b [t, 3] -> [n, t]."""
    ab = b - a
    length2 = np.maximum((ab * ab).sum(-1), 1e-300)
    ap = p[:, None, :] - a[None]
    s = np.clip((ap * ab[None]).sum(-1) / length2[None], 0, 1)
    d = ap - s[..., None] * ab[None]
    return (d * d).sum(-1)


def numpy_distances(vertices, triangles, points, chunk=256):
    a, b, c = (vertices[triangles[:, k]].astype(np.float64) for k in range(3))
    normal = np.cross(b - a, c - a)
    area2 = (normal * normal).sum(-1)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk].astype(np.float64)
        edges = np.minimum(np.minimum(segment_squared(p, a, b), segment_squared(p, b, c)), segment_squared(p, c, a))
        # Inside test by barycentric signs of the projection onto each triangle's plane.
        with np.errstate(divide="ignore", invalid="ignore"):
            height = ((p[:, None, :] - a[None]) * normal[None]).sum(-1) / np.sqrt(area2)[None]
            foot = p[:, None, :] - height[..., None] * (normal / np.sqrt(area2)[:, None])[None]
            s0 = (np.cross(b - a, foot - a[None]) * normal[None]).sum(-1)
            s1 = (np.cross(c - b, foot - b[None]) * normal[None]).sum(-1)
            s2 = (np.cross(a - c, foot - c[None]) * normal[None]).sum(-1)
        inside = (s0 >= 0) & (s1 >= 0) & (s2 >= 0) & (area2[None] > 0)
        plane = np.where(inside, height * height, np.inf)
        out[start:start + chunk] = np.sqrt(np.minimum(edges, plane).min(axis=1))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("vertices"); parser.add_argument("triangles"); parser.add_argument("points")
    parser.add_argument("--bench", type=int, default=0, metavar="REPEAT")
    parser.add_argument("--skip-numpy", action="store_true", help="only Open3D (large inputs)")
    args = parser.parse_args()
    vertices = load_cloud(args.vertices)
    triangles = np.fromfile(args.triangles, dtype="<u4").reshape(-1, 3)
    points = load_cloud(args.points)
    doc = {}
    if not args.skip_numpy:
        doc["numpy"] = numpy_distances(vertices, triangles, points).tolist()
    try:
        import trimesh
        import rtree  # noqa: F401  (trimesh's proximity queries need it; import it here to name it if missing)
        mesh = trimesh.Trimesh(vertices=vertices.astype(np.float64), faces=triangles.astype(np.int64), process=False)
        doc["trimesh"] = trimesh.proximity.closest_point(mesh, points.astype(np.float64))[1].astype(float).tolist()
    except ImportError as error:
        doc["trimesh_error"] = f"trimesh or rtree not installed (scripts/requirements-test.txt): {error}"
    try:
        import open3d as o3d
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(triangles.astype(np.uint32)))
        query = o3d.core.Tensor(points)
        doc["open3d"] = scene.compute_distance(query).numpy().astype(float).tolist()
        if args.bench:
            doc["open3d_seconds"] = {
                "all_threads": median_time(lambda: scene.compute_distance(query, nthreads=0), args.bench),
                "one_thread": median_time(lambda: scene.compute_distance(query, nthreads=1), args.bench),
            }
    except ImportError as error:
        doc["open3d_error"] = f"open3d not installed: {error}"
    json.dump(doc, sys.stdout)


if __name__ == "__main__":
    main()
