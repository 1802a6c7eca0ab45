"""A real playground server for the benchmarks, and Socket.IO clients that time what they receive.

The server is started exactly as `scripts/serve.sh` (and the tests) start it: gunicorn serving
`wsgi:app`, one process in threading mode, on a free port of 127.0.0.1, with a temporary
PLAYGROUND_DATA_DIR so nothing is left behind.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio

from benchmarks.common import CORPUS, ROOT, slope, warn
from benchmarks.procs import cpu_seconds, process_tree, training_workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn server: its URL, its process (the group leader) and its log."""

    url: str
    proc: subprocess.Popen
    log: Path
    workers: int

    def create(self, config: dict | None = None, corpus: str | None = CORPUS) -> dict:
        """A new session through the real HTTP API (corpus None: the task's default text)."""
        body: dict = {"config": config or {}}
        if corpus is not None:
            body["corpus"] = corpus
        response = requests.post(f"{self.url}/api/sessions", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict:
        return requests.get(f"{self.url}/api/health", timeout=10).json()


def start_server(data_dir: Path, workers: int | None = None, **env: str) -> Server:
    """gunicorn serving wsgi:app on a free port; `workers` None keeps the default (one per core)."""
    port = free_port()
    log = data_dir / f"server-{port}.log"
    environ = {**os.environ, "PLAYGROUND_DATA_DIR": str(data_dir)}
    environ.pop("PLAYGROUND_WORKERS", None)
    if workers is not None:
        environ["PLAYGROUND_WORKERS"] = str(workers)
    environ.update({f"PLAYGROUND_{k}": v for k, v in env.items()})
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--threads",
        "100",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "3",
        "--no-control-socket",
        "wsgi:app",
    ]
    with log.open("w") as out:
        # Its own process group, so stopping it also stops its training workers.
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            health = requests.get(f"{url}/api/health", timeout=2).json()
            if health["ok"]:
                return Server(url, proc, log, health["workers"])
        except (requests.ConnectionError, requests.Timeout, ValueError):
            pass
        time.sleep(0.2)
    stop_server_proc(proc)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


def stop_server_proc(proc: subprocess.Popen) -> None:
    """Terminate gunicorn gracefully, then kill whatever is left of its process group."""
    proc.terminate()
    try:
        proc.wait(timeout=3)  # nothing to keep: the data directory is thrown away
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # training workers that outlived their parent
    except ProcessLookupError:
        pass


@contextmanager
def running_server(workers: int | None = None, **env: str) -> Iterator[Server]:
    """A server for the duration of a `with` block, in a data directory deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="playground-bench-") as tmp:
        server = start_server(Path(tmp), workers, **env)
        try:
            yield server
        except BaseException:
            warn(f"server log (last lines):\n{server.log.read_text()[-4000:]}")
            raise
        finally:
            stop_server_proc(server.proc)


class Client:
    """A real Socket.IO client over websocket; records every event with its arrival time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.Client(reconnection=False)
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.progress: list[tuple[float, int]] = []  # (arrival perf_counter, chars_seen)
        self.val: list[tuple[float, float | None]] = []  # (arrival perf_counter, bits/char)
        self.lock = threading.Lock()
        self.sio.on("*", self._receive)
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def _receive(self, event: str, data: Any = None) -> None:
        if event == "train:progress":
            with self.lock:
                self.progress.append((time.perf_counter(), data["chars_seen"]))
                self.val += [(time.perf_counter(), bits) for _, bits in data.get("val", [])]
            return  # kept only as marks: the inbox would grow without bound while training
        self.inbox.put((event, data))

    def emit(self, event: str, data: Any = None) -> None:
        self.sio.emit(event, data)

    def wait(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 30.0
    ) -> Any:
        """The first not-yet-consumed `event` whose payload satisfies `match`, or fail."""
        for i, (name, data) in enumerate(self.seen):
            if name == event and match(data):
                del self.seen[: i + 1]
                return data
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, data = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            if name == event and match(data):
                self.seen.clear()
                return data
            if name == "error":
                raise RuntimeError(f"server error while waiting for {event}: {data}")
            self.seen.append((name, data))
        raise TimeoutError(f"no {event} within {timeout}s; got {[n for n, _ in self.seen]}")

    def marks(self, start: float, end: float) -> list[tuple[float, int]]:
        """Progress marks (arrival time, chars_seen) that arrived within [start, end]."""
        with self.lock:
            return [(t, c) for t, c in self.progress if start <= t <= end]

    def validation(self) -> list[tuple[float, float | None]]:
        """Validation losses (arrival time, bits/char) from the progress received so far."""
        with self.lock:
            return list(self.val)

    def join(self, session: str, token: str) -> dict:
        self.emit("session:join", {"session": session, "token": token})
        return self.wait("session:state")

    def close(self) -> None:
        self.sio.disconnect()


@dataclass
class TrainingSession:
    """A session with its owner's client joined (so progress streams, as in the app)."""

    info: dict
    owner: Client
    params: int = 0
    extra: list[Client] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.info["id"]

    def start(self) -> None:
        start_all([self])

    def pause(self) -> None:
        pause_all([self])

    def close(self) -> None:
        for client in [self.owner, *self.extra]:
            client.close()


def start_all(sessions: list[TrainingSession]) -> None:
    """Start sessions together: every request is sent before any reply is awaited."""
    for s in sessions:
        s.owner.emit("train:start")
    for s in sessions:
        state = s.owner.wait("session:state", lambda st: st["status"] in ("running", "queued"))
        if state["status"] != "running":
            raise RuntimeError("the server queued a session: too many are training already")


def pause_all(sessions: list[TrainingSession]) -> None:
    """Pause sessions together, so that none trains on alone while the others are paused."""
    for s in sessions:
        s.owner.emit("train:pause")
    for s in sessions:
        s.owner.wait("session:state", lambda st: st["status"] == "paused")


def open_session(server: Server, config: dict, corpus: str | None = CORPUS) -> TrainingSession:
    """Create a session, join it as its owner and wait until its model is built on a worker."""
    info = server.create(config, corpus)
    owner = Client(server.url)
    state = owner.join(info["id"], info["owner_token"])
    # Built on a worker once it has described its task (the web process counts the
    # parameters itself, before the worker has built anything).
    if not state.get("described"):
        state = owner.wait("session:state", lambda s: bool(s.get("described")), timeout=120)
    return TrainingSession(info, owner, state["params"])


def close_all(sessions: list[TrainingSession]) -> None:
    for session in sessions:
        session.close()


@dataclass
class Window:
    """One steady measurement window over some training sessions."""

    rates: list[float]  # characters/s of each session
    seconds: float
    worker_cpu_s: list[float]  # CPU time each training worker got during the window
    web_cpu_s: float  # CPU time of the rest of the server (gunicorn: sockets, progress)

    @property
    def cpu_share(self) -> float:
        """Cores' worth of CPU the workers got: below their count, others took the cores."""
        return sum(self.worker_cpu_s) / self.seconds

    @property
    def worker_shares(self) -> list[float]:
        """Cores' worth each worker got (sessions never move between workers)."""
        return [cpu / self.seconds for cpu in self.worker_cpu_s]

    @property
    def web_cpu_share(self) -> float:
        return self.web_cpu_s / self.seconds


MIN_MARKS = 5  # progress messages per session that a window must hold
MAX_STRETCH = 3.0  # how much longer than asked a window may grow to get them


def steady_window(
    server: Server, sessions: list[TrainingSession], skip_s: float, window_s: float
) -> Window:
    """Characters/s of each (already started) session over one steady window.

    The first `skip_s` are skipped (after a first start: the first validation and diagnostic
    passes, allocator warm-up); the rate is the least-squares slope of chars_seen over the
    arrival times of a session's progress messages. On a busy machine progress can be sparse:
    the window then grows (up to MAX_STRETCH times) until each session has MIN_MARKS.
    """
    time.sleep(skip_s)
    workers = training_workers(server.proc.pid)
    web = [pid for pid in process_tree(server.proc.pid) if pid not in workers]
    cpu, web_cpu = [cpu_seconds([pid]) for pid in workers], cpu_seconds(web)
    start = time.perf_counter()
    time.sleep(window_s)
    deadline = start + MAX_STRETCH * window_s
    while time.perf_counter() < deadline and any(
        len(s.owner.marks(start, time.perf_counter())) < MIN_MARKS for s in sessions
    ):
        time.sleep(0.1)
    end = time.perf_counter()
    cpu = [cpu_seconds([pid]) - before for pid, before in zip(workers, cpu, strict=True)]
    web_cpu = cpu_seconds(web) - web_cpu
    rates = [window_rate(s.owner, start, end) for s in sessions]
    return Window(rates, end - start, cpu, web_cpu)


def window_rate(client: Client, start: float, end: float) -> float:
    """A session's characters/s over [start, end] from the progress its client received.

    With enough marks, their least-squares slope; a session starved of steps has at most one
    mark in the window, and its rate is then its progress over the window (often zero).
    """
    inside = client.marks(start, end)
    if len(inside) >= 3:
        return slope(inside)
    before, by_end = client.marks(0.0, start), client.marks(0.0, end)
    if not before or not by_end:
        return float("nan")
    return (by_end[-1][1] - before[-1][1]) / (end - start)


def warm_up(sessions: list[TrainingSession], seconds: float) -> None:
    """Train fresh sessions briefly and pause them, so that timed rounds start warm."""
    start_all(sessions)
    time.sleep(seconds)
    pause_all(sessions)
