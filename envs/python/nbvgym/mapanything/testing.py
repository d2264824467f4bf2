"""Helpers of the MapAnything worker tests (envs/python/tests/test_mapanything*.py): the torch check,
synthetic views of a sphere, and a stand-in worker process on a free port."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HOW_TO_RUN = ("the MapAnything worker tests need PyTorch: run scripts/test-mapanything (installs CPU torch into "
              "the project's virtual environment and runs them)")
ENVS_PYTHON = Path(__file__).resolve().parents[2]
REPO_ROOT = ENVS_PYTHON.parents[1]


def require_torch():
    """Skips the calling test module, saying how to run it, when torch cannot be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        pytest.skip(HOW_TO_RUN, allow_module_level=True)


def look_at(eye) -> np.ndarray:
    """Camera-to-world 4x4 looking at the origin with +Y up (OpenCV axes: x right, y down, z forward)."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def sphere_views(eyes, width=112, height=84, focal=100.0, radius=1.0, seed=0):
    """Views of a sphere of `radius` at the origin: uint8 RGB, intrinsics, poses, exact z-depth (0 = sky)."""
    k = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
    rng = np.random.default_rng(seed)
    rgb, poses, depth = [], [], []
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    plane = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u, dtype=float)], axis=-1)
    for eye in eyes:
        pose = look_at(eye)
        d_world = plane @ pose[:3, :3].T           # z-normalised rays in the world frame
        c = pose[:3, 3]
        a = (d_world ** 2).sum(-1)
        b = 2 * (d_world @ c)
        disc = b * b - 4 * a * (c @ c - radius ** 2)
        z = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), 0.0)
        depth.append(z.astype(np.float32))
        rgb.append(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        poses.append(pose)
    return {"rgb": np.stack(rgb), "intrinsics": np.stack([k] * len(eyes)), "camera_poses": np.stack(poses),
            "depth_z": np.stack(depth)}


class WorkerProcess:
    """`python -m nbvgym.mapanything.worker --stand-in ...` on a free port (it prints its endpoint);
    with `stand_in=False` the real worker (pass --checkpoint ...). `preamble` holds the stdout lines
    before `listening on` (the worker's stdout carries nothing else)."""

    def __init__(self, *args: str, startup_timeout: float = 120.0, stand_in: bool = True, python: str = sys.executable):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ENVS_PYTHON)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self.command = [python, "-m", "nbvgym.mapanything.worker", *(["--stand-in"] if stand_in else []), "--device", "cpu",
                        "--bind", "tcp://127.0.0.1:*", *args]
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        self.endpoint = ""
        self.preamble: list = []
        deadline = time.monotonic() + startup_timeout
        buffer = b""
        while not self.endpoint:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{' '.join(self.command)} did not start (exit code {self.process.returncode})")
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                buffer += os.read(self.process.stdout.fileno(), 4096)
                lines = buffer.decode("utf-8", "replace").split("\n")
                for index, line in enumerate(lines[:-1]):
                    if line.startswith("listening on "):
                        self.endpoint = line.split()[-1]
                        self.preamble = lines[:index]
                        break

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
