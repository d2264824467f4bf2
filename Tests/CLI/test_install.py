"""`nbv` away from the repository: shipped definitions found from any folder (the checkout's build and
an install by scripts/install), NBV_ENVS, an unknown name's message, and the Python client spawning
the installed `nbv` from a temporary folder. Also negative option values' messages."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NBV = os.environ.get("NBV_BIN", str(ROOT / ".build" / "release" / "nbv"))
SMALL = ["--set", "image.width=32", "--set", "image.height=32", "--set", "episode.budget=3"]


def run(args, cwd, env=None, check=True):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, **(env or {})))
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """scripts/install of the tested binary into a temporary prefix."""
    prefix = tmp_path_factory.mktemp("prefix")
    out = run(["bash", str(ROOT / "scripts" / "install"), "--prefix", str(prefix), "--binary", NBV], cwd=ROOT).stdout
    assert f"installed {prefix}/bin/nbv" in out and "procedural-v0" in out
    return prefix


def test_checkout_build_finds_shipped_definitions_from_another_folder(tmp_path):
    out = run([NBV, "episode", "--env", "procedural-v0", "--policy", "uniform", *SMALL], cwd=tmp_path).stdout
    assert "definition procedural-v0" in out and "return" in out


def test_installed_nbv_runs_from_any_folder_with_its_definitions(installed, tmp_path):
    nbv = str(installed / "bin" / "nbv")
    for name in ("procedural-v0", "assimp-v0"):
        out = run([nbv, "episode", "--env", name, "--policy", "uniform", *SMALL], cwd=tmp_path).stdout
        assert f"definition {name}" in out
    # The default definition is found too.
    assert "definition procedural-v0" in run([nbv, "episode", *SMALL], cwd=tmp_path).stdout


def test_unknown_name_lists_known_names_and_searched_folders(installed, tmp_path):
    result = run([str(installed / "bin" / "nbv"), "episode", "--env", "nope-v0"], cwd=tmp_path, check=False)
    assert result.returncode != 0
    message = result.stderr
    assert 'unknown environment "nope-v0"' in message
    assert "procedural-v0" in message and "assimp-v0" in message
    assert f"{installed}/share/nbvgym/envs" in message and f"{tmp_path}/envs" in message


def test_nbv_envs_adds_definition_folders(installed, tmp_path):
    custom = tmp_path / "defs"
    custom.mkdir()
    text = (ROOT / "envs" / "procedural-v0.json").read_text().replace('"procedural-v0"', '"mine-v0"')
    (custom / "mine-v0.json").write_text(text)
    out = run([str(installed / "bin" / "nbv"), "episode", "--env", "mine-v0", *SMALL], cwd=tmp_path,
              env={"NBV_ENVS": f"/nonexistent:{custom}"}).stdout
    assert "definition mine-v0" in out


def test_python_client_spawns_the_installed_nbv_from_a_temporary_folder(installed, tmp_path):
    script = textwrap.dedent("""
        import numpy as np, gymnasium as gym, nbvgym
        env = gym.make("nbvgym/Assimp-v0", overrides={"episode.budget": 3, "image.width": 32, "image.height": 32})
        obs, info = env.reset(seed=2)
        obs, reward, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
        print("mesh", info["mesh"], "reward", reward)
        env.close()
    """)
    env = {k: v for k, v in os.environ.items() if k != "NBV_SERVE"}
    env["PATH"] = f"{installed}/bin:{env['PATH']}"
    env["NBV_SERVE"] = f"{installed}/bin/nbv serve"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "mesh " in result.stdout and "reward " in result.stdout


def test_serve_from_another_folder_knows_the_shipped_definitions(installed, tmp_path):
    server = subprocess.Popen([str(installed / "bin" / "nbv"), "serve", "--bind", "tcp://127.0.0.1:*"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = server.stdout.readline().split()[-1]
        import nbvgym
        with pytest.raises(nbvgym.ServerError, match=r"nope-v0.*procedural-v0"):
            nbvgym.NBVEnv(endpoint=endpoint, definition="nope-v0")
        env = nbvgym.NBVEnv(endpoint=endpoint, definition="assimp-v0", overrides={"image.width": 32, "image.height": 32})
        env.reset(seed=0)
        env.close()
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("args, expected", [
    (["eval", "--episodes", "-1"], "--episodes: expected >= 1, got -1"),
    (["render", "/usr/share/assimp/models/PLY/Wuson.ply", "--out", "/tmp/nbv-neg", "--views", "-2"], "--views: expected 1...1000, got -2"),
    (["episode", "--seed", "-3"], "-3"),
])
def test_negative_values_reach_the_option_check(args, expected, tmp_path):
    result = run([NBV, *args], cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert expected in result.stderr and "Missing value" not in result.stderr, result.stderr


def test_negative_values_are_accepted_where_valid(tmp_path):
    out = tmp_path / "r"
    run([NBV, "render", "/usr/share/assimp/models/PLY/Wuson.ply", "--views", "1", "--width", "32", "--height", "32",
         "--min-elevation", "-45", "--max-elevation", "-10", "--out", str(out)], cwd=tmp_path)
    assert (out / "rgb_000.png").is_file()


def test_installed_train_and_compare_draw_plots_from_a_temporary_folder(installed, tmp_path):
    nbv = str(installed / "bin" / "nbv")
    small = ["--set", "image.width=32", "--set", "image.height=32", "--set", "episode.budget=3"]
    run([nbv, "train", "--agent", "supervised", "--env", "procedural-v0", "--steps", "24", "--out", "run", *small], cwd=tmp_path)
    out = run([nbv, "compare", "--env", "procedural-v0", "--agents", "run", "--episodes", "2", "--jobs", "1",
               "--out", "cmp", *small], cwd=tmp_path)
    assert "plots skipped" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert (tmp_path / "cmp" / "results.md").is_file() and (tmp_path / "cmp" / "coverage.png").is_file()


def test_installed_episode_writes_a_rerun_recording_from_a_temporary_folder(installed, tmp_path):
    pytest.importorskip("rerun", reason="rerun-sdk is installed by scripts/test (scripts/requirements-rerun.txt)")
    out = run([str(installed / "bin" / "nbv"), "episode", "--env", "procedural-v0", *SMALL, "--rerun", "e.rrd"], cwd=tmp_path).stdout
    assert "wrote" in out and (tmp_path / "e.rrd").stat().st_size > 1000
