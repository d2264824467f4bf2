"""The soak test of `nbv serve` (run it through scripts/soak; docs/PROTOCOL.md, "Soak").

Clients, each on its own thread and DEALER socket, by role (of 32: 16 well-behaved, 8 malformed,
4 resource-heavy, 4 abandoning):
- well-behaved: make a small session, reset, step, ping, close now and then; every request is retried with
  the same id (Lazy Pirate) on a socket reopened with the client's secret routing identity, so a random
  disconnect keeps the session; after the restart their sessions are gone (unknown_session) and they make
  new ones. Their round trips give the latency figures.
- malformed: broken JSON, unknown ops, wrong types, truncated frames, bad tensors, other clients' ids.
- resource-heavy: makes beyond the limits (the 68 GB reset), vectors near them, large observations.
- abandoning: make, reset, step, then drop the socket without closing (the idle reaper must free them).
Every request must get exactly one reply while the server is up. A reply is *lost* when no attempt of a
request is answered (well-behaved clients retry through the restart; the others pause while it happens).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket as pysocket
import struct
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import zmq

SMALL = {"episode.budget": 6, "image.width": 48, "image.height": 48, "ground_truth_samples": 2000, "meshes.count": 8}


class Soak:
    def __init__(self, args):
        self.args = args
        self.port = self.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.stop = threading.Event()
        self.lost = 0
        self.replies = 0
        self.crashes = 0
        self.latencies = []
        self.errors = {}
        self.rss = []  # (time, MiB) per server instance
        self.process = None

    @staticmethod
    def free_port():
        s = pysocket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    # server

    def start_server(self):
        self.process = subprocess.Popen(
            [self.args.nbv, "serve", "--bind", self.endpoint, "--idle-timeout", "4", "--max-sessions", "256",
             "--max-session-bytes", str(1 << 30), "--max-total-bytes", str(4 << 30)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening on"):
            raise SystemExit(f"soak: the server did not start: {line!r}")
        self.rss.append([])
        self.up.set()

    def stop_server(self):
        self.up.clear()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=120)
        if code != 0:
            self.crashes += 1

    def rss_mib(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None

    def watch(self):
        while not self.stop.is_set():
            if self.up.is_set() and self.process.poll() is not None:
                self.crashes += 1
                print(f"soak: the server died with {self.process.returncode}; restarting", file=sys.stderr)
                self.start_server()
            value = self.rss_mib()
            if value is not None:
                self.rss[-1].append((time.monotonic(), value))
            time.sleep(0.5)

    # clients

    def count_error(self, code):
        with self.lock:
            self.errors[code] = self.errors.get(code, 0) + 1

    def client(self, index, role):
        rng = random.Random(self.args.seed * 1000 + index)
        routing = b"soak-" + uuid.UUID(int=rng.getrandbits(128)).hex.encode()
        ctx = zmq.Context.instance()
        sock = None
        counter = 0

        def connect():
            nonlocal sock
            if sock is not None:
                sock.close(linger=0)
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if role == "good":
                sock.setsockopt(zmq.ROUTING_ID, routing)
            sock.connect(self.endpoint)

        def request(frames, request_id, retries, timeout=10.0):
            """One reply per request: returns its header, or None after `retries` unanswered attempts."""
            for _ in range(retries):
                self.up.wait()
                start = time.monotonic()
                sock.send_multipart(frames)
                while sock.poll(int(timeout * 1000)):
                    reply = sock.recv_multipart()
                    header = json.loads(reply[0])
                    if request_id is not None and header.get("id") != request_id:
                        continue  # a late reply to an abandoned attempt
                    with self.lock:
                        self.replies += 1
                    return header, time.monotonic() - start
                if role != "good" and not self.up.is_set():
                    return "restart", 0.0  # sent into the restart: not counted
                connect()
            with self.lock:
                self.lost += 1
            print(f"soak: client {index} ({role}) lost the reply to {frames[0][:120]!r}", file=sys.stderr)
            return None, 0.0

        def call(header, tensors=(), retries=1, timeout=10.0):
            nonlocal counter
            counter += 1
            rid = f"{index}-{counter}"
            descriptors = [{"name": n, "dtype": a.dtype.str, "shape": list(a.shape)} for n, a in tensors]
            frames = [json.dumps({"v": 1, "id": rid, **header, "tensors": descriptors}).encode()] + [a.tobytes() for _, a in tensors]
            reply, seconds = request(frames, rid, retries, timeout)
            if isinstance(reply, dict) and not reply.get("ok"):
                self.count_error(reply["error"]["code"])
            return reply, seconds

        connect()
        session = None
        while not self.stop.is_set():
            if rng.random() < 0.02:
                connect()  # a random disconnect
            if role == "good":
                if session is None:
                    reply, _ = call({"op": "make", "client": routing.decode(), "overrides": SMALL}, retries=4)
                    session = reply.get("session") if isinstance(reply, dict) else None
                    if session:
                        call({"op": "reset", "session": session, "seed": rng.randrange(1 << 30)}, retries=4)
                    continue
                action = np.asarray([rng.uniform(-1, 1) for _ in range(3)], dtype="<f4")
                reply, seconds = call({"op": "step", "session": session}, [("action", action)], retries=4)
                if isinstance(reply, dict):
                    with self.lock:
                        self.latencies.append(seconds)
                    code = (reply.get("error") or {}).get("code")
                    if code == "reset_required" or reply.get("truncated") or reply.get("terminated"):
                        call({"op": "reset", "session": session}, retries=4)
                    elif code in ("unknown_session", "session_closed"):
                        session = None
                reply, seconds = call({"op": "ping"}, retries=4)
                if isinstance(reply, dict):
                    with self.lock:
                        self.latencies.append(seconds)
                if rng.random() < 0.01 and session:
                    call({"op": "close", "session": session}, retries=4)
                    session = None
                time.sleep(0.01)
            elif role == "malformed":
                kind = rng.randrange(7)
                if kind == 0:
                    request([b'{"op": "step", "v": 1,'], None, 1)
                elif kind == 1:
                    call({"op": "fly"})
                elif kind == 2:
                    call({"op": "reset", "session": 42, "seed": -1})
                elif kind == 3:
                    call({"op": "step", "session": "s-" + "0" * 32}, [("action", np.zeros(4, dtype="<f8"))])
                elif kind == 4:
                    counter += 1
                    header = {"v": 1, "id": f"{index}-{counter}", "op": "step", "session": "x",
                              "tensors": [{"name": "action", "dtype": "<f4", "shape": [3]}]}
                    request([json.dumps(header).encode()], f"{index}-{counter}", 1)  # the tensor frame is missing
                elif kind == 5:
                    call({"op": "make", "overrides": {"image.width": "wide", "episode.budget": 1e300}})
                else:
                    request([os.urandom(rng.randrange(1, 200))], None, 1)
                time.sleep(0.005)
            elif role == "heavy":
                kind = rng.randrange(3)
                if kind == 0:
                    call({"op": "make", "overrides": {"image.width": 2048, "image.height": 2048, "backbone.patch_size": 1,
                                                      "backbone.token_width": 4096, "episode.budget": 64,
                                                      "observation.keys": ["patch_tokens"]}})
                elif kind == 1:
                    call({"op": "make", "num_envs": 256, "overrides": {"image.width": 1024, "image.height": 1024,
                                                                       "ground_truth_samples": 1000000}})
                else:
                    reply, _ = call({"op": "make", "num_envs": 4, "overrides": {
                        **SMALL, "image.width": 160, "image.height": 160, "observation.keys": ["tokens", "patch_tokens"]}}, timeout=60)
                    if isinstance(reply, dict) and reply.get("ok"):
                        s = reply["session"]
                        call({"op": "reset", "session": s, "seed": 1}, timeout=60)
                        call({"op": "step", "session": s}, [("action", np.zeros((4, 3), dtype="<f4"))], timeout=60)
                        if rng.random() < 0.5:
                            call({"op": "close", "session": s})
                time.sleep(0.2)
            else:  # abandoning
                reply, _ = call({"op": "make", "overrides": SMALL})
                if isinstance(reply, dict) and reply.get("ok"):
                    call({"op": "reset", "session": reply["session"], "seed": 2})
                    call({"op": "step", "session": reply["session"]}, [("action", np.zeros(3, dtype="<f4"))])
                routing = b"soak-" + uuid.UUID(int=rng.getrandbits(128)).hex.encode()
                connect()  # gone without a close
                time.sleep(0.3)
        sock.close(linger=0)

    def run(self):
        self.start_server()
        roles = ["good"] * (self.args.clients // 2) + ["malformed"] * (self.args.clients // 4) \
            + ["heavy"] * (self.args.clients // 8) + ["abandon"] * (self.args.clients - self.args.clients // 2 - self.args.clients // 4 - self.args.clients // 8)
        watcher = threading.Thread(target=self.watch, daemon=True)
        watcher.start()
        threads = [threading.Thread(target=self.client, args=(i, role), daemon=True) for i, role in enumerate(roles)]
        for t in threads:
            t.start()
        start = time.monotonic()
        half = self.args.seconds / 2
        while time.monotonic() - start < half:
            time.sleep(0.5)
            print(f"soak: {time.monotonic() - start:5.0f} s, {self.replies} replies, {self.lost} lost, {self.crashes} crashes", file=sys.stderr)
        print("soak: restarting the server", file=sys.stderr)
        self.stop_server()
        self.start_server()
        while time.monotonic() - start < self.args.seconds:
            time.sleep(0.5)
        self.stop.set()
        for t in threads:
            t.join(timeout=60)
        self.stop_server()
        return self.report(roles)

    def report(self, roles):
        latencies = sorted(self.latencies)
        p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] if latencies else float("nan")
        growth = []
        for samples in self.rss:
            if len(samples) >= 4:
                settled = [v for t, v in samples if t - samples[0][0] > 10] or [v for _, v in samples]
                growth.append({"first_mib": round(settled[0], 1), "last_mib": round(settled[-1], 1), "max_mib": round(max(settled), 1)})
        summary = {"seconds": self.args.seconds, "clients": len(roles), "roles": {r: roles.count(r) for r in set(roles)},
                   "replies": self.replies, "replies_lost": self.lost, "crashes": self.crashes, "restarts": 1,
                   "well_behaved_round_trips": len(latencies), "p50_ms": round(p(0.5), 2), "p99_ms": round(p(0.99), 2),
                   "rss_per_server": growth, "error_replies": dict(sorted(self.errors.items()))}
        print(json.dumps(summary, indent=2))
        if self.args.json:
            tmp = self.args.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(summary, f, indent=2)
            os.replace(tmp, self.args.json)
        return 0 if self.lost == 0 and self.crashes == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nbv", required=True, help="the nbv executable")
    parser.add_argument("--seconds", type=float, default=120, help="length of the soak (the restart is at half)")
    parser.add_argument("--clients", type=int, default=32, help="client threads (half well-behaved)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every client's random choices")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()
    if args.clients < 8:
        parser.error("--clients must be at least 8 (every role needs a client)")
    sys.exit(Soak(args).run())


if __name__ == "__main__":
    main()
