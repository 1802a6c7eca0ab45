"""Cluster mode against embedded mode on the same machine: training speed and keystrokes.

Both sides serve one session of the benchmark model training while a viewer types:
- embedded: one gunicorn server with two training worker processes;
- cluster: the same gunicorn server in cluster mode over the real services the tests use
  (`tests/services.py`: redis-server, PostgreSQL from initdb, a Ray head and a second
  node, one CPU each), so its session trains in a Ray actor and its events cross Redis.

`cluster_train_ratio` is the session's characters/s in cluster mode over embedded mode (goal
>= 0.9); `cluster_keystroke_p99_ratio` the same for the p99 of an `inspect:query` of 100
characters (goal <= 1.5). `cluster_sessions_per_node` counts where 8 new sessions were placed.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_MODEL, CORPUS_FILE, Mode, log, percentile, rounded
from benchmarks.keystroke import WARMUP_QUERIES, Typist
from benchmarks.server import (
    Client,
    Server,
    open_session,
    running_server,
    start_server,
    steady_window,
    stop_server_proc,
    warm_up,
)

PLACED = 8  # sessions created to see how they spread over the nodes
SMALL = {"hidden_size": 8, "seq_len": 8}


def measure_side(server: Server, mode: Mode) -> dict[str, Any]:
    """One training session's characters/s, then inspect and echo round trips while it trains."""
    session = open_session(server, BENCH_MODEL)
    viewer = Client(server.url)
    session.extra.append(viewer)
    viewer.join(session.id, session.info["view_token"])
    try:
        # At least a few seconds each: a Ray actor's first steps pay for its torch warm-up.
        warm_up([session], max(mode.warmup_s, 3.0))
        session.start()
        rate = steady_window(server, [session], max(mode.resume_s, 1.0), max(mode.window_s, 4.0))
        rate = rate.rates[0]
        typist = Typist(viewer, CORPUS_FILE.read_text(encoding="utf-8"))
        for _ in range(WARMUP_QUERIES):
            typist.inspect()
        inspect, echo = [], []
        for _ in range(mode.keystrokes):
            inspect.append(typist.inspect())
            echo.append(typist.echo())
        session.pause()
    finally:
        session.close()
    return {
        "chars_per_s": rounded(rate),
        "keystroke_p50_ms": round(percentile(inspect, 50), 2),
        "keystroke_p99_ms": round(percentile(inspect, 99), 2),
        "echo_p99_ms": round(percentile(echo, 99), 2),
    }


@contextlib.contextmanager
def cluster_server() -> Iterator[tuple[Server, str]]:
    """A web process in cluster mode over fresh services; yields it and the Redis URL."""
    from tests import services

    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="playground-cl-")))
        redis = services.start_redis(folder)
        stack.callback(redis.stop)
        postgres = services.start_postgres(folder / "postgres.log")
        stack.callback(postgres.stop)
        ray = services.start_ray(folder)
        stack.callback(ray.stop)
        env = {"RAY_ADDRESS": ray.address, "MESSAGE_QUEUE": redis.url}
        env["DATABASE_URL"] = postgres.url
        (folder / "shared").mkdir()  # the checkpoint directory every node reads
        server = start_server(folder / "shared", **env)
        stack.callback(stop_server_proc, server.proc)
        yield server, redis.url


def placement(server: Server, redis_url: str) -> dict[str, int]:
    """Create PLACED small sessions; count them per Ray node."""
    import redis

    for _ in range(PLACED):
        server.create(SMALL)
    names = [n.decode() for n in redis.Redis.from_url(redis_url).hvals("playground:placement")]
    counts: dict[str, int] = {}
    for name in names:
        node = name.split("-")[1]
        counts[node] = counts.get(node, 0) + 1
    return counts


def measure_cluster(mode: Mode) -> dict[str, Any]:
    with running_server(workers=2) as server:
        log(f"embedded server (2 workers) at {server.url}")
        embedded = measure_side(server, mode)
    log(f"embedded: {embedded}")
    started = time.monotonic()
    with cluster_server() as (server, redis_url):
        log(f"cluster up in {time.monotonic() - started:.0f}s; web process at {server.url}")
        clustered = measure_side(server, mode)
        log(f"cluster: {clustered}")
        per_node = placement(server, redis_url)
    speed = (clustered["chars_per_s"] or math.nan) / (embedded["chars_per_s"] or math.nan)
    return {
        "cluster": {"embedded": embedded, "cluster": clustered, "sessions_per_node": per_node},
        "cluster_train_ratio": rounded(speed, 3),
        "cluster_keystroke_p99_ratio": rounded(
            clustered["keystroke_p99_ms"] / embedded["keystroke_p99_ms"], 3
        ),
        "cluster_sessions_per_node": per_node,
    }
