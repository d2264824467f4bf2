"""scripts/fetch-objects: installs the real objects from a pybullet archive, checks them, is idempotent.

The archive here is rebuilt from the installed objects (scripts/test runs scripts/fetch-objects first),
laid out as in the pybullet wheel, so the test needs no network."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fetch-objects"
INSTALLED = Path(os.environ.get("NBV_OBJECTS") or Path.home() / ".cache/nbvgym/objects") / "pybullet"


def load_script():
    loader = importlib.machinery.SourceFileLoader("fetch_objects", str(SCRIPT))
    spec = importlib.util.spec_from_loader("fetch_objects", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def make_archive(path, fetch, drop=None, corrupt=None):
    """A wheel-like zip holding every wanted member (from the installed files), minus `drop`, with
    `corrupt` altered."""
    with zipfile.ZipFile(path, "w") as z:
        for member, relative in fetch.wanted("").items():
            if member == drop:
                continue
            data = (INSTALLED / relative).read_bytes()
            if member == corrupt:
                data += b"\n# altered\n"
            z.writestr(member, data)
        z.writestr("pybullet_data/plane.obj", "v 0 0 0\n")   # not wanted: must not be extracted
        z.writestr("pybullet_data/random_urdfs/168/168.obj", "v nan nan nan\nv 0 0 0\nv 1 0 0\nf 1 2 3\n")   # as shipped: broken


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def fetch():
    if not (INSTALLED / ".complete").exists():
        pytest.fail(f"objects not installed in {INSTALLED}: scripts/test runs scripts/fetch-objects first")
    return load_script()


def test_install_checks_counts_and_checksum_and_is_idempotent(tmp_path, fetch):
    archive = tmp_path / "pybullet.whl"
    make_archive(archive, fetch)
    dest = tmp_path / "objects"
    first = run("--dest", str(dest), "--archive", str(archive))
    assert first.returncode == 0, first.stderr
    files = [p for p in (dest / "pybullet").rglob("*") if p.is_file() and p.name != ".complete"]
    assert len(files) == fetch.EXPECTED_COUNT == 1026
    assert len(list((dest / "pybullet" / "random_urdfs").glob("*.obj"))) == 999
    assert not (dest / "pybullet" / "plane.obj").exists()
    assert not (dest / "pybullet" / "random_urdfs" / "168.obj").exists()   # all-NaN vertices upstream
    assert fetch.digest(str(dest / "pybullet")) == (1026, fetch.EXPECTED_DIGEST)
    second = run("--dest", str(dest))   # no archive, no network: the stamp and checksum say it is there
    assert second.returncode == 0 and "already" in second.stdout
    # A changed file is noticed and the install is redone from the archive.
    (dest / "pybullet" / "household" / "duck.obj").write_text("v 0 0 0\n")
    third = run("--dest", str(dest), "--archive", str(archive))
    assert third.returncode == 0 and "changed" in third.stderr
    assert fetch.digest(str(dest / "pybullet")) == (1026, fetch.EXPECTED_DIGEST)


def test_wrong_archives_are_refused_and_leave_nothing(tmp_path, fetch):
    missing = tmp_path / "missing.whl"
    make_archive(missing, fetch, drop="pybullet_data/random_urdfs/123/123.obj")
    result = run("--dest", str(tmp_path / "a"), "--archive", str(missing))
    assert result.returncode != 0 and "random_urdfs/123/123.obj" in result.stderr
    assert not (tmp_path / "a" / "pybullet").exists()
    altered = tmp_path / "altered.whl"
    make_archive(altered, fetch, corrupt="pybullet_data/duck.obj")
    result = run("--dest", str(tmp_path / "b"), "--archive", str(altered))
    assert result.returncode != 0 and "digest" in result.stderr
    assert not (tmp_path / "b" / "pybullet").exists()


def test_an_install_holding_the_broken_mesh_is_repaired_without_the_archive(tmp_path, fetch):
    archive = tmp_path / "pybullet.whl"
    make_archive(archive, fetch)
    dest = tmp_path / "objects"
    assert run("--dest", str(dest), "--archive", str(archive)).returncode == 0
    # As installed before random_urdfs/168.obj was left out: the mesh present, the old stamp.
    (dest / "pybullet" / "random_urdfs" / "168.obj").write_text("v nan nan nan\n")
    (dest / "pybullet" / ".complete").write_text("f5e830156c37b7bdaa672c739c489434f3c28300091733b315fec94b198a0ec8\n")
    repaired = run("--dest", str(dest))   # no archive, no network
    assert repaired.returncode == 0 and "already" in repaired.stdout, repaired.stderr
    assert not (dest / "pybullet" / "random_urdfs" / "168.obj").exists()
    assert fetch.digest(str(dest / "pybullet")) == (1026, fetch.EXPECTED_DIGEST)
