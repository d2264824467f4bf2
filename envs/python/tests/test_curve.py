"""CURVE: an allowed client key is served; any other client gets no session and no data."""

import shutil

import pytest
import zmq

import nbvgym
from nbvgym.curve import create_keypair

from conftest import start_server


@pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq/libzmq without CURVE")
def test_curve_accepts_allowed_and_rejects_others(serve_command, tmp_path):
    _, server_secret = create_keypair(tmp_path / "server", "server")
    alice_public, alice_secret = create_keypair(tmp_path / "clients", "alice")
    _, mallory_secret = create_keypair(tmp_path / "clients", "mallory")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(alice_public, allowed / "alice.key")
    server = start_server(serve_command, "--curve-secret-key", str(server_secret), "--allowed-clients", str(allowed))
    try:
        server_public = tmp_path / "server" / "server.key"
        alice = nbvgym.NBVEnv(endpoint=server.endpoint, curve=nbvgym.CurveOptions(str(alice_secret), str(server_public)))
        alice.reset(seed=0)
        alice.step(alice.action_space.sample())
        alice.close()
        with pytest.raises(nbvgym.ServerUnavailableError):
            nbvgym.NBVEnv(endpoint=server.endpoint, timeout=1, retries=1,
                          curve=nbvgym.CurveOptions(str(mallory_secret), str(server_public)))
        with pytest.raises(nbvgym.ServerUnavailableError):
            nbvgym.NBVEnv(endpoint=server.endpoint, timeout=1, retries=1)  # plaintext
    finally:
        server.stop()
