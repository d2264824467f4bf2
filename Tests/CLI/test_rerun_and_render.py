"""`nbv episode --rerun` recordings read back with rerun-sdk, and `nbv render`'s depth preview and
textures (the Collada duck's TGA)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NBV = os.environ.get("NBV_BIN", str(ROOT / ".build" / "release" / "nbv"))
DUCK = "/usr/share/assimp/models/Collada/duck.dae"


def nbv(*args, cwd=ROOT):
    result = subprocess.run([NBV, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"nbv {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def read_png(path):
    Image = pytest.importorskip("PIL.Image", reason="pillow (installed with rerun-sdk by scripts/test) reads the PNGs")
    with Image.open(path) as image:
        return np.asarray(image)


def test_duck_renders_yellow_from_its_tga_texture(tmp_path):
    nbv("render", DUCK, "--views", "4", "--width", "96", "--height", "96", "--out", str(tmp_path))
    for i in range(4):
        rgb = read_png(tmp_path / f"rgb_{i:03d}.png").astype(float)
        duck = read_png(tmp_path / f"depth_{i:03d}.png") > 0
        assert duck.sum() > 500
        r, g, b = (rgb[..., c][duck].mean() for c in range(3))
        assert r > 1.5 * b and g > 1.3 * b, f"view {i}: mean colour {r:.0f}, {g:.0f}, {b:.0f} is not yellow"


def test_depth_preview_is_coloured_where_depth_is_and_black_elsewhere(tmp_path):
    nbv("render", "/usr/share/assimp/models/PLY/Wuson.ply", "--views", "2", "--width", "64", "--height", "64",
        "--out", str(tmp_path))
    for i in range(2):
        depth = read_png(tmp_path / f"depth_{i:03d}.png").astype(float)
        preview = read_png(tmp_path / f"depth_preview_{i:03d}.png").astype(int)
        assert preview.shape == (64, 64, 3)
        valid = depth > 0
        np.testing.assert_array_equal(preview[~valid], 0)
        assert (preview[valid].sum(axis=1) > 60).all()          # not black: visible in a viewer
        near, far = np.unravel_index(np.where(valid, depth, np.inf).argmin(), depth.shape), np.unravel_index(depth.argmax(), depth.shape)
        assert preview[near][2] > preview[near][0] and preview[far][0] > preview[far][2]  # near blue, far red


def rows_by_entity(path):
    """{entity path: [(view, {component: value})]} of a recording, read with rerun-sdk."""
    rr = pytest.importorskip("rerun", reason="rerun-sdk is installed by scripts/test (scripts/requirements-rerun.txt)")
    entities = {}
    for chunk in rr.chunk.RrdReader(str(path)).stream():
        batch = chunk.to_record_batch()
        columns = {name: batch.column(name).to_pylist() for name in batch.schema.names if ":" in name or name == "view"}
        for row in range(chunk.num_rows):
            view = columns["view"][row] if "view" in columns else None
            entities.setdefault(chunk.entity_path, []).append((view, {k: v[row] for k, v in columns.items() if k != "view"}))
    return entities


def test_episode_rerun_recording_holds_mesh_cameras_images_cloud_coverage(tmp_path):
    pytest.importorskip("rerun", reason="rerun-sdk is installed by scripts/test (scripts/requirements-rerun.txt)")
    out = tmp_path / "episode.rrd"
    stdout = nbv("episode", "--env", "procedural-v0", "--policy", "uniform", "--seed", "4", "--set", "episode.budget=4",
                 "--set", "episode.initial_views=2", "--set", "image.width=48", "--set", "image.height=40", "--rerun", str(out),
                 cwd=tmp_path)
    assert f"wrote {out}" in stdout and out.is_file() and not (tmp_path / "episode.rrd.parts").exists()
    # Rows "view (x, y, z) chamfer coverage ...": view -> coverage.
    printed = {int(l.split()[0]): float(l.split(")")[1].split()[1]) for l in stdout.splitlines() if l.strip()[:1].isdigit()}
    entities = rows_by_entity(out)

    mesh = entities["/world/mesh"][0][1]
    assert len(mesh["Mesh3D:vertex_positions"]) > 100 and len(mesh["Mesh3D:triangle_indices"]) > 100
    cameras = sorted(p for p in entities if p.startswith("/world/cameras/") and p.count("/") == 3)
    assert cameras == [f"/world/cameras/{k:03d}" for k in range(4)]
    for k, path in enumerate(cameras):
        # Each row holds a list of instances; cameras have one.
        components = {name: value[0] for _, row in entities[path] for name, value in row.items()}
        assert components["Pinhole:resolution"] == [48, 40]
        position = np.asarray(components["Transform3D:translation"])
        rotation = np.asarray(components["Transform3D:mat3x3"]).reshape(3, 3, order="F")  # column-major
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-5)
        # OpenCV axes: the camera's +Z looks at the object at the origin.
        np.testing.assert_allclose(rotation[:, 2], -position / np.linalg.norm(position), atol=1e-5)
        ((view, image),) = entities[path + "/rgb"]
        assert view == max(k + 1, 2)  # the initial views arrive together, after reset
        assert len(image["Image:buffer"][0]) == 48 * 40 * 3

    coverage = {view: row["Scalars:scalars"][0] for view, row in entities["/metrics/coverage"]}
    assert sorted(coverage) == [2, 3, 4]
    for view, value in coverage.items():
        assert value == pytest.approx(printed[view], abs=5e-5)
    assert len(entities["/metrics/chamfer"]) == 3 and len(entities["/metrics/reward"]) == 2
    clouds = {view: len(row["Points3D:positions"]) for view, row in entities["/world/cloud"]}
    assert clouds[2] < clouds[3] < clouds[4]                                  # the cloud grows view by view
    for view, row in entities["/world/ground_truth"]:
        colours = np.asarray(row["Points3D:colors"], dtype=np.uint64)
        green = (colours >> 8 & 0xFF) > (colours >> 24 & 0xFF)               # RGBA packed as 0xRRGGBBAA
        assert green.mean() == pytest.approx(coverage[view], abs=1e-6)        # covered samples are the coverage
