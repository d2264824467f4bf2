"""The worker against the real MapAnything code: the official model classes (map-anything and DINOv2
sources, `MAPANYTHING_SOURCE` and `DINOV2_SOURCE`) in a tiny real configuration with random weights,
saved as a released checkpoint directory and served by the real worker process.

Checked: the handshake (the real model, not the stand-in); stdout carries only the worker's line;
`reconstruct` with RGB only and with intrinsics, poses and depth, square and non-square model images,
1 to 4 views, shapes and tokens against the configuration; the reply against the official `infer`
called directly; the `vjp` against central finite differences of `reconstruct` for views 0 and k;
the feature cache and batched members against uncached and one-by-one calls; `nbv episode` and
`nbv serve` + `NBVEnv` with the action gradient. Needs the real code's dependencies: run
`scripts/test-mapanything --real` (its own virtual environment). Random weights cannot check accuracy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nbvgym.mapanything.testing import REPO_ROOT, WorkerProcess, sphere_views

HOW_TO_RUN = "needs the real MapAnything code and its dependencies: run scripts/test-mapanything --real"
VENDOR = REPO_ROOT.parent / "shared" / "vendor"
DINOV2 = Path(os.environ.get("DINOV2_SOURCE", VENDOR / "dinov2"))
CONFIG = Path(os.environ.get("MAPANYTHING_CONFIG", VENDOR / "mapanything-v1.1-config.json"))

try:
    with contextlib.redirect_stdout(sys.stderr):
        import torch
        from mapanything.models import MapAnything  # noqa: F401
except Exception as error:  # noqa: BLE001 (any import failure means: not this environment)
    pytest.skip(f"{HOW_TO_RUN} ({type(error).__name__}: {error})", allow_module_level=True)

import zmq  # noqa: E402

from nbvgym import protocol  # noqa: E402
from nbvgym.mapanything.checkpoints import released_config, tiny_config, write_random_checkpoint  # noqa: E402
from nbvgym.mapanything.official import load_official_model, official_forward  # noqa: E402
from nbvgym.mapanything.preprocessing import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from nbvgym.mapanything.worker import MapAnythingWorker, WorkerOptions  # noqa: E402

EYES = [(0.3, 0.4, 2.5), (2.4, 0.2, 0.6), (-1.5, 1.2, 1.6), (0.2, -2.2, 1.1)]
WIDTH = 384  # the tiny configuration's info-sharing width (token width)


@pytest.fixture(scope="module")
def config():
    if not (DINOV2 / "hubconf.py").is_file() or not CONFIG.is_file():
        pytest.skip(f"no DINOv2 source at {DINOV2} or configuration at {CONFIG}: {HOW_TO_RUN}")
    return tiny_config(released_config(CONFIG))


@pytest.fixture(scope="module")
def checkpoint(config, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-mapanything")
    facts = write_random_checkpoint(config, directory, str(DINOV2), seed=0)
    assert 20e6 < facts["parameters"] < 35e6
    return directory


def start(checkpoint, resolution, *extra):
    return WorkerProcess("--checkpoint", str(checkpoint), "--dinov2-repo", str(DINOV2), "--resolution", resolution,
                         "--amp", "none", *extra, stand_in=False, startup_timeout=300)


@pytest.fixture(scope="module")
def square(checkpoint):
    worker = start(checkpoint, "112x112")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def wide(checkpoint):
    worker = start(checkpoint, "168x112")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def models(checkpoint):
    """Two in-process copies of the checkpoint's model: one served with the feature cache, one without."""
    with contextlib.redirect_stdout(sys.stderr):
        return [load_official_model(str(checkpoint), "cpu", str(DINOV2)) for _ in range(2)]


def in_process(model, cache: int, resolution=(112, 112)) -> MapAnythingWorker:
    worker = MapAnythingWorker(model, options=WorkerOptions(resolution=resolution, amp="none", feature_cache=cache))
    worker.forward = official_forward(model, None)
    return worker


class Client:
    def __init__(self, endpoint):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.count = 0

    def call(self, op, tensors=None, **fields):
        self.count += 1
        self.socket.send_multipart(protocol.encode({"v": 1, "id": str(self.count), "op": op, **fields}, tensors or {}))
        assert self.socket.poll(300_000), f"no reply to {op}"
        header, out = protocol.decode(self.socket.recv_multipart())
        assert header["id"] == str(self.count)
        return header, out

    def ok(self, op, tensors=None, **fields):
        header, out = self.call(op, tensors, **fields)
        assert header["ok"] is True, header
        return header, out


def inputs(views, which):
    return {"rgb": views["rgb"]} if which == "rgb" else dict(views)


def worker_call(worker, op, tensors, **fields):
    header, out = protocol.decode(worker.handle(protocol.encode({"v": 1, "id": "t", "op": op, **fields}, tensors)))
    assert header["ok"] is True, header
    return header, out


# -- handshake and the protocol stream --------------------------------------------------------------

def test_handshake_names_the_real_model_and_stdout_is_the_workers_alone(square, checkpoint):
    header, _ = Client(square.endpoint).ok("handshake")
    assert header["stand_in"] is False and "MapAnything" in header["model"] and str(checkpoint) in header["model"]
    assert header["token_width"] == WIDTH and header["feature_cache"] == 256 and header["members"] is True
    assert header["resolution"] == "112x112" and "vjp" in header["operations"]
    # The model prints while it is built ("Loading pretrained dinov2_vits14 from torch hub"): never on stdout.
    assert square.preamble == [], square.preamble


def test_a_missing_dinov2_checkout_names_the_option_and_the_hub_cache(checkpoint, tmp_path):
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"))
    result = subprocess.run([sys.executable, "-m", "nbvgym.mapanything.worker", "--checkpoint", str(checkpoint), "--device", "cpu"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert "--dinov2-repo" in result.stderr and str(tmp_path / "torch" / "hub") in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_and_misshaped_weights_are_errors_but_tied_aliases_are_not(checkpoint, config, tmp_path):
    from safetensors.torch import load_file, save_file
    from nbvgym.mapanything.official import check_state
    state = load_file(str(checkpoint / "model.safetensors"))
    model = load_official_model(str(checkpoint), "cpu", str(DINOV2))
    tied = check_state(model, state)
    # Every tied key shares its tensor with a stored key, and `dense_head` is on one side of each pair.
    tensors = model.state_dict()
    stored = {tensors[key].data_ptr(): key for key in state}
    assert tied and all(tensors[key].data_ptr() in stored for key in tied)
    assert all("dense_head." in key + " " + stored[tensors[key].data_ptr()] for key in tied), tied[:5]
    block = next(key for key in state if key.startswith("info_sharing.") and key.endswith(".weight"))
    for damage, message in ((lambda s: s.pop(block), "lacks 1 weights"),
                            (lambda s: s.__setitem__("scale_token", torch.zeros(7)), "wrong shape")):
        broken = dict(state)
        damage(broken)
        directory = tmp_path / message.replace(" ", "-")
        directory.mkdir()
        (directory / "config.json").write_text((checkpoint / "config.json").read_text())
        save_file(broken, str(directory / "model.safetensors"))
        with pytest.raises(ValueError, match=message):
            load_official_model(str(directory), "cpu", str(DINOV2))


# -- reconstruct --------------------------------------------------------------------------------------

def check_reply(header, out, n, h, w, model_size):
    for name, shape in (("ray_directions", (n, h, w, 3)), ("depth_along_ray", (n, h, w)), ("confidence", (n, h, w)),
                        ("mask", (n, h, w)), ("points", (n, h, w, 3)), ("camera_poses", (n, 4, 4))):
        assert out[name].shape == shape, (name, out[name].shape)
        assert np.isfinite(out[name]).all(), name
    valid = out["mask"] == 1
    assert valid.any(), "the mask-bias checkpoint leaves some pixels valid"
    assert (out["depth_along_ray"][valid] > 0).all() and (out["confidence"][valid] >= 1).all()
    assert (out["points"][~valid] == 0).all() and (out["depth_along_ray"][~valid] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(out["ray_directions"], axis=-1), 1, atol=1e-4)
    r = out["camera_poses"][:, :3, :3].astype(np.float64)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-4)
    rows, cols = -(-h // 14), -(-w // 14)
    assert out["tokens"].shape == (n, rows * cols, WIDTH) and header["token_grid"] == [rows, cols]
    assert header["model_resolution"] == list(model_size) and header["metric_scale"] > 0 and header["stand_in"] is False


@pytest.mark.parametrize("which", ["rgb", "all"])
@pytest.mark.parametrize("shape", ["square", "non-square"])
def test_reconstruct_one_to_four_views(square, wide, which, shape):
    worker, (w, h), model_size = (square, (112, 112), (112, 112)) if shape == "square" else (wide, (112, 84), (168, 112))
    client = Client(worker.endpoint)
    views = sphere_views(EYES, width=w, height=h, focal=0.9 * w, seed=3)
    for n in range(1, 5):
        tensors = {name: value[:n] for name, value in inputs(views, which).items()}
        header, out = client.ok("reconstruct", tensors)
        check_reply(header, out, n, h, w, model_size)
    header, out = client.ok("reconstruct", tensors, token_grid="model")
    assert out["tokens"].shape == (4, (model_size[1] // 14) * (model_size[0] // 14), WIDTH)


def test_the_reply_is_the_official_infer_of_the_same_views(square, models):
    """The worker's input plumbing against the official API called directly (no resize at 112x112)."""
    views = sphere_views(EYES[:3], width=112, height=112, focal=100, seed=4)
    header, out = Client(square.endpoint).ok("reconstruct", views)
    model = models[1]
    images = (views["rgb"].astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    reference = [{"img": torch.from_numpy(images[i]).permute(2, 0, 1)[None].contiguous(), "data_norm_type": ["dinov2"],
                  "intrinsics": torch.tensor(views["intrinsics"][i:i + 1], dtype=torch.float32),
                  "camera_poses": torch.tensor(views["camera_poses"][i:i + 1], dtype=torch.float32),
                  "depth_z": torch.from_numpy(views["depth_z"][i:i + 1]),
                  "is_metric_scale": torch.tensor([True])} for i in range(3)]
    with contextlib.redirect_stdout(sys.stderr):
        outputs = model.infer(reference, memory_efficient_inference=True, use_amp=False, apply_mask=True, mask_edges=True)
    points = np.concatenate([o["pts3d"].numpy() for o in outputs])
    mask = np.concatenate([o["mask"].numpy()[..., 0] for o in outputs])
    assert (out["mask"] == 1).sum() >= 0.999 * mask.sum() and ((out["mask"] == 1) & ~mask).sum() <= 0.001 * mask.size
    both = (out["mask"] == 1) & mask
    np.testing.assert_allclose(out["points"][both], points[both], rtol=1e-4, atol=1e-4 * np.abs(points[both]).max())


# -- vjp ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [0, 2])
def test_vjp_matches_central_differences_of_reconstruct(square, index):
    """d(sum g . points)/d(pose_k) from the worker's autograd (`forward`) against central differences
    of `reconstruct` (`infer`) along three random directions in the 12 entries of [R_k | t_k], on the
    pixels valid in every evaluation: <vjp, D> = (L(P + eps D) - L(P - eps D)) / (2 eps)."""
    client = Client(square.endpoint)
    views = sphere_views(EYES[:3], width=112, height=112, focal=100, seed=5)
    rng = np.random.default_rng(6 + index)
    directions = [d / np.linalg.norm(d) for d in rng.normal(size=(3, 3, 4))]
    eps = 2e-3
    evaluations = {}
    for d, direction in enumerate(directions):
        for sign in (1, -1):
            shifted = dict(views, camera_poses=views["camera_poses"].copy())
            shifted["camera_poses"][index, :3, :] += sign * eps * direction
            evaluations[d, sign] = client.ok("reconstruct", shifted)[1]
    _, base = client.ok("reconstruct", views)
    common = base["mask"] == 1
    for out in evaluations.values():
        common &= out["mask"] == 1
    assert common.sum() > 100
    cot = rng.normal(size=base["points"].shape).astype(np.float32) * common[..., None]
    _, reply = client.ok("vjp", dict(views, points_cotangent=cot), view_index=index)
    g = reply["pose_cotangent"]
    for d, direction in enumerate(directions):
        fd = sum(sign * float((cot.astype(np.float64) * evaluations[d, sign]["points"]).sum()) for sign in (1, -1)) / (2 * eps)
        assert abs(fd) > 0
        assert abs(float((g * direction).sum()) - fd) <= 0.03 * (np.linalg.norm(g) + abs(fd)), (d, g, fd)


# -- one view's cost per step; batched members --------------------------------------------------------

def test_feature_cache_runs_the_new_view_only_and_equals_the_uncached_path(models):
    cached, uncached = in_process(models[0], 256), in_process(models[1], 0)
    encoded = []
    original = cached._encode_uncached
    cached._encode_uncached = lambda views: (encoded.append(len(views)), original(views))[1]
    views = sphere_views(EYES, width=112, height=112, focal=100, seed=7)
    for n in range(1, 5):
        tensors = {name: value[:n] for name, value in views.items()}
        _, a = worker_call(cached, "reconstruct", tensors)
        _, b = worker_call(uncached, "reconstruct", tensors)
        assert encoded[-1] == 1, f"step with {n} views encoded {encoded[-1]} images"
        agree = (a["mask"] == b["mask"]).mean()
        assert agree >= 0.999, agree
        both = (a["mask"] == 1) & (b["mask"] == 1)
        for name in ("points", "depth_along_ray", "confidence"):
            np.testing.assert_allclose(a[name][both], b[name][both], rtol=1e-4, atol=1e-5 * np.abs(b[name][both]).max(), err_msg=name)
        np.testing.assert_allclose(a["tokens"], b["tokens"], rtol=1e-4, atol=1e-4 * np.abs(b["tokens"]).max())
        np.testing.assert_allclose(a["camera_poses"], b["camera_poses"], atol=1e-4)
    cot = np.random.default_rng(8).normal(size=(4, 112, 112, 3)).astype(np.float32)
    _, ga = worker_call(cached, "vjp", dict(views, points_cotangent=cot), view_index=3)
    assert encoded[-1] == 1 and len(encoded) == 4, "the vjp reused every cached view"
    _, gb = worker_call(uncached, "vjp", dict(views, points_cotangent=cot), view_index=3)
    np.testing.assert_allclose(ga["pose_cotangent"], gb["pose_cotangent"], rtol=1e-3, atol=1e-4 * np.abs(gb["pose_cotangent"]).max())


def test_batched_members_equal_one_by_one_calls(square):
    client = Client(square.endpoint)
    episodes = [sphere_views(EYES[:2], 112, 112, 100, seed=10), sphere_views(EYES[1:3], 112, 112, 100, seed=11),
                sphere_views(EYES[:3], 112, 112, 100, seed=12), {"rgb": sphere_views(EYES[:2], 112, 112, 100, seed=13)["rgb"]}]
    tensors = {f"{m}/{name}": value for m, views in enumerate(episodes) for name, value in views.items()}
    header, batch = client.ok("reconstruct", tensors, members=len(episodes))
    assert len(header["members"]) == len(episodes)
    for m, views in enumerate(episodes):
        single_header, single = client.ok("reconstruct", views)
        assert header["members"][m]["token_grid"] == single_header["token_grid"]
        both = (batch[f"{m}/mask"] == 1) & (single["mask"] == 1)
        assert (batch[f"{m}/mask"] == single["mask"]).mean() >= 0.999
        np.testing.assert_allclose(batch[f"{m}/points"][both], single["points"][both], rtol=1e-4,
                                   atol=1e-5 * np.abs(single["points"][both]).max())
        np.testing.assert_allclose(batch[f"{m}/tokens"], single["tokens"], rtol=1e-4, atol=1e-4 * np.abs(single["tokens"]).max())
    rng = np.random.default_rng(14)
    posed = episodes[:3]
    cots = [rng.normal(size=(len(v["rgb"]), 112, 112, 3)).astype(np.float32) for v in posed]
    indices = [1, 0, 2]
    tensors = {f"{m}/{name}": value for m, views in enumerate(posed) for name, value in dict(views, points_cotangent=cots[m]).items()}
    _, batch = client.ok("vjp", tensors, members=3, member_fields=[{"view_index": k} for k in indices])
    for m, views in enumerate(posed):
        _, single = client.ok("vjp", dict(views, points_cotangent=cots[m]), view_index=indices[m])
        np.testing.assert_allclose(batch[f"{m}/pose_cotangent"], single["pose_cotangent"], rtol=1e-3,
                                   atol=1e-4 * np.abs(single["pose_cotangent"]).max())
    code = client.call("reconstruct", {"0/rgb": episodes[0]["rgb"], "1/depth_z": episodes[1]["depth_z"]}, members=2)[0]["error"]
    assert code["code"] == "bad_tensor" and code["field"] == "members[1].rgb"


# -- the environment end to end -----------------------------------------------------------------------



def backbone(endpoint):
    return json.dumps({"type": "mapanything", "endpoint": endpoint, "timeout": 300})


def test_nbv_episode_with_the_action_gradient(nbv, square):
    command = [nbv, "episode", "--env", "envs/procedural-v0.json", "--seed", "1", "--set", "episode.budget=3",
               "--set", f"backbone={backbone(square.endpoint)}", "--set", "action_gradient=true"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr + result.stdout
    rows = [line.split(")", 1)[1].split() for line in result.stdout.splitlines() if re.match(r"\s*\d+ \(", line)]
    assert len(rows) == 3 and all(np.isfinite(float(r[0])) for r in rows), result.stdout


def test_nbv_serve_and_nbvenv_deliver_the_action_gradient(nbv, square):
    import nbvgym
    from nbvgym.server import LocalServer
    # A served environment connects only to the operator's backbones (--backbone); the client names one.
    server = LocalServer(command=[nbv, "serve"], args=["--idle-timeout", "300", "--backbone", f"worker={square.endpoint}"])
    try:
        env = nbvgym.NBVEnv(definition="procedural-v0", endpoint=server.endpoint,
                            overrides={"action_gradient": True, "episode.budget": 3,
                                       "backbone": {"type": "mapanything", "endpoint": "worker", "timeout": 120}})
        env.reset(seed=5)
        _, reward, _, _, info = env.step(np.array([0.3, -0.2, 0.5], dtype=np.float32))
        gradient = np.asarray(info["action_gradient"], dtype=np.float64)
        assert np.isfinite(reward) and gradient.shape == (3,) and np.isfinite(gradient).all() and np.abs(gradient).max() > 0
        env.close()
    finally:
        server.stop()


def test_a_vector_of_environments_steps_through_the_batching_client(nbv, square):
    """`nbv serve` steps a vector's members in parallel; their reconstructors share one endpoint and
    send concurrent calls as one request with `members` (MapAnythingBatcher): each member's
    observation, reward and action gradient still come back as its own."""
    from nbvgym.server import LocalServer
    from nbvgym.vector import NBVVectorEnv
    # A served environment connects only to the operator's backbones (--backbone); the client names one.
    server = LocalServer(command=[nbv, "serve"], args=["--idle-timeout", "300", "--backbone", f"worker={square.endpoint}"])
    try:
        env = NBVVectorEnv(num_envs=2, definition="procedural-v0", endpoint=server.endpoint,
                           overrides={"action_gradient": True, "episode.budget": 3,
                                      "backbone": {"type": "mapanything", "endpoint": "worker", "timeout": 120}})
        env.reset(seed=[5, 6])
        _, rewards, _, _, info = env.step(np.array([[0.3, -0.2, 0.5], [-0.4, 0.1, 0.2]], dtype=np.float32))
        gradients = np.stack([np.asarray(g, dtype=np.float64) for g in info["action_gradient"]])
        assert np.isfinite(rewards).all() and gradients.shape == (2, 3) and np.isfinite(gradients).all()
        assert not np.allclose(gradients[0], gradients[1]), "two different episodes, two different gradients"
        env.close()
    finally:
        server.stop()
