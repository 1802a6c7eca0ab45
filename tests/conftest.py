"""Shared fixtures: a real server (gunicorn, threading mode) on 127.0.0.1 and Socket.IO clients."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent

# Small enough to train fast on one core, big enough to learn something in seconds.
TINY = {"hidden_size": 32, "num_layers": 1, "seq_len": 16, "batch_size": 8}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def create(self, corpus: str = "english", config: dict | None = None) -> dict:
        """A new session through the real HTTP API."""
        body = {"corpus": corpus, "config": {**TINY, **(config or {})}}
        response = requests.post(f"{self.url}/api/sessions", json=body, timeout=10)
        response.raise_for_status()
        return response.json()


def start_server(data_dir: Path, **env: str) -> Server:
    """gunicorn serving wsgi:app exactly as scripts/serve.sh does, on a free port."""
    port = free_port()
    log = data_dir / f"server-{port}.log"
    environ = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_WORKERS": "2",
        "PLAYGROUND_RATE_LIMITS": "false",  # one address runs every test; test_guards turns it on
        **{f"PLAYGROUND_{k}": v for k, v in env.items()},
    }
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--threads",
        "50",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "3",
        "--no-control-socket",
        "wsgi:app",
    ]
    with log.open("w") as out:
        # Its own process group, so a test can kill -9 the server with all its workers.
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/api/health", timeout=2).json()["ok"]:
                return Server(url, proc, log)
        except (requests.ConnectionError, requests.Timeout, ValueError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


def kill_server(server: Server) -> None:
    """`kill -9` the server and its training workers, as a crash or a pulled plug would."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=15)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    stop_server(srv)


class Client:
    """A real Socket.IO client over websocket that records every event it receives."""

    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.sio.on("*", lambda event, data=None: self.inbox.put((event, data)))
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def emit(self, event: str, data: Any = None) -> None:
        self.sio.emit(event, data)

    def wait(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 20.0
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
            self.seen.append((name, data))
        raise AssertionError(f"no {event} within {timeout}s; got {[n for n, _ in self.seen]}")

    def drain(self) -> list[tuple[str, Any]]:
        """Everything received so far and not yet consumed."""
        out, self.seen = self.seen, []
        while not self.inbox.empty():
            out.append(self.inbox.get_nowait())
        return out

    def join(self, session: str, token: str) -> dict:
        self.emit("session:join", {"session": session, "token": token})
        return self.wait("session:state")

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for every browser test."""
    from tests.browser import ARGS, CHROMIUM, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def close_browser_pages() -> Iterator[None]:
    """After each test, close the pages it opened (only where the browser tests are loaded)."""
    yield
    module = sys.modules.get("tests.browser")
    if module is not None:
        module.close_pages()


@pytest.fixture
def connect(server: Server) -> Iterator[Callable[[], Client]]:
    """Open clients on the session server; all are closed after the test."""
    clients: list[Client] = []

    def open_client() -> Client:
        client = Client(server.url)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
