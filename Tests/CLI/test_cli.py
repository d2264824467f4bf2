"""The `nbv` command as a user runs it: manuals, outputs, determinism and errors.

Runs the release binary (NBV_BIN, default .build/release/nbv; scripts/test builds it)."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NBV = os.environ.get("NBV_BIN", str(ROOT / ".build" / "release" / "nbv"))
WUSON = "/usr/share/assimp/models/PLY/Wuson.ply"


def nbv(*args, check=True):
    result = subprocess.run([NBV, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"nbv {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def png_header(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def read_ply_points(path):
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode()
    count = int(next(l for l in header.splitlines() if l.startswith("element vertex")).split()[2])
    assert "binary_little_endian" in header
    return np.frombuffer(data[end:end + 12 * count], dtype="<f4").reshape(count, 3)


def read_ply_mesh(path):
    """Vertices [v, 3] and triangles [t, 3] of a binary PLY as `TriangleMesh.writePLY` writes it."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    vertices = int(next(l for l in header if l.startswith("element vertex")).split()[2])
    faces = int(next(l for l in header if l.startswith("element face")).split()[2])
    points = np.frombuffer(data[end:end + 12 * vertices], dtype="<f4").reshape(vertices, 3)
    face_bytes = np.frombuffer(data[end + 12 * vertices:end + 12 * vertices + 13 * faces], dtype=np.uint8).reshape(faces, 13)
    assert np.all(face_bytes[:, 0] == 3)
    triangles = face_bytes[:, 1:].copy().view("<u4").reshape(faces, 3)
    return points, triangles


@pytest.mark.parametrize("command", ["", "render", "sheet", "episode", "eval", "compare", "serve", "bench"])
def test_every_subcommand_has_a_manual(command):
    out = nbv(*([command] if command else []), "--help").stdout
    assert "USAGE" in out.upper()
    if command in ("episode", "eval", "compare"):
        assert "--meshes" in out and "--set" in out and "--env" in out


def test_render_writes_pngs_cameras_and_contact_sheet(tmp_path):
    nbv("render", WUSON, "--views", "4", "--width", "64", "--height", "48", "--out", str(tmp_path / "r"))
    folder = tmp_path / "r"
    for i in range(4):
        assert png_header(folder / f"rgb_{i:03d}.png") == (64, 48, 8, 2)       # 8-bit RGB
        assert png_header(folder / f"depth_{i:03d}.png") == (64, 48, 16, 0)    # 16-bit grayscale
    cameras = json.loads((folder / "cameras.json").read_text())
    assert len(cameras["views"]) == 4
    pose = np.array(cameras["views"][0]["camera_to_world"]).reshape(4, 4)
    rotation = pose[:3, :3]
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
    # The camera looks at the object centre: its +Z axis points from its position towards the origin.
    assert np.allclose(rotation[:, 2], -pose[:3, 3] / np.linalg.norm(pose[:3, 3]), atol=1e-9)
    sheet = png_header(folder / "contact_sheet.png")
    assert sheet[0] == 2 * 64 + 2 and sheet[1] == 2 * 48 + 2


def test_episode_is_deterministic_and_writes_clouds(tmp_path):
    args = ["episode", "--env", "envs/procedural-v0.json", "--policy", "random", "--seed", "3", "--set", "image.width=48",
            "--set", "image.height=48"]
    first = nbv(*args, "--out", str(tmp_path / "a")).stdout
    second = nbv(*args, "--out", str(tmp_path / "b")).stdout
    assert first.replace(str(tmp_path / "a"), "") == second.replace(str(tmp_path / "b"), "")
    rows = [l for l in first.splitlines() if l.strip()[:1].isdigit()]
    assert len(rows) == 10                                   # budget of procedural-v0
    cloud = read_ply_points(tmp_path / "a" / "cloud.ply")
    truth = read_ply_points(tmp_path / "a" / "ground_truth.ply")
    assert truth.shape == (16384, 3)
    assert np.all(np.linalg.norm(truth, axis=1) <= 1 + 1e-5)  # normalised mesh: inside the unit sphere
    # The final Chamfer distance printed equals an independent computation on the written files:
    # accuracy = mean squared distance from the cloud to the mesh surface (numpy peer, every triangle),
    # completeness = mean squared distance from the ground-truth samples to the cloud (scipy).
    from scipy.spatial import cKDTree
    sys.path.insert(0, str(ROOT / "scripts" / "peers"))
    from surface_peer import numpy_distances
    vertices, triangles = read_ply_mesh(tmp_path / "a" / "mesh.ply")
    accuracy = np.mean(numpy_distances(vertices, triangles, cloud) ** 2)
    cd = accuracy + np.mean(cKDTree(cloud).query(truth)[0] ** 2)
    printed = float(first.split("final chamfer")[1].split()[0])
    assert cd == pytest.approx(printed, rel=2e-3, abs=2e-6)


def test_eval_table_and_json(tmp_path):
    out = nbv("eval", "--env", "envs/procedural-v0.json", "--policy", "random,uniform", "--episodes", "3", "--protocol", "p10",
              "--set", "image.width=48", "--set", "image.height=48", "--json", str(tmp_path / "e.json")).stdout
    assert "| random | 3 |" in out and "| uniform | 3 |" in out
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["split"] == "test" and doc["seeds"] == [1000, 1001, 1002]
    assert len(doc["episodes"]) == 6
    for episode in doc["episodes"]:
        assert len(episode["coverageHistory"]) == 10 and episode["initialViews"] == 1 and episode["protocolName"] == "p10"
        assert all(b >= a - 1e-12 for a, b in zip(episode["coverageHistory"], episode["coverageHistory"][1:]))
    # The paired difference random - uniform printed and stored equals the t-interval of the per-episode
    # differences computed here (scipy's t quantile).
    from scipy import stats
    auc = {(e["policy"], e["seed"]): np.mean(e["coverageHistory"]) for e in doc["episodes"]}
    d = np.array([auc[("random", s)] - auc[("uniform", s)] for s in doc["seeds"]])
    comparison = next(c for c in doc["cells"][0]["comparisons"] if c["policy"] == "random" and c["category"] == "all")
    assert comparison["coverageAUCVersusUniform"]["mean"] == pytest.approx(d.mean(), abs=1e-12)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert comparison["coverageAUCVersusUniform"]["halfWidth"] == pytest.approx(half, rel=1e-3)


def test_eval_out_writes_tables_and_plots(tmp_path):
    out = tmp_path / "e"
    nbv("eval", "--env", "envs/procedural-v0.json", "--policy", "uniform,random", "--episodes", "2", "--protocol", "few-views",
        "--set", "image.width=32", "--set", "image.height=32", "--out", str(out))
    rows = (out / "comparisons.csv").read_text().splitlines()
    assert rows[0].startswith("protocol,initial_views,policy,category") and rows[1].startswith("few-views,1,random,all,2,")
    curves = (out / "curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 2 * 4                       # two policies, four views
    for name in ("coverage.png", "chamfer.png", "headroom.png"):
        assert png_header(out / name)[0] > 100, name


def test_eval_protocols_set_budget_and_camera(tmp_path):
    nbv("eval", "--env", "envs/procedural-v0.json", "--policy", "uniform,random", "--episodes", "2", "--protocol", "few-views",
        "table-few-views", "--set", "image.width=32", "--set", "image.height=32", "--json", str(tmp_path / "e.json"))
    doc = json.loads((tmp_path / "e.json").read_text())
    assert [c["protocolName"] for c in doc["cells"]] == ["few-views", "table-few-views"]
    assert all(len(e["coverageHistory"]) == 4 for e in doc["episodes"])


@pytest.mark.parametrize("args, expected", [
    (["render", "/usr/share/assimp/models/invalid/empty.obj", "--out", "/tmp/nbv-x"], "empty.obj"),
    (["render", "/nonexistent.ply", "--out", "/tmp/nbv-x"], "/nonexistent.ply"),
    (["render", WUSON, "--views", "0", "--out", "/tmp/nbv-x"], "--views"),
    (["episode", "--set", "episode.budjet=3"], "episode.budjet"),
    (["episode", "--set", "camera.min_radius=0.5"], "camera"),
    (["episode", "--env", "envs/nope.json"], "envs/nope.json"),
    (["episode", "--meshes", "/tmp/definitely-no-such-dir/*.obj"], "definitely-no-such-dir"),
    (["episode", "--policy", "genius"], "--policy"),
    (["eval", "--split", "validation"], "--split"),
    (["eval", "--protocol", "p11"], "--protocol"),
    (["eval", "--policy", "genius"], "--policy"),
    (["eval", "--env", "envs/procedural-v0.json", "--set", "meshes.test_names=[\"blob-9999\"]"], "blob-9999"),
    (["sheet", "procedural:sofa", "--out", "/tmp/nbv-x.png"], "sofa"),
])
def test_bad_input_names_what_is_wrong(args, expected):
    result = nbv(*args, check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_train_manual_lists_values_defaults_arguments_and_examples():
    out = " ".join(nbv("train", "--help").stdout.split())
    for option in ("--agent", "--env", "--meshes", "--set", "--curriculum", "--policy-net", "--hidden", "--layers", "--heads",
                   "--steps", "--out", "--resume", "--seed", "--checkpoint-every", "--keep-checkpoints", "--arg"):
        assert option in out, option
    assert "values: supervised, reinforce, ppo" in out
    assert "values: attention, mlp" in out
    assert "(default: fixed:1)" in out and "(default: 2000)" in out
    for line in ("clip_coef (default 0.2)", "num_steps (default 32)", "episodes_per_update (default 8)", "mode (default \"single_step\")",
                 "anneal_lr (default false)"):
        assert line in out, line
    assert "SIGINT" in out and "--resume" in out and "EXAMPLES" in out


@pytest.mark.parametrize("args, expected", [
    (["--agent", "dqn"], "--agent"),
    (["--agent", "ppo", "--policy-net", "cnn"], "--policy-net"),
    (["--agent", "ppo", "--arg", "learning_rat=1"], "learning_rat"),
    (["--agent", "ppo", "--resume"], "does not exist"),
])
def test_train_refuses_bad_values(tmp_path, args, expected):
    result = nbv("train", *args, "--steps", "8", "--out", str(tmp_path / "missing-run"), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    if expected == "--agent":
        assert "ppo" in result.stderr


def test_select_checkpoint_picks_the_kept_checkpoint_best_against_uniform(tmp_path):
    small = ["--set", "image.width=32", "--set", "image.height=32", "--set", "episode.budget=4"]
    run_dir = tmp_path / "run"
    nbv("train", "--agent", "supervised", "--env", "procedural-v0", *small, "--arg", "episodes_per_update=2",
        "--steps", "18", "--checkpoint-every", "6", "--keep-checkpoints", "0", "--out", str(run_dir))
    kept = sorted(p.name for p in (run_dir / "checkpoints").glob("step-*.safetensors"))
    assert kept == ["step-0000000006.safetensors", "step-0000000012.safetensors", "step-0000000018.safetensors"]
    out = tmp_path / "validation"
    result = subprocess.run([str(ROOT / "scripts" / "select-checkpoint"), str(run_dir), str(out), "--env", "procedural-v0", *small,
                             "--protocol", "few-views", "--episodes", "3", "--seed", "50", "--jobs", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NBV": NBV})
    assert result.returncode == 0, result.stderr
    chosen = result.stdout.strip().splitlines()[-1]
    assert (out / "selected.txt").read_text().strip() == chosen and Path(chosen).is_file()
    # Independently: the highest coverage-AUC difference to uniform among the run's checkpoints, earliest on a tie.
    import csv
    rows = [r for r in csv.DictReader(open(out / "comparisons.csv")) if r["category"] == "all" and r["policy"].startswith("run@")]
    assert sorted(int(r["policy"][4:]) for r in rows) == [6, 12, 18]
    best = max(float(r["coverage_auc_vs_uniform"]) for r in rows)
    step = min(int(r["policy"][4:]) for r in rows if float(r["coverage_auc_vs_uniform"]) == best)
    assert chosen == str(run_dir / "checkpoints" / f"step-{step:010d}.safetensors")
    missing = subprocess.run([str(ROOT / "scripts" / "select-checkpoint"), str(tmp_path), str(out)], capture_output=True, text=True)
    assert missing.returncode == 2 and "not a run folder" in missing.stderr
