"""Many clients at once: no reply lost or duplicated (16 x 1,000 in the Swift tests; here 16 x
$NBV_STRESS_STEPS, default 200, against the real environment)."""

import os
import threading

import numpy as np

import nbvgym


def test_sixteen_concurrent_clients(server):
    steps = int(os.environ.get("NBV_STRESS_STEPS", "200"))
    errors = []

    def run(k):
        try:
            env = nbvgym.NBVEnv(endpoint=server.endpoint, timeout=120)
            env.reset(seed=k)
            rng = np.random.default_rng(k)
            for _ in range(steps):
                _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
                if terminated or truncated:
                    env.reset()
            # Nothing extra is waiting: every reply was consumed exactly once.
            assert not env._connection.client._socket.poll(50)
            env.close()
        except Exception as error:  # noqa: BLE001 - collected and reported below
            errors.append(f"client {k}: {error!r}")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
