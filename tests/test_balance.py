"""Running sessions stay spread over the workers: a crowded worker hands one over."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import Client, start_server, stop_server


def running_per_worker(url: str) -> list[int]:
    return requests.get(f"{url}/api/health", timeout=10).json()["running_per_worker"]


def wait_for_load(url: str, want: list[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (load := running_per_worker(url)) != want:
        assert time.monotonic() < deadline, f"running per worker stayed {load}, not {want}"
        time.sleep(0.1)


def test_a_session_started_on_a_busy_worker_moves_and_carries_on(tmp_path: Path) -> None:
    srv = start_server(tmp_path, WORKERS="2")
    try:
        # Placed in turn: a and c on worker 0, b on worker 1; b never trains.
        a, _, c = (srv.create(corpus="grammar", config={"learning_rate": 0.01}) for _ in range(3))
        owners = {}
        for s in (a, c):
            owners[s["id"]] = Client(srv.url)
            owners[s["id"]].join(s["id"], s["owner_token"])
        first, moved = owners[a["id"]], owners[c["id"]]
        first.emit("train:start")
        first.wait("train:progress", lambda d: d["step"] > 0)
        moved.emit("train:step")  # trains a little on worker 0 before the move
        before = moved.wait("train:progress", lambda d: d["step"] == 1)
        moved.emit("train:start")
        wait_for_load(srv.url, [1, 1])  # c went to the idle worker instead of sharing a core

        # It resumed from its checkpoint: the step count goes on and the history is whole.
        later = moved.wait("train:progress", lambda d: d["step"] > before["step"] + 10, timeout=60)
        assert later["train"][0][0] > before["step"]
        viewer = Client(srv.url)
        state = viewer.join(c["id"], c["view_token"])
        assert state["history"]["step"][0] == 1, "the history before the move is kept"
        # Its new worker answers for it.
        viewer.emit("predict:query", {"seq": 1, "text": "the ", "k": 3, "length": 0})
        assert len(viewer.wait("predict:result", lambda d: d["seq"] == 1)["top"]) == 3
        # Pausing and starting again moves nothing: one each is already even.
        moved.emit("train:pause")
        wait_for_load(srv.url, [1, 0])
        moved.emit("train:start")
        wait_for_load(srv.url, [1, 1])
        for client in (*owners.values(), viewer):
            client.close()
        assert "Traceback" not in srv.log.read_text()
    finally:
        stop_server(srv)


def test_a_running_session_moves_when_another_worker_falls_idle(tmp_path: Path) -> None:
    srv = start_server(tmp_path, WORKERS="2")
    try:
        # Placed in turn on workers 0, 1, 0.
        made = [srv.create(corpus="grammar", config={"learning_rate": 0.01}) for _ in range(3)]
        owners = []
        for s in made:
            owner = Client(srv.url)
            owner.join(s["id"], s["owner_token"])
            owner.emit("train:start")
            owners.append(owner)
        wait_for_load(srv.url, [2, 1])  # one apart: nothing to gain by moving
        mover = owners[2]  # the last started on the busy worker
        mover.wait("train:progress", lambda d: d["step"] > 5, timeout=60)
        owners[1].emit("train:pause")
        wait_for_load(srv.url, [1, 1])
        mover.drain()
        before = mover.wait("train:progress", lambda d: d["train"], timeout=60)
        after = mover.wait("train:progress", lambda d: d["step"] > before["step"] + 10, timeout=60)
        steps = [step for step, _ in before["train"] + after["train"]]
        assert steps == sorted(steps), "the step count never went back"
        assert owners[0].wait("train:progress", lambda d: d["train"], timeout=60)
        for owner in owners:
            owner.close()
        assert "Traceback" not in srv.log.read_text()
    finally:
        stop_server(srv)
