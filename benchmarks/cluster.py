"""Cluster mode against embedded mode on the same machine: training speed and keystrokes.

Both sides serve one session of the benchmark model training while a viewer types, in
alternating rounds (each side trains alone in its round):
- embedded: one gunicorn server with two training worker processes;
- cluster: the same gunicorn server in cluster mode over the real services the tests use
  (`tests/services.py`: redis-server, PostgreSQL from initdb, a Ray head and a second
  node, one CPU each), so its session trains in a Ray actor and its events cross Redis.

`cluster_train_ratio` is the session's characters/s in cluster mode over embedded mode (goal
>= 0.9); `cluster_keystroke_p99_ratio` the same for the p99 of an `inspect:query` of 100
characters (goal <= 1.5). `cluster_sessions_per_node` counts where 8 new sessions were placed.

`cluster_keystroke_hops` says where a cluster keystroke's time goes, each measured between the
keystrokes (so under the same load): a Redis round trip (PING), a Ray actor call (a trainer's
`info`), the same inspect sent straight to the trainer actor by Ray with its answer read off
Redis (no web process, no Socket.IO), and an echo through the web process (no trainer).
"""

from __future__ import annotations

import contextlib
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_MODEL, CORPUS_FILE, Mode, log, percentile, rounded
from benchmarks.keystroke import WARMUP_QUERIES, Typist
from benchmarks.server import (
    Client,
    Server,
    TrainingSession,
    open_session,
    running_server,
    start_server,
    steady_window,
    stop_server_proc,
    warm_up,
)

PLACED = 8  # sessions created to see how they spread over the nodes
SMALL = {"hidden_size": 8, "seq_len": 8}


class Hops:
    """The pieces of a cluster keystroke, timed against the cluster the web process uses."""

    def __init__(self, redis_url: str, ray_address: str) -> None:
        import ray
        import redis

        from backend.engine.ray_pool import EVENTS, NAMESPACE

        self.redis = redis.Redis.from_url(redis_url)
        self.events = self.redis.pubsub(ignore_subscribe_messages=True)
        self.events.subscribe(EVENTS)
        ray.init(address=ray_address, namespace=NAMESPACE, log_to_driver=False)
        self.seq = 1_000_000  # far above the typist's: the worker answers each client's newest
        self.times: dict[str, list[float]] = {"redis_ping": [], "ray_call": [], "direct": []}

    def round(self, session: str, text: str) -> None:
        """One of each, timed in ms."""
        import ray

        from backend.engine.messages import Answered, Query, Rejected, decode
        from backend.engine.ray_pool import PLACEMENT
        from backend.tasks.registry import spec_for

        actor = ray.get_actor(self.redis.hget(PLACEMENT, session).decode())
        self.times["redis_ping"].append(timed(self.redis.ping))
        self.times["ray_call"].append(timed(lambda: ray.get(actor.info.remote(), timeout=30)))
        self.seq += 1
        asked = {"text": text, "seq": self.seq, "saliency": False}  # as the typist asks
        fields = spec_for("text").parse_query("inspect", asked)
        query = Query(session, "inspect", client="bench-hops", seq=self.seq, fields=fields)

        def answered() -> None:
            actor.send.remote(query)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                message = self.events.get_message(timeout=1.0)
                event = decode(message["data"]) if message else None
                if isinstance(event, (Answered, Rejected)) and event.client == "bench-hops":
                    if event.seq == self.seq:
                        return
            raise TimeoutError("the trainer did not answer the direct inspect")

        self.times["direct"].append(timed(answered))

    def summary(self) -> dict[str, float]:
        out = {}
        for name, values in self.times.items():
            out[f"{name}_p50_ms"] = round(percentile(values, 50), 2)
            out[f"{name}_p99_ms"] = round(percentile(values, 99), 2)
        return out

    def close(self) -> None:
        import ray

        self.events.close()
        ray.shutdown()


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


@dataclass
class Side:
    """One mode's server, its training session and a viewer typing into it."""

    name: str
    server: Server
    session: TrainingSession
    typist: Typist
    hops: Hops | None = None
    rates: list[float] = field(default_factory=list)
    inspect: list[float] = field(default_factory=list)
    echo: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "chars_per_s": rounded(statistics.median(self.rates)),
            "chars_per_s_rounds": [rounded(rate) for rate in self.rates],
            "keystroke_p50_ms": round(percentile(self.inspect, 50), 2),
            "keystroke_p99_ms": round(percentile(self.inspect, 99), 2),
            "echo_p99_ms": round(percentile(self.echo, 99), 2),
        }


def open_side(name: str, server: Server, mode: Mode, hops: Hops | None = None) -> Side:
    """A session of the benchmark model on `server`, warmed up, with a viewer joined."""
    session = open_session(server, BENCH_MODEL)
    viewer = Client(server.url)
    session.extra.append(viewer)
    viewer.join(session.id, session.info["view_token"])
    # At least a few seconds: a Ray actor's first steps pay for its torch warm-up.
    warm_up([session], max(mode.warmup_s, 3.0))
    typist = Typist(viewer, CORPUS_FILE.read_text(encoding="utf-8"))
    return Side(name, server, session, typist, hops)


def measure_round(side: Side, mode: Mode) -> None:
    """Train the side's session alone for a window, then type into it while it trains."""
    side.session.start()
    try:
        window = steady_window(side.server, [side.session], max(mode.resume_s, 1.0), mode.window_s)
        side.rates.append(window.rates[0])
        for _ in range(WARMUP_QUERIES):
            side.typist.inspect()
        text = CORPUS_FILE.read_text(encoding="utf-8")[:100]
        for _ in range(math.ceil(mode.keystrokes / mode.rounds)):
            side.inspect.append(side.typist.inspect())
            side.echo.append(side.typist.echo())
            if side.hops is not None:
                side.hops.round(side.session.id, text)
    finally:
        side.session.pause()


@contextlib.contextmanager
def cluster_server() -> Iterator[tuple[Server, str, str]]:
    """A web process in cluster mode over fresh services; yields it, the Redis URL and the
    Ray address."""
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
        yield server, redis.url, ray.address


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
    """Both modes up at once, measured in alternating rounds (so the machine's other load
    falls on both alike); rates are the rounds' medians, keystrokes pooled over rounds."""
    started = time.monotonic()
    with running_server(workers=2) as embedded_server, cluster_server() as cluster:
        server, redis_url, ray_address = cluster
        log(
            f"embedded server (2 workers) at {embedded_server.url}; cluster up in "
            f"{time.monotonic() - started:.0f}s, its web process at {server.url}"
        )
        hops = Hops(redis_url, ray_address)
        sides = [open_side("embedded", embedded_server, mode)]
        sides.append(open_side("cluster", server, mode, hops))
        try:
            for index in range(mode.rounds):
                for side in sides if index % 2 == 0 else sides[::-1]:
                    measure_round(side, mode)
                    log(f"round {index + 1} {side.name}: {rounded(side.rates[-1])} chars/s")
        finally:
            for side in sides:
                side.session.close()
            hops.close()
        embedded, clustered = (side.summary() for side in sides)
        log(f"embedded: {embedded}")
        log(f"cluster: {clustered}")
        log(f"cluster keystroke hops: {hops.summary()}")
        per_node = placement(server, redis_url)
    speed = (clustered["chars_per_s"] or math.nan) / (embedded["chars_per_s"] or math.nan)
    return {
        "cluster": {"embedded": embedded, "cluster": clustered, "sessions_per_node": per_node},
        "cluster_train_ratio": rounded(speed, 3),
        "cluster_keystroke_p99_ratio": rounded(
            clustered["keystroke_p99_ms"] / embedded["keystroke_p99_ms"], 3
        ),
        "cluster_sessions_per_node": per_node,
        "cluster_keystroke_hops": hops.summary(),
    }
