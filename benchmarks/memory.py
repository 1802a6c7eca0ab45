"""Memory per session: resident memory each loaded session adds to the whole server.

The server is gunicorn plus the training workers its app starts, so the figure sums VmRSS
over the whole process tree (children found through the ppid field of /proc/<pid>/stat),
before and after N sessions (LSTM, hidden 256, other settings at their defaults) are created
and their models built on the workers (a `session:state` with params > 0), divided by N.
The sockets used to load them are closed before measuring: a connection is a cost per
viewer, not per session. One session per worker is loaded first, so that what each worker
allocates once (torch's kernels and pools) is not counted as a session's cost.

`rss_mb_per_trained_session` adds what one `train:step` of each leaves behind (gradients,
the optimizer's moments): what a session that has trained holds, and what a classroom server
actually carries. The warm-up sessions step first, so that the activation memory a worker
keeps after its first step (freed to the allocator, not to the system) is not counted.
"""

from __future__ import annotations

import time

from benchmarks.common import MEMORY_MODEL, Mode, log
from benchmarks.procs import tree_rss_mb
from benchmarks.server import Client, Server, open_session

SETTLE_S = 0.5


def settled_rss(root: int) -> float:
    """The tree's RSS once allocations in flight have landed."""
    time.sleep(SETTLE_S)
    return tree_rss_mb(root)


def step_once(server: Server, info: dict) -> None:
    """One optimisation step of a paused session, waited for through its progress message."""
    client = Client(server.url)
    try:
        client.join(info["id"], info["owner_token"])
        client.emit("train:step")
        deadline = time.monotonic() + 60
        while not any(c > 0 for _, c in client.marks(0, float("inf"))):
            if time.monotonic() > deadline:
                raise TimeoutError("train:step was not reported within 60 s")
            time.sleep(0.05)
    finally:
        client.close()


def load_sessions(server: Server, n: int) -> list[dict]:
    """Create `n` sessions and wait until each one's model is built; close their sockets."""
    infos = []
    for _ in range(n):
        session = open_session(server, MEMORY_MODEL)
        infos.append(session.info)
        session.close()
    return infos


def measure_memory(server: Server, mode: Mode) -> dict:
    """MiB of RSS per extra loaded session, and per extra session after one training step."""
    warm = load_sessions(server, server.workers)  # one per worker (placement alternates)
    n = mode.memory_sessions
    before = settled_rss(server.proc.pid)
    infos = load_sessions(server, n)
    loaded = settled_rss(server.proc.pid)
    for info in warm:
        step_once(server, info)
    stepped_warm = settled_rss(server.proc.pid)
    for info in infos:
        step_once(server, info)
    trained = settled_rss(server.proc.pid)
    per_loaded = (loaded - before) / n
    per_trained = per_loaded + (trained - stepped_warm) / n
    log(
        f"memory: server tree {before:.0f} MiB, +{loaded - before:.0f} MiB for {n} more sessions "
        f"loaded, +{trained - stepped_warm:.0f} MiB more after one step of each"
    )
    return {
        "rss_mb_per_session": round(per_loaded, 2),
        "rss_mb_per_trained_session": round(per_trained, 2),
        "rss_server_tree_mb_before": round(before, 1),
        "rss_sessions_loaded": n,
    }
