"""CURVE key files for `nbv serve --curve-secret-key/--allowed-clients` and `CurveOptions`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple

import zmq.auth


def create_keypair(directory: str | os.PathLike, name: str) -> Tuple[Path, Path]:
    """Writes ``<name>.key`` (public certificate: share it, e.g. copy it into the server's allowed-clients
    directory) and ``<name>.key_secret`` (keep it private). Returns (public path, secret path)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    return Path(public), Path(secret)
