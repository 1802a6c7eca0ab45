"""Real services for the cluster tests, started by the test suite itself on free ports.

Redis (Debian's `redis-server`), a PostgreSQL cluster made with `initdb` in a temporary
directory, and a local Ray cluster of two nodes (`ray start --head` and a second `ray start
--address`), each in a process group of its own so a test can kill one like a pulled plug.
Locally a missing binary skips the tests that need it; with PLAYGROUND_REQUIRE_SERVICES set
(CI) it fails them instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port


def postgres_bin() -> Path:
    """Debian keeps PostgreSQL's server binaries off PATH, in a folder per major version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/local/bin")


RAY = Path(sys.executable).parent / "ray"


def require(binary: str | Path) -> str:
    """The binary's path; skip (or fail where services are required) when it is missing."""
    found = shutil.which(str(binary))
    if found:
        return found
    message = f"{binary} is not installed (scripts/test.sh installs it)"
    if os.environ.get("PLAYGROUND_REQUIRE_SERVICES"):
        raise RuntimeError(message)
    pytest.skip(message)
    raise AssertionError  # unreachable: skip raises


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll `ready` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a service and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@dataclass
class Redis:
    url: str
    proc: subprocess.Popen
    args: list[str]
    log: Path

    def stop(self) -> None:
        kill_group(self.proc)

    def resume(self) -> None:
        """Start it again on its port and append-only file; return once it answers."""
        self.proc = spawn(self.args, self.log)
        wait_until(lambda: redis_answers(self.url), "redis-server")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False


def start_redis(folder: Path) -> Redis:
    binary = require("redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]  # as docs/deploy.md
    log = folder / "redis.log"
    proc = spawn(args, log)
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis_answers(url), "redis-server")
    return Redis(url, proc, args, log)


@dataclass
class Postgres:
    url: str  # SQLAlchemy URL
    proc: subprocess.Popen
    folder: Path
    args: list[str]
    log: Path

    def pause(self) -> None:
        """Shut the server down (fast shutdown), keeping its data, as an outage would."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)

    def resume(self) -> None:
        """Start it again on the same data and port; return once it answers."""
        self.proc = spawn(self.args, self.log)
        wait_until(lambda: answers(self.url), "postgres")

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.folder, ignore_errors=True)


def answers(url: str) -> bool:
    """Whether PostgreSQL at the SQLAlchemy `url` accepts a connection."""
    import psycopg

    try:
        psycopg.connect(url.replace("postgresql+psycopg", "postgresql")).close()
        return True
    except psycopg.OperationalError:
        return False


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` system user."""
    if os.getuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]


def start_postgres(log: Path) -> Postgres:
    """A new PostgreSQL cluster (`initdb`) in a temporary directory; its output goes to `log`."""
    initdb = require(postgres_bin() / "initdb")
    postgres = str(Path(initdb).parent / "postgres")
    folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))  # pytest's are root's alone
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.getuid() == 0:
        for path in (folder, sockets):
            shutil.chown(path, "postgres", "postgres")
    user = as_postgres_user()
    made = subprocess.run(
        [*user, initdb, "-D", str(data), "-U", "playground", "--auth=trust", "-E", "UTF8"],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed: {made.stderr or made.stdout}")
    port = free_port()
    args = [*user, postgres, "-D", str(data), "-p", str(port), "-k", str(sockets)]
    args += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
    proc = spawn(args, log)
    url = f"postgresql+psycopg://playground@127.0.0.1:{port}/postgres"
    wait_until(lambda: answers(url), "postgres")
    return Postgres(url, proc, folder, args, log)


@dataclass
class RayCluster:
    """A head node and worker nodes, each `ray start --block` in its own process group."""

    address: str
    folder: Path
    temp: Path  # Ray's session files and sockets
    nodes: list[subprocess.Popen] = field(default_factory=list)

    def add_node(self, name: str) -> subprocess.Popen:
        """Another node, with one CPU, named `name`."""
        args = [str(RAY), "start", f"--address={self.address}", *node_args(name), "--block"]
        proc = spawn(args, self.folder / f"ray-{name}.log")
        self.nodes.append(proc)
        return proc

    def stop(self) -> None:
        """Kill every node's process group (never `ray stop`: it would stop any Ray here)."""
        for proc in reversed(self.nodes):
            kill_group(proc)
        shutil.rmtree(self.temp, ignore_errors=True)


def node_args(name: str) -> list[str]:
    """One CPU, a small object store, and a name that trainer actors carry (`trainer-<name>-…`)."""
    return [
        "--num-cpus=1",
        f"--node-name={name}",
        "--object-store-memory=80000000",
        "--disable-usage-stats",
    ]


# The head declares a node dead after about a second of missed health checks (default: 15 s).
FAST_FAILURE = {
    "RAY_health_check_period_ms": "300",
    "RAY_health_check_timeout_ms": "300",
    "RAY_health_check_failure_threshold": "3",
}


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    """Start a service in a process group of its own, its output in `log`."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **FAST_FAILURE}
    with log.open("w") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def start_ray(folder: Path, nodes: int = 2) -> RayCluster:
    """A local Ray cluster: the head node (named `head`) and `nodes - 1` more (`n1`, ...)."""
    require(RAY)
    port = free_port()
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short
    cluster = RayCluster(f"127.0.0.1:{port}", folder, temp)
    head = [str(RAY), "start", "--head", f"--port={port}", f"--temp-dir={temp}"]
    head += ["--include-dashboard=false", "--node-ip-address=127.0.0.1", *node_args("head")]
    cluster.nodes.append(spawn([*head, "--block"], folder / "ray-head.log"))
    wait_until(lambda: alive_nodes(cluster.address) >= 1, "ray head", timeout=120)
    for index in range(1, nodes):
        cluster.add_node(f"n{index}")
    wait_until(lambda: alive_nodes(cluster.address) >= nodes, "ray nodes", timeout=120)
    return cluster


def alive_nodes(address: str) -> int:
    """How many nodes the cluster counts alive, asked through `ray status`."""
    done = subprocess.run(
        [str(RAY), "status", f"--address={address}"], capture_output=True, text=True, timeout=60
    )
    return done.stdout.count("node_") if done.returncode == 0 else 0
