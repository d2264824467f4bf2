"""The Swift environment end to end through the MapAnything worker (serving `StandInMapAnything`):
`nbv episode` and `nbv serve` with `backbone.type = mapanything` against the geometric backbone.

The stand-in reconstructs exactly from the rendered depth, as the geometric backbone does, so at the
environment's own resolution (--resolution 112x112: no resizing) the Chamfer distances and the action
gradient must match the geometric backbone's; through a resize (168x168) they must stay close.
Needs torch (else skipped: run scripts/test-mapanything) and the release `nbv` ($NBV_BIN)."""

from __future__ import annotations

import os
import re
import socket
import subprocess

import numpy as np
import pytest

from nbvgym.mapanything.testing import REPO_ROOT, WorkerProcess, require_torch

require_torch()

import nbvgym  # noqa: E402
from nbvgym.server import LocalServer  # noqa: E402

BUDGET = 4




@pytest.fixture(scope="module")
def exact_worker():
    worker = WorkerProcess("--resolution", "112x112")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def resizing_worker():
    worker = WorkerProcess("--resolution", "168x168")
    yield worker
    worker.stop()


def mapanything(endpoint, timeout=60):
    return '{"type": "mapanything", "endpoint": "%s", "timeout": %s}' % (endpoint, timeout)


def episode(nbv, *sets, seed=1):
    """Runs `nbv episode` and returns (chamfer per view, rewards of the steps)."""
    command = [nbv, "episode", "--env", "envs/procedural-v0.json", "--seed", str(seed), "--set", f"episode.budget={BUDGET}"]
    for s in sets:
        command += ["--set", s]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    # Rows: view, "(x, y, z)", chamfer, coverage, f-score, reward (or "initial").
    rows = [line.split(")", 1)[1].split() for line in result.stdout.splitlines() if re.match(r"\s*\d+ \(", line)]
    chamfer = [float(r[0]) for r in rows]
    rewards = [float(r[-1]) for r in rows if r[-1] != "initial"]
    assert len(chamfer) == BUDGET, result.stdout
    return np.array(chamfer), np.array(rewards)


def test_episode_through_the_worker_matches_the_geometric_backbone(nbv, exact_worker):
    geometric, geometric_rewards = episode(nbv)
    remote, remote_rewards = episode(nbv, f"backbone={mapanything(exact_worker.endpoint)}", "action_gradient=true")
    assert np.isfinite(remote).all() and (remote > 0).all()
    np.testing.assert_allclose(remote, geometric, rtol=1e-4)
    np.testing.assert_allclose(remote_rewards, geometric_rewards, rtol=1e-3, atol=1e-6)


def test_episode_through_a_resizing_worker_stays_close(nbv, resizing_worker):
    geometric, _ = episode(nbv, seed=2)
    remote, rewards = episode(nbv, f"backbone={mapanything(resizing_worker.endpoint)}", seed=2)
    assert np.isfinite(remote).all() and np.isfinite(rewards).all()
    assert remote[-1] < remote[0], "views taken should improve the reconstruction"
    # Resizing shifts points by at most a fraction of a pixel: the Chamfer distance barely moves.
    np.testing.assert_allclose(remote, geometric, rtol=0.3)


def test_action_gradient_arrives_through_the_worker_vjp(nbv, exact_worker):
    # A served environment connects only to the operator's backbones; the client names one.
    server = LocalServer(command=[nbv, "serve"], args=["--idle-timeout", "120", "--backbone", f"worker={exact_worker.endpoint}"])
    try:
        gradients = {}
        for label, overrides in (("geometric", {}),
                                 ("mapanything", {"backbone": {"type": "mapanything", "endpoint": "worker"}})):
            env = nbvgym.NBVEnv(definition="procedural-v0", endpoint=server.endpoint,
                                overrides={"action_gradient": True, "episode.budget": BUDGET, **overrides})
            env.reset(seed=5)
            _, _, _, _, info = env.step(np.array([0.3, -0.2, 0.5], dtype=np.float32))
            gradients[label] = np.asarray(info["action_gradient"], dtype=np.float64)
            env.close()
        assert gradients["mapanything"].shape == (3,) and np.isfinite(gradients["mapanything"]).all()
        assert np.abs(gradients["mapanything"]).max() > 0
        np.testing.assert_allclose(gradients["mapanything"], gradients["geometric"], rtol=1e-3,
                                   atol=1e-4 * np.abs(gradients["geometric"]).max())
    finally:
        server.stop()


def test_no_worker_is_a_clear_error(nbv):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    command = [nbv, "episode", "--env", "envs/procedural-v0.json", "--set", f"backbone={mapanything(endpoint, 1)}"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "backbone.endpoint" in result.stderr and endpoint in result.stderr
    assert "nbvgym-mapanything-worker" in result.stderr
