"""The MapAnything worker with `StandInMapAnything` (no weights, no GPU): preprocessing, framing,
shapes, frames, confidence overflow, tokens from the `info_sharing` hook, and the pose VJP against
finite differences. Skipped with instructions when torch is missing (scripts/test-mapanything)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nbvgym.mapanything.testing import require_torch, sphere_views

require_torch()

import zmq  # noqa: E402

from nbvgym import protocol  # noqa: E402
from nbvgym.mapanything.preprocessing import RESOLUTIONS_518, ResizeCrop, choose_resolution, parse_resolution, ray_directions  # noqa: E402
from nbvgym.mapanything.stand_in import StandInMapAnything  # noqa: E402
from nbvgym.mapanything.worker import MapAnythingWorker, WorkerOptions, build_parser, serve  # noqa: E402

EYES = [(0.3, 0.4, 2.5), (2.4, 0.2, 0.6), (-1.5, 1.2, 1.6)]


def make_worker(**options) -> MapAnythingWorker:
    model = StandInMapAnything(token_width=16).eval()
    model.requires_grad_(False)
    worker = MapAnythingWorker(model, options=WorkerOptions(**options))
    worker.warm_up()
    return worker


@pytest.fixture(scope="module")
def worker():
    return make_worker()


def call(worker, op, tensors=None, **fields):
    header, out = protocol.decode(worker.handle(protocol.encode({"v": 1, "id": "t", "op": op, **fields}, tensors or {})))
    return header, out


def ok(worker, op, tensors=None, **fields):
    header, out = call(worker, op, tensors, **fields)
    assert header["ok"] is True, header
    return header, out


def error(worker, op, tensors=None, **fields):
    header, _ = call(worker, op, tensors, **fields)
    assert header["ok"] is False, header
    return header["error"]["code"], header["error"]["field"], header["error"]["message"]


# -- preprocessing ----------------------------------------------------------------------------------

def test_resolution_choice_and_parsing():
    assert choose_resolution(112, 112) == (518, 518)
    assert choose_resolution(640, 480) == (518, 392)
    assert choose_resolution(480, 640) == (392, 518)
    assert choose_resolution(1920, 1080) == (518, 294)
    assert choose_resolution(640, 480, (224, 168)) == (224, 168)
    assert all(w % 14 == 0 and h % 14 == 0 for w, h in RESOLUTIONS_518)
    assert parse_resolution("auto") is None and parse_resolution("518x392") == (518, 392)
    with pytest.raises(ValueError, match="multiples of 14"):
        parse_resolution("500x392")


@pytest.mark.parametrize("size,target", [((160, 120), (518, 392)), ((112, 84), (518, 392)), ((100, 130), (392, 518)), ((112, 112), (168, 168))])
def test_resize_crop_keeps_projections_consistent(size, target):
    """A 3-D point projects with the adjusted intrinsics exactly where the affine map sends its pixel."""
    w, h = size
    crop = ResizeCrop.plan(w, h, target)
    assert crop.resized[0] >= target[0] and crop.resized[1] >= target[1]
    k = np.array([[90.0, 0, 0.47 * w], [0, 95.0, 0.52 * h], [0, 0, 1]])
    k_model = crop.intrinsics(k)
    points = np.random.default_rng(1).uniform([-1, -1, 2], [1, 1, 4], size=(200, 3))
    uv = points @ k.T
    u, v = uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2]
    uv_model = points @ k_model.T
    mu, mv = crop.to_model(u, v)
    np.testing.assert_allclose(uv_model[:, 0] / uv_model[:, 2], mu, atol=1e-9)
    np.testing.assert_allclose(uv_model[:, 1] / uv_model[:, 2], mv, atol=1e-9)
    su, sv = crop.to_source(mu, mv)
    np.testing.assert_allclose(su, u, atol=1e-9)
    np.testing.assert_allclose(sv, v, atol=1e-9)


def test_depth_is_resized_by_nearest_neighbour_and_stays_the_surface_depth():
    """Each model pixel takes the z-depth of the environment pixel its centre falls in, so unprojecting
    it with the adjusted intrinsics lands on the same surface (a tilted plane here)."""
    w, h = 160, 120
    crop = ResizeCrop.plan(w, h, (518, 392))
    k = np.array([[100.0, 0, 79.5], [0, 100.0, 59.5], [0, 0, 1]])
    index = np.arange(w * h, dtype=np.float32).reshape(1, h, w) + 1
    resized = crop.depth(index)
    cols, rows = np.meshgrid(np.arange(crop.target[0]), np.arange(crop.target[1]))
    su, sv = crop.to_source(cols, rows)
    picked = resized[0] - 1
    pu, pv = picked % w, picked // w
    assert np.all(np.abs(pu - su) <= 0.5 + 1e-9) and np.all(np.abs(pv - sv) <= 0.5 + 1e-9)
    # A sphere seen head-on: the resized depth unprojected with K' stays on the sphere to within a
    # source pixel's footprint.
    views = sphere_views([(0, 0, 3)], width=w, height=h, focal=100.0)
    depth = views["depth_z"]
    z_model = crop.depth(depth)[0]
    k_model = crop.intrinsics(k)
    valid = z_model > 0
    x = (cols - k_model[0, 2]) / k_model[0, 0] * z_model
    y = (rows - k_model[1, 2]) / k_model[1, 1] * z_model
    centre = np.array([0, 0, 3.0])  # the sphere is 3 in front of the camera
    radius = np.sqrt(x ** 2 + y ** 2 + (z_model - centre[2]) ** 2)[valid]
    footprint = 3.0 / 100.0  # one source pixel at the sphere's distance
    assert np.abs(radius - 1).mean() < footprint


def test_image_resize_keeps_features_where_the_map_sends_them():
    w, h = 160, 120
    crop = ResizeCrop.plan(w, h, (518, 392))
    rgb = np.zeros((1, h, w, 3), np.uint8)
    rgb[0, 40:50, 100:110] = 255
    img = crop.image(rgb)[0].numpy()  # normalised
    bright = img.mean(axis=0) > 1.0
    rows, cols = np.nonzero(bright)
    cu, cv = crop.to_model(104.5, 44.5)
    assert abs(cols.mean() - cu) < 1.0 and abs(rows.mean() - cv) < 1.0
    assert img.shape == (3, 392, 518)


# -- framing and errors ------------------------------------------------------------------------------

def test_handshake_names_the_stand_in_and_the_token_width(worker):
    header, _ = ok(worker, "handshake")
    assert header["stand_in"] is True and "StandInMapAnything" in header["model"]
    assert header["token_width"] == 16 and header["patch_size"] == 14
    assert set(header["operations"]) >= {"handshake", "reconstruct", "vjp", "ping"}


def test_bad_requests_get_named_errors_and_the_worker_goes_on(worker):
    views = sphere_views(EYES[:2])
    assert error(worker, "fly")[:2] == ("unknown_op", "op")
    assert error(worker, "reconstruct", {})[:2] == ("bad_tensor", "rgb")
    bad = dict(views, intrinsics=views["intrinsics"].astype(np.float32)[:, :2])
    code, field, message = error(worker, "reconstruct", bad)
    assert (code, field) == ("bad_tensor", "intrinsics") and "[2, 3, 3]" in message
    assert error(worker, "reconstruct", dict(views, depth_z=views["depth_z"].astype(np.float64)))[:2] == ("bad_tensor", "depth_z")
    assert error(worker, "reconstruct", dict(views, extra=np.zeros(2)))[:2] == ("bad_tensor", "extra")
    nan = dict(views, camera_poses=views["camera_poses"].copy())
    nan["camera_poses"][1, 0, 3] = np.nan
    assert error(worker, "reconstruct", nan)[:2] == ("bad_tensor", "camera_poses")
    assert error(worker, "vjp", views, view_index=5)[:2] == ("bad_header", "view_index")
    assert error(worker, "vjp", views, view_index=0)[:2] == ("bad_tensor", "points_cotangent")
    assert error(worker, "reconstruct", views, token_grid="hex")[:2] == ("bad_header", "token_grid")
    header, _ = protocol.decode(worker.handle([b"not json"]))
    assert header["ok"] is False and header["error"]["code"] == "bad_json"
    header, _ = protocol.decode(worker.handle(protocol.encode({"v": 2, "id": 1, "op": "ping"})))
    assert header["error"]["code"] == "unsupported_version"
    assert ok(worker, "reconstruct", views)[0]["ok"]


def test_model_failures_are_reported_not_fatal():
    worker = make_worker()
    views = sphere_views(EYES[:2])
    worker.model.conf_head = None  # breaks the stand-in's forward
    code, field, message = error(worker, "reconstruct", views)
    assert (code, field) == ("model_error", "model") and "TypeError" in message
    assert ok(worker, "ping")[0]["pong"] is True


def test_socket_serves_dealer_and_req_clients():
    worker = make_worker()
    stop = threading.Event()
    endpoints = []
    thread = threading.Thread(target=serve, args=(worker, "tcp://127.0.0.1:*", stop, endpoints.append), daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if endpoints:
                break
            threading.Event().wait(0.05)
        endpoint = endpoints[0].split()[-1]
        context = zmq.Context.instance()
        for kind in (zmq.DEALER, zmq.REQ):
            socket = context.socket(kind)
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(endpoint)
            socket.send_multipart(protocol.encode({"v": 1, "id": "x", "op": "handshake"}))
            assert socket.poll(10000)
            header, _ = protocol.decode(socket.recv_multipart())
            assert header["ok"] and header["id"] == "x" and header["token_width"] == 16
            socket.close()
    finally:
        stop.set()
        thread.join(5)


def test_command_line_options():
    args = build_parser().parse_args(["--checkpoint", "ckpt", "--bind", "tcp://127.0.0.1:5999", "--resolution", "518x392", "--amp", "none"])
    assert (args.checkpoint, args.bind, args.resolution, args.amp, args.upsample) == ("ckpt", "tcp://127.0.0.1:5999", "518x392", "none", "nearest")


# -- outputs: shapes and frames ----------------------------------------------------------------------

@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_reconstruct_shapes_and_view0_frame(upsample):
    worker = make_worker(upsample=upsample)
    views = sphere_views(EYES)
    n, h, w = views["depth_z"].shape
    header, out = ok(worker, "reconstruct", views)
    expected = {"ray_directions": ("<f4", (n, h, w, 3)), "depth_along_ray": ("<f4", (n, h, w)), "camera_poses": ("<f4", (n, 4, 4)),
                "confidence": ("<f4", (n, h, w)), "mask": ("|u1", (n, h, w)), "points": ("<f4", (n, h, w, 3)),
                "tokens": ("<f4", (n, 6 * 8, 16))}
    assert {k: (v.dtype.str, v.shape) for k, v in out.items()} == expected
    assert header["model_resolution"] == [518, 392] and header["token_grid"] == [6, 8] and header["metric_scale"] == 1.0
    mask = out["mask"].astype(bool)
    assert np.array_equal(mask, views["depth_z"] > 0)
    # Rays from the environment's own intrinsics.
    np.testing.assert_allclose(out["ray_directions"][1], ray_directions(views["intrinsics"][1], w, h), atol=1e-6)
    # Poses are camera -> view 0.
    p0 = views["camera_poses"][0]
    for i in range(n):
        np.testing.assert_allclose(out["camera_poses"][i], np.linalg.inv(p0) @ views["camera_poses"][i], atol=1e-5)
    # Points are in view 0's frame: mapped to the world with view 0's pose, they lie on the unit sphere
    # (within a fraction of a pixel's footprint: the model works at its own resolution).
    world = out["points"][mask] @ p0[:3, :3].T + p0[:3, 3]
    radius = np.linalg.norm(world, axis=-1)
    assert np.abs(radius - 1).mean() < 0.01 and np.abs(radius - 1).max() < 0.1
    # Depth along the ray and confidence are 0 where masked out, positive where valid.
    assert (out["depth_along_ray"][~mask] == 0).all() and (out["depth_along_ray"][mask] > 0).all()
    assert (out["confidence"][mask] >= 1).all() and (out["confidence"][~mask] == 0).all()


def test_outputs_do_not_depend_on_the_world_frame(worker):
    """MapAnything's outputs are in view 0's frame: moving every input pose by one rigid map changes nothing."""
    views = sphere_views(EYES)
    angle = 0.7
    g = np.eye(4)
    g[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    g[:3, 3] = [3, -1, 2]
    moved = dict(views, camera_poses=np.einsum("ij,njk->nik", g, views["camera_poses"]))
    _, a = ok(worker, "reconstruct", views)
    _, b = ok(worker, "reconstruct", moved)
    np.testing.assert_allclose(a["points"], b["points"], atol=2e-4)
    np.testing.assert_allclose(a["camera_poses"], b["camera_poses"], atol=2e-5)


def test_tokens_come_from_the_info_sharing_hook(worker):
    views = sphere_views(EYES[:2])
    _, env_grid = ok(worker, "reconstruct", views)
    header, model_grid = ok(worker, "reconstruct", views, token_grid="model")
    assert header["token_grid"] == [392 // 14, 518 // 14]
    assert model_grid["tokens"].shape == (2, 28 * 37, 16)
    # Each environment-grid token is one of the model's patch tokens of the same view.
    for v in range(2):
        distances = np.abs(env_grid["tokens"][v][:, None, :] - model_grid["tokens"][v][None, :, :]).max(-1)
        assert (distances.min(axis=1) < 1e-6).all()
    # The hooked features are the info_sharing module's output, not the patch embedding's.
    captured = []
    handle = worker.model.info_sharing.register_forward_hook(lambda m, a, out: captured.append(out))
    ok(worker, "reconstruct", views, token_grid="model")
    handle.remove()
    features = captured[-1].features[1][0].reshape(16, -1).T.numpy()
    np.testing.assert_allclose(model_grid["tokens"][1], features, atol=1e-6)


def test_confidence_overflow_is_clamped_and_counted():
    worker = make_worker()
    worker.model.conf_logit_offset = 100.0  # 1 + exp(100) overflows float32 (fp16 overflows at exp(11))
    views = sphere_views(EYES[:2])
    header, out = ok(worker, "reconstruct", views)
    mask = out["mask"].astype(bool)
    assert header["confidence_overflow"] == int(mask.sum())
    assert np.isfinite(out["confidence"]).all() and (out["confidence"][mask] == np.finfo(np.float32).max).all()


# -- the pose VJP ------------------------------------------------------------------------------------

@pytest.mark.parametrize("view_index", [0, 2])
def test_vjp_matches_finite_differences(worker, view_index):
    """d(sum(g * points))/d(pose input of one view), rows 0-2 of its 4x4, against central differences
    of the reconstruction's points (the stand-in's points are linear in each pose entry but view 0's,
    where they are quadratic: central differences are exact up to rounding)."""
    views = sphere_views(EYES)
    _, out = ok(worker, "reconstruct", views)
    rng = np.random.default_rng(7)
    cot = (rng.normal(size=out["points"].shape) * out["mask"][..., None]).astype(np.float32)
    _, reply = ok(worker, "vjp", dict(views, points_cotangent=cot), view_index=view_index)
    analytic = reply["pose_cotangent"]
    assert analytic.shape == (3, 4) and analytic.dtype == np.float64

    def loss(poses):
        _, o = ok(worker, "reconstruct", dict(views, camera_poses=poses))
        return float((o["points"].astype(np.float64) * cot).sum())

    eps = 1e-2
    numeric = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            plus, minus = views["camera_poses"].copy(), views["camera_poses"].copy()
            plus[view_index, i, j] += eps
            minus[view_index, i, j] -= eps
            numeric[i, j] = (loss(plus) - loss(minus)) / (2 * eps)
    scale = np.abs(numeric).max()
    np.testing.assert_allclose(analytic, numeric, atol=2e-3 * scale, rtol=1e-2)


def test_vjp_of_a_view_whose_points_have_zero_cotangent_is_zero(worker):
    views = sphere_views(EYES)
    cot = np.zeros(views["depth_z"].shape + (3,), np.float32)
    _, reply = ok(worker, "vjp", dict(views, points_cotangent=cot), view_index=1)
    assert np.abs(reply["pose_cotangent"]).max() == 0
