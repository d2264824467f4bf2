"""Inputs a careless or hostile user can give `nbv` and `nbv serve` (docs/PROTOCOL.md, "What a client may
name", "Resource limits"): mesh files that crash parsers, decompression-bomb textures, paths outside the
served folders, backbone addresses, numbers beyond range. Each gets an error naming it; nothing crashes.

Runs the release binary (NBV_BIN, default .build/release/nbv; scripts/test builds it)."""
import json
import os
import resource
import struct
import subprocess
import uuid
import zlib
from pathlib import Path

import pytest
import zmq

ROOT = Path(__file__).resolve().parents[2]
NBV = os.environ.get("NBV_BIN", str(ROOT / ".build" / "release" / "nbv"))
INVALID = Path("/usr/share/assimp/models/invalid")
WUSON = "/usr/share/assimp/models/PLY/Wuson.ply"

# A Collada file whose node instances itself: libassimp recurses until its stack overflows.
SELF_INSTANCING_DAE = """<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit meter="1"/><up_axis>Y_UP</up_axis></asset>
  <library_geometries>
    <geometry id="tri"><mesh>
      <source id="p"><float_array id="pa" count="9">0 0 0 1 0 0 0 1 0</float_array>
        <technique_common><accessor source="#pa" count="3" stride="3">
          <param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>
        </accessor></technique_common></source>
      <vertices id="v"><input semantic="POSITION" source="#p"/></vertices>
      <triangles count="1"><input semantic="VERTEX" source="#v" offset="0"/><p>0 1 2</p></triangles>
    </mesh></geometry>
  </library_geometries>
  <library_nodes>
    <node id="loop" name="loop"><instance_geometry url="#tri"/><instance_node url="#loop"/></node>
  </library_nodes>
  <library_visual_scenes>
    <visual_scene id="scene"><node id="root"><instance_node url="#loop"/></node></visual_scene>
  </library_visual_scenes>
  <scene><instance_visual_scene url="#scene"/></scene>
</COLLADA>
"""


def nbv(*args, timeout=300):
    return subprocess.run([NBV, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 32768) -> bytes:
    """A few hundred bytes that declare side x side RGB pixels of zeros (3.1 GB at 32768)."""
    rows = zlib.compressobj(9)
    body = b"".join(rows.compress(b"\0" * (1 + 3 * side)) for _ in range(16)) + rows.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b""))


@pytest.fixture
def hostile_files(tmp_path):
    files = {}
    files["dae"] = tmp_path / "self_instancing.dae"
    files["dae"].write_text(SELF_INSTANCING_DAE)
    files["loop"] = tmp_path / "loop_a.obj"
    os.symlink(tmp_path / "loop_b.obj", files["loop"])
    os.symlink(files["loop"], tmp_path / "loop_b.obj")
    textured = tmp_path / "textured"
    textured.mkdir()
    (textured / "bomb.png").write_bytes(bomb_png())
    (textured / "quad.mtl").write_text("newmtl m\nKd 0.8 0.8 0.8\nmap_Kd bomb.png\n")
    (textured / "quad.obj").write_text("mtllib quad.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
                                       "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl m\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    files["textured"] = textured / "quad.obj"
    return files


def peak_child_rss_mib():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def test_cli_reports_a_crashing_mesh_file_by_name(hostile_files, tmp_path):
    for key in ("dae", "loop"):
        result = nbv("render", str(hostile_files[key]), "--views", "1", "--width", "32", "--height", "32", "--out", str(tmp_path / key))
        assert result.returncode == 1, (key, result.returncode, result.stderr)  # an error, not a signal
        assert str(hostile_files[key]) in result.stderr, result.stderr


def test_cli_refuses_a_decompression_bomb_texture_without_allocating_it(hostile_files, tmp_path):
    result = nbv("render", str(hostile_files["textured"]), "--views", "1", "--width", "32", "--height", "32", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr  # the texture is skipped, the diffuse colour kept
    assert peak_child_rss_mib() < 1500, "the 3.1 GB texture was decoded"


@pytest.mark.skipif(not INVALID.is_dir(), reason="assimp-testmodels not installed")
@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.iterdir() if p.name != "readme.txt") if INVALID.is_dir() else [])
def test_cli_reports_every_invalid_assimp_model_by_name(name, tmp_path):
    result = nbv("render", str(INVALID / name), "--views", "1", "--width", "32", "--height", "32", "--out", str(tmp_path / "r"))
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert name in result.stderr


class Server:
    """`nbv serve` on a free loopback port, with a DEALER socket of its own."""

    def __init__(self, *args):
        self.process = subprocess.Popen([NBV, "serve", "--bind", "tcp://127.0.0.1:*", *args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("listening on"), line + self.process.stderr.read()
        self.endpoint = line.split()[-1]
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.endpoint)
        self.count = 0

    def call(self, header, timeout=120):
        self.count += 1
        self.socket.send(json.dumps({"v": 1, "id": self.count, **header}).encode())
        assert self.socket.poll(timeout * 1000), f"no reply to {header}"
        frames = self.socket.recv_multipart()
        return json.loads(frames[0])

    def alive(self):
        return self.call({"op": "ping"})["ok"] and self.process.poll() is None

    def stop(self):
        self.socket.close(linger=0)
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def local_server():
    server = Server()
    yield server
    server.stop()


def make_and_reset(server, overrides, **options):
    made = server.call({"op": "make", "overrides": {"episode.budget": 3, "image.width": 32, "image.height": 32,
                                                     "ground_truth_samples": 500, "meshes.split": "all", **overrides}})
    if not made["ok"]:
        return made
    return server.call({"op": "reset", "session": made["session"], "seed": 0, **({"options": options} if options else {})})


def test_server_survives_crashing_mesh_files(local_server, hostile_files):
    for key in ("dae", "loop"):
        reply = make_and_reset(local_server, {"meshes.source": str(hostile_files[key])})
        assert not reply["ok"], reply
        assert str(hostile_files[key]) in reply["error"]["message"], reply
        assert local_server.alive()
    reply = make_and_reset(local_server, {"meshes.source": str(hostile_files["textured"])})
    assert reply["ok"], reply
    if INVALID.is_dir():
        for path in sorted(INVALID.iterdir()):
            if path.name != "readme.txt":
                reply = make_and_reset(local_server, {"meshes.source": str(path)})
                assert not reply["ok"] and path.name in reply["error"]["message"], reply
        assert local_server.alive()


def test_server_refuses_the_68_gigabyte_reset_and_numbers_beyond_range(local_server):
    made = local_server.call({"op": "make", "overrides": {
        "image.width": 2048, "image.height": 2048, "backbone.patch_size": 1, "backbone.token_width": 4096,
        "episode.budget": 64, "observation.keys": ["patch_tokens"]}})
    assert made["error"]["code"] == "resource_limit" and made["error"]["field"] == "observation.keys", made
    wide = local_server.call({"op": "make", "num_envs": 256, "overrides": {
        "image.width": 1024, "image.height": 1024, "ground_truth_samples": 1000000}})
    assert wide["error"]["code"] == "resource_limit", wide
    for key in ("image.width", "episode.budget", "camera.min_radius", "backbone.depth_noise"):
        local_server.socket.send(b'{"v": 1, "id": "big", "op": "make", "overrides": {"%s": 1e400}}' % key.encode())
        assert local_server.socket.poll(30000)
        reply = json.loads(local_server.socket.recv_multipart()[0])
        assert reply["error"]["code"] == "bad_header" and reply["error"]["field"] == f"overrides.{key}", reply
    assert local_server.alive()


def grid_obj(path, n):
    """An n x n grid (2 n^2 triangles, (n + 1)^2 vertices) as an OBJ file."""
    lines = [f"v {i / n} {j / n} {0.1 * ((i * j) % 7) / 7}" for i in range(n + 1) for j in range(n + 1)]
    for i in range(n):
        for j in range(n):
            a = i * (n + 1) + j + 1
            lines += [f"f {a} {a + n + 1} {a + 1}", f"f {a + 1} {a + n + 1} {a + n + 2}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_mesh_over_max_mesh_bytes_is_refused_before_it_reaches_the_server(tmp_path):
    limit = 4 << 20
    # 20,000 triangles and 10,201 vertices: 160 B x 10,201 + 400 B x 20,000 = 9.6 MB once prepared.
    big = grid_obj(tmp_path / "big.obj", 100)
    small = grid_obj(tmp_path / "small.obj", 10)
    refused = nbv("parse-mesh", "--max-mesh-bytes", str(limit), str(big))
    assert refused.returncode == 3 and refused.stdout == "", refused
    assert str(big) in refused.stderr and "20000 triangles" in refused.stderr and "4.0 MiB" in refused.stderr, refused.stderr
    accepted = subprocess.run([NBV, "parse-mesh", "--max-mesh-bytes", str(limit), str(small)], capture_output=True, timeout=60)
    assert accepted.returncode == 0 and accepted.stdout.startswith(b"NBVMESH1"), accepted.stderr
    server = Server("--max-mesh-bytes", str(limit))
    try:
        made = server.call({"op": "make", "overrides": {"meshes.source": str(big), "image.width": 32, "image.height": 32,
                                                         "ground_truth_samples": 500, "meshes.split": "all"}})
        assert made["ok"], made
        reset = server.call({"op": "reset", "session": made["session"], "seed": 0})
        assert reset["error"]["code"] == "resource_limit" and reset["error"]["field"] == "meshes.source", reset
        assert "big.obj" in reset["error"]["message"] and "--max-mesh-bytes" in reset["error"]["message"], reset
        again = server.call({"op": "reset", "session": made["session"], "seed": 1})
        assert again["error"]["code"] == "resource_limit", again
        reply = make_and_reset(server, {"meshes.source": str(small)})
        assert reply["ok"], reply
        assert server.alive()
    finally:
        server.stop()


def test_a_make_whose_requests_take_too_long_is_refused_naming_the_key(local_server):
    # The 10^7 ground-truth samples: the outer-surface pass alone is estimated at over 60 s (the default).
    overrides = {"ground_truth_samples": 10000000, "meshes.count": 1}
    made = local_server.call({"op": "make", "overrides": overrides})
    assert made["error"]["code"] == "resource_limit" and made["error"]["field"] == "ground_truth_samples", made
    assert "--max-request-seconds" in made["error"]["message"], made
    handshake = local_server.call({"op": "handshake"})
    assert handshake["resource_limits"]["max_request_seconds"] == 60, handshake
    patient = Server("--max-request-seconds", "100000")
    try:
        assert patient.call({"op": "make", "overrides": overrides})["ok"]
    finally:
        patient.stop()


def test_served_environments_connect_only_to_the_operators_backbones():
    # A listener the client names: the server must never connect to it, on loopback too.
    trap = zmq.Context.instance().socket(zmq.ROUTER)
    trap.setsockopt(zmq.LINGER, 0)
    port = trap.bind_to_random_port("tcp://127.0.0.1")
    server = Server("--backbone", "default=tcp://127.0.0.1:9", "--max-backbone-timeout", "30")
    try:
        reply = server.call({"op": "make", "overrides": {"backbone.type": "mapanything", "backbone.endpoint": f"tcp://127.0.0.1:{port}"}})
        assert reply["error"]["field"] == "backbone.endpoint" and "default" in reply["error"]["message"], reply
        reply = server.call({"op": "make", "overrides": {"backbone.type": "mapanything", "backbone.timeout": 1e6}})
        assert reply["error"]["field"] == "backbone.timeout", reply
        reply = server.call({"op": "make", "overrides": {"backbone.type": "mapanything", "backbone.timeout": 100}})
        assert reply["error"]["field"] == "backbone.timeout" and "30" in reply["error"]["message"], reply
        assert trap.poll(500) == 0, "the server connected where the client said"
    finally:
        server.stop()
        trap.close(linger=0)


def test_a_remote_server_reads_only_its_data_folders(tmp_path):
    data = tmp_path / "data"
    (data / "meshes").mkdir(parents=True)
    os.symlink(WUSON, data / "meshes" / "escape.ply")  # a link inside that leads out
    (data / "inside").mkdir()
    (data / "inside" / "wuson.ply").write_bytes(Path(WUSON).read_bytes())
    (data / "mine.json").write_text(json.dumps({"meshes": {"source": "inside", "split": "all"}, "episode": {"budget": 3},
                                                "image": {"width": 32, "height": 32}, "ground_truth_samples": 500}))
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    server = Server("--allow-remote", "--data-root", str(data))
    try:
        # Paths outside: one refusal, whether they exist or not, naming no more than the client said.
        refusals = []
        for name in (str(outside), str(tmp_path / "missing.json"), "../secret.json", "/etc/passwd"):
            reply = server.call({"op": "make", "definition": name})
            assert reply["error"]["field"] == "definition", reply
            refusals.append(reply["error"]["message"].replace(name, "NAME"))
        assert len(set(refusals)) == 1, refusals
        for source in ("/etc/*", str(tmp_path), "../", "meshes"):
            reply = make_and_reset(server, {"meshes.source": source})
            assert not reply["ok"] and "matches" not in reply["error"]["message"], reply
            assert str(tmp_path) not in reply["error"]["message"].replace(source, ""), reply
        # Inside: a definition and meshes named relative to the data folder; replies show no server path.
        made = server.call({"op": "make", "definition": "mine.json"})
        assert made["ok"], made
        reset = server.call({"op": "reset", "session": made["session"], "seed": 1})
        assert reset["ok"] and reset["info"]["mesh"] == "wuson.ply", reset
        assert str(data) not in json.dumps(reset)
        again = server.call({"op": "reset", "session": made["session"], "seed": 1, "options": {"mesh": "wuson.ply"}})
        assert again["ok"], again
        assert make_and_reset(server, {"meshes.source": "inside/*.ply"})["ok"]
        # Shipped definitions and procedural families stay available.
        assert server.call({"op": "make", "definition": "procedural-v0"})["ok"]
        assert make_and_reset(server, {"meshes.source": "procedural:union"})["ok"]
    finally:
        server.stop()


def test_a_loopback_server_keeps_local_paths(local_server):
    assert make_and_reset(local_server, {"meshes.source": WUSON})["ok"]


def in_test_split(name: str, fraction: float = 0.2) -> bool:
    """Dataset.isTest: FNV-1a 64 of the name, SplitMix64 finaliser, top 53 bits as a fraction."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = ((h ^ byte) * 0x100000001B3) & mask
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
    h ^= h >> 31
    return (h >> 11) * 2.0 ** -53 < fraction


def test_meshes_option_uses_a_single_file_whatever_the_split(tmp_path):
    # A file the split puts in the test split (1 in 5 names): --meshes FILE uses it anyway.
    name = next(str(tmp_path / f"mesh{k}.ply") for k in range(200) if in_test_split(str(tmp_path / f"mesh{k}.ply")))
    Path(name).write_bytes(Path(WUSON).read_bytes())
    small = ["--set", "episode.budget=3", "--set", "image.width=32", "--set", "image.height=32", "--set", "ground_truth_samples=500"]
    result = nbv("episode", "--meshes", name, *small, "--out", str(tmp_path / "e"))
    assert result.returncode == 0, result.stderr
    # A malformed file reports its own error.
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nf 1 2 3\n")
    result = nbv("episode", "--meshes", str(bad), *small, "--out", str(tmp_path / "bad"))
    assert result.returncode != 0 and "bad.obj" in result.stderr and "split" not in result.stderr, result.stderr
