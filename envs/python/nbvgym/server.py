"""Starting a local `nbv serve` for `spawn=True`."""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

#: The repository root when nbvgym is installed in editable mode from envs/python.
REPO_ROOT = Path(__file__).resolve().parents[3]


def server_command() -> List[str]:
    """The command that starts a server: ``$NBV_SERVE``, else ``<repo>/.build/release/nbv serve``,
    else ``nbv serve`` from PATH."""
    if os.environ.get("NBV_SERVE"):
        return shlex.split(os.environ["NBV_SERVE"])
    built = REPO_ROOT / ".build" / "release" / "nbv"
    if built.is_file() and os.access(built, os.X_OK):
        return [str(built), "serve"]
    found = shutil.which("nbv")
    if found:
        return [found, "serve"]
    raise FileNotFoundError(
        "cannot find the NBVGym server: set NBV_SERVE (e.g. 'nbv serve'), build it with "
        f"`swift build -c release --product nbv` in {REPO_ROOT}, or put `nbv` on PATH")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed Python leaves no server behind (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_DEATHSIG
        except OSError:
            pass


class LocalServer:
    """A `nbv serve` child process on a free loopback port (the server picks it and prints it).

    Args:
        command: the server command (default `server_command()`).
        args: extra `nbv serve` options, e.g. ``["--idle-timeout", "60"]``.
        startup_timeout: seconds to wait for the server's ``listening on`` line.
        verbose: the server's stderr (warnings, its stop message) goes to this process's stderr; by
            default to a temporary log (``log()``), quoted when the server fails to start.
    """

    def __init__(self, command: Optional[Sequence[str]] = None, args: Sequence[str] = (), startup_timeout: float = 60.0,
                 verbose: bool = False):
        self.command = list(command or server_command()) + ["--bind", "tcp://127.0.0.1:*"] + list(args)
        self._log = None if verbose else tempfile.TemporaryFile(prefix="nbv-serve-", suffix=".log")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=self._log,
                                        preexec_fn=_die_with_parent if os.name == "posix" else None)
        self.endpoint = ""
        self.curve_public_key: Optional[str] = None
        deadline = time.monotonic() + startup_timeout
        buffer = b""
        while not self.endpoint:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                log = self.log().strip()
                self.stop()
                raise RuntimeError(f"`{shlex.join(self.command)}` did not start (exit code {self.process.returncode})"
                                   + (f":\n{log}" if log else ""))
            ready, _, _ = select.select([self.process.stdout], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    if line.startswith("listening on "):
                        self.endpoint = line.split()[-1]
                    elif line.startswith("curve public key "):
                        self.curve_public_key = line.split()[-1]

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process.poll() is None

    def log(self) -> str:
        """What the server wrote to stderr so far ("" when ``verbose``, whose stderr is not kept)."""
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server closes its sessions and exits), then SIGKILL after `timeout`; harmless twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
