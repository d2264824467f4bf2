"""Shared pieces of NBVGym's Python peers (scripts/peers/*.py): data loading, timing, cameras and rays in
NBVGym's conventions (docs/ARCHITECTURE.md), Open3D ray casting and the Chamfer peers (scipy cKDTree, Open3D).

Imports numpy only; scipy and open3d are imported by the functions that need them, so a missing peer
gives an error naming it.
"""
import json
import os
import tempfile
import time

import numpy as np


# Data ---------------------------------------------------------------------------------------------------

def load_cloud(path):
    """A [n, 3] float32 cloud from a .npy file or a raw little-endian float32 file (PointCloud's layout)."""
    if path.endswith(".npy"):
        data = np.load(path).astype(np.float32, copy=False)
    else:
        data = np.fromfile(path, dtype="<f4")
    if data.size % 3:
        raise SystemExit(f"{path}: {data.size} float32 values, expected a multiple of 3 ([n, 3])")
    return data.reshape(-1, 3)


def write_json_atomically(doc, path):
    """Writes JSON to a temporary file beside `path`, then renames it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def median_time(fn, repeat, warmup=1):
    """Median seconds of `repeat` calls of fn() after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# Cameras and rays ---------------------------------------------------------------------------------------

def look_at(eye):
    """Geometry.lookAtPose's rotation (camera-to-world columns: right, down, forward) for a camera at `eye`
    looking at the origin with +Y up."""
    f = -np.asarray(eye, float) / np.linalg.norm(eye)
    r = np.cross(f, [0.0, 1.0, 0.0]); r /= np.linalg.norm(r)
    d = np.cross(f, r)
    return np.stack([r, d, f], axis=1)


def pixel_directions(width, height, fx, fy, cx, cy):
    """[height * width, 3] camera-frame directions ((u - cx)/fx, (v - cy)/fy, 1), row-major pixels: a ray
    parameter along them is z-depth."""
    u, v = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    return np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], -1).reshape(-1, 3)


def rays(rotation, eye, directions):
    """[n, 6] float32 rays (origin, world direction) for camera-frame `directions`."""
    world = directions @ np.asarray(rotation, float).T
    return np.concatenate([np.broadcast_to(np.asarray(eye, float), world.shape), world], 1).astype(np.float32)


def load_cameras(path):
    """The cameras `nbv bench --export` wrote: (doc, [[n, 6] rays per camera])."""
    with open(path) as f:
        doc = json.load(f)
    directions = pixel_directions(doc["width"], doc["height"], doc["fx"], doc["fy"], doc["cx"], doc["cy"])
    out = []
    for camera in doc["cameras"]:
        m = np.asarray(camera["camera_to_world"], float).reshape(4, 4)
        out.append(rays(m[:3, :3], m[:3, 3], directions))
    return doc, out


# Open3D ray casting -------------------------------------------------------------------------------------

def raycasting_scene(vertices=None, triangles=None, mesh_path=None):
    """An Open3D RaycastingScene of a triangle mesh given as arrays or as a file Open3D reads."""
    import open3d as o3d
    if mesh_path is not None:
        legacy = o3d.io.read_triangle_mesh(mesh_path)
        if len(legacy.triangles) == 0:
            raise SystemExit(f"{mesh_path}: Open3D read no triangles")
        vertices = np.asarray(legacy.vertices, np.float32)
        triangles = np.asarray(legacy.triangles, np.uint32)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(triangles, np.uint32)))
    return scene, len(triangles)


def cast_depth(scene, ray_array, nthreads=0):
    """z-depth of each ray (its directions have z = 1 in the camera frame), 0 where it misses."""
    import open3d as o3d
    hit = scene.cast_rays(o3d.core.Tensor(ray_array), nthreads=nthreads)["t_hit"].numpy()
    return np.where(np.isfinite(hit), hit, 0).astype(np.float32)


def compare_depth(ours, theirs):
    """Agreement of two [H, W] z-depth images (0 = missing): mask differences away from silhouettes (pixels
    whose 3x3 neighbourhood is not all covered or all empty in either mask) and the largest relative depth
    difference on pixels covered in both, away from depth discontinuities."""
    a, b = ours > 0, theirs > 0

    def mixed(mask):
        padded = np.pad(mask, 1, mode="edge")
        windows = [padded[1 + dy:1 + dy + mask.shape[0], 1 + dx:1 + dx + mask.shape[1]] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        stack = np.stack(windows)
        return stack.any(0) & ~stack.all(0)

    silhouette = mixed(a) | mixed(b)
    both = a & b & ~silhouette
    rel = np.abs(ours[both] - theirs[both]) / theirs[both]
    # A pixel beside a depth jump may see a different surface in either renderer (a pixel centre on an edge).
    padded = np.pad(ours, 1, mode="edge")
    jump = np.zeros_like(a)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            neighbour = padded[1 + dy:1 + dy + ours.shape[0], 1 + dx:1 + dx + ours.shape[1]]
            jump |= np.abs(neighbour - ours) > 0.05 * np.maximum(ours, 1e-6)
    smooth = both & ~jump
    rel_smooth = np.abs(ours[smooth] - theirs[smooth]) / theirs[smooth]
    return {
        "covered_ours": int(a.sum()), "covered_peer": int(b.sum()),
        "mask_differences": int((a != b).sum()), "mask_differences_off_silhouette": int(((a != b) & ~silhouette).sum()),
        "compared_pixels": int(smooth.sum()),
        "max_relative_depth_difference": float(rel_smooth.max()) if rel_smooth.size else 0.0,
        "pixels_over_1e-4_at_depth_edges": int((rel > 1e-4).sum() - (rel_smooth > 1e-4).sum()),
    }


# Chamfer peers ------------------------------------------------------------------------------------------

def squared_nearest(a, b, workers=-1):
    """min_{y in b} |x - y|^2 for every x in a (float64), with scipy's cKDTree."""
    from scipy.spatial import cKDTree
    if len(b) == 0:
        return np.full(len(a), np.inf)
    d, _ = cKDTree(b).query(a, k=1, workers=workers)
    return np.asarray(d, dtype=np.float64) ** 2


def chamfer_mean_squared(p, q, workers=-1):
    """CD(P, Q) = mean_p d(p, Q)^2 + mean_q d(q, P)^2 (NBVGym's default reduction and norm)."""
    return float(squared_nearest(p, q, workers).mean() + squared_nearest(q, p, workers).mean())


def time_scipy_chamfer(p, q, workers, repeat):
    """Seconds of one Chamfer evaluation with cKDTree: both trees built, both directions queried."""
    from scipy.spatial import cKDTree
    return median_time(lambda: (cKDTree(q).query(p, k=1, workers=workers), cKDTree(p).query(q, k=1, workers=workers)), repeat)


def open3d_chamfer(p, q, repeat):
    """(seconds, CD value) of Open3D's compute_point_cloud_distance in both directions."""
    import open3d as o3d
    pp = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p.astype(np.float64)))
    qq = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(q.astype(np.float64)))
    seconds = median_time(lambda: (pp.compute_point_cloud_distance(qq), qq.compute_point_cloud_distance(pp)), repeat)
    a = np.asarray(pp.compute_point_cloud_distance(qq)) ** 2
    b = np.asarray(qq.compute_point_cloud_distance(pp)) ** 2
    return seconds, float(a.mean() + b.mean())
