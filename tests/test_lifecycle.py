"""Sessions end (deleted, abandoned, never half-made at the cap) and what watchers see of them."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.config import TrainConfig
from backend.engine.messages import Command, Opened, Progress
from backend.errors import Full
from backend.lessons.experiments import Experiments
from backend.sessions.registry import Sessions
from backend.store.storage import Storage
from backend.web.publisher import SocketPublisher
from tests.conftest import Server


class Engine:
    """Records commands; answers nothing (the session layer alone is under test)."""

    device = "cpu"

    def __init__(self) -> None:
        self.sent: list[Command] = []

    def send(self, message: Command) -> None:
        self.sent.append(message)


class Publisher:
    def __init__(self) -> None:
        self.states: list[tuple[str, int]] = []
        self.messages: list[tuple[str, str, dict]] = []

    def state(self, session: Any) -> None:
        self.states.append((session.id, session.step))

    def viewers(self, session: Any) -> None: ...

    def progress(self, session_id: str, update: dict) -> None: ...

    def to_room(self, session_id: str, event: str, data: dict) -> None:
        self.messages.append((session_id, event, data))

    def to_client(self, client: str, event: str, data: dict) -> None:
        self.messages.append((client, event, data))

    def remove(self, client: str, session_id: str) -> None: ...


def registry(tmp_path: Path, **kw: Any) -> Sessions:
    reg = Sessions(Storage.in_directory(tmp_path), Publisher(), **kw)
    reg.attach(Engine())
    return reg


def test_abandoned_sessions_are_removed_with_their_files(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    old = reg.create(config={"hidden_size": 8})["id"]
    kept = reg.create(config={"hidden_size": 8})["id"]
    checkpoint = reg.storage.checkpoint_path(old)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"weights")
    reg.evict_unwatched(-1.0)  # both leave memory, as after 15 unwatched minutes
    reg.get(kept)  # someone opens this one again
    assert reg.remove_abandoned(-1.0) == [old]
    assert reg.storage.ids() == {kept} and not checkpoint.exists()


def test_a_lesson_refused_at_the_cap_leaves_no_session_behind(tmp_path: Path) -> None:
    reg = registry(tmp_path, max_sessions=3)
    reg.create(config={"hidden_size": 8})
    with pytest.raises(Full):
        Experiments(reg).start("long-range")  # four runs, two places left
    assert reg.storage.count() == 1 and len(reg.sessions) == 1


def test_deleting_any_run_of_a_lesson_deletes_the_whole_lesson(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    mine = reg.create(config={"hidden_size": 8})
    started = Experiments(reg).start("long-range")  # the owner's page holds the opening run
    assert started["id"] != started["main"]
    main = started["main"]
    source = {"corpus": "english", "text": "x" * 300}
    fork = reg.new_record(TrainConfig(hidden_size=8), "text", source, parent_id=main)
    reg.delete(reg.owned(started["id"], started["owner_token"]))
    assert reg.storage.ids() == {mine["id"], fork[0].id}, "someone else's fork stays theirs"


def test_files_of_deleted_sessions_and_used_imports_are_swept(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    live = reg.create(config={"hidden_size": 8})["id"]
    folders = {"checkpoints": tmp_path / "checkpoints", "imports": tmp_path / "imports"}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    stray = [
        folders["checkpoints"] / "gone0000000000000000000.safetensors",  # deleted session
        folders["imports"] / f"{live}.safetensors",  # its checkpoint holds these weights now
        folders["imports"] / "upload-1234.part",  # an upload a crash left
    ]
    kept = folders["checkpoints"] / f"{live}.safetensors"
    for path in [*stray, kept]:
        path.write_bytes(b"x")
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    reg.sweep_files()
    assert not any(p.exists() for p in stray) and kept.exists()


def test_the_owner_deletes_a_session_and_its_watchers_are_told(server: Server, connect) -> None:
    s = server.create()
    owner, viewer = connect(), connect()
    owner.join(s["id"], s["owner_token"])
    viewer.join(s["id"], s["view_token"])
    owner.emit("train:start")
    owner.wait("train:progress", lambda d: d["step"] >= 2)
    url = f"{server.url}/api/sessions/{s['id']}"
    as_viewer = requests.delete(url, headers={"X-Session-Token": s["view_token"]}, timeout=10)
    assert as_viewer.status_code == 403
    response = requests.delete(url, headers={"X-Session-Token": s["owner_token"]}, timeout=30)
    assert response.status_code == 204
    assert viewer.wait("session:deleted")["id"] == s["id"]
    again = connect()
    again.emit("session:join", {"session": s["id"], "token": s["owner_token"]})
    assert again.wait("error")["code"] == "not_found"
    health = requests.get(f"{server.url}/api/health", timeout=10).json()
    assert health["ok"]


def test_imported_weights_are_removed_once_checkpointed(server: Server, connect) -> None:
    s = server.create()
    blob = requests.get(
        f"{server.url}/api/sessions/{s['id']}/export?t={s['owner_token']}", timeout=60
    ).content
    created = requests.post(f"{server.url}/api/sessions/import", data=blob, timeout=60).json()
    data_dir = Path(server.log).parent
    assert not list((data_dir / "imports").glob(f"{created['id']}.*"))
    assert (data_dir / "checkpoints" / f"{created['id']}.safetensors").exists()
    state = connect().join(created["id"], created["owner_token"])
    assert state["status"] == "paused"


def test_gaps_are_measured_once_per_period_however_many_poll(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    experiments = Experiments(reg, gaps_every_s=60.0)
    main = reg.get(experiments.start("long-range")["id"])
    asked: list[str] = []

    def ask(session: Any, op: str, **payload: Any) -> dict:
        asked.append(session.id)
        return {"accuracy": [0.5] * len(payload["gaps"]), "chance": 0.25}

    reg.ask = ask  # type: ignore[method-assign]
    pollers = [threading.Thread(target=experiments.gaps, args=(main,)) for _ in range(8)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join(timeout=30)
    assert len(asked) == len(reg.sessions), "one measurement of each run, not eight"


def test_a_non_live_change_sends_one_state(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    session = reg.get(reg.create(config={"hidden_size": 8})["id"])
    reg.configure(session, {"hidden_size": 16})
    assert reg.publisher.states == []  # type: ignore[attr-defined]
    inputs, outputs = session.sizes
    sizes = {"params": session.params, "input_size": inputs, "output_size": outputs}
    reg.on_event(
        Opened(session.id, session.gen, **sizes, describe={}, step=0, items_seen=0, resumed=False)
    )
    assert reg.publisher.states == [(session.id, 0)]  # type: ignore[attr-defined]


def test_steps_trained_after_a_pause_are_followed_by_a_state(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    session = reg.get(reg.create(config={"hidden_size": 8})["id"])
    reg.start(session)
    reg.pause(session)
    reg.on_event(
        Progress(
            session.id,
            session.gen,
            step=7,
            items_seen=100,
            items_per_sec=0.0,
            batched=1,
            train=[[6, 2.0], [7, 2.0]],
            grad=[[6, 1.0, 0], [7, 1.0, 0]],
            val=[],
        )
    )
    assert reg.publisher.states[-1] == (session.id, 7)  # type: ignore[attr-defined]


def test_coalesced_progress_keeps_every_gradient_point() -> None:
    class SocketIO:
        def __init__(self) -> None:
            self.sent: list[dict] = []

        def emit(self, event: str, data: dict, to: str) -> None:
            self.sent.append(data)

    socketio = SocketIO()
    publisher = SocketPublisher(socketio, hz=0.001)  # flushed by hand below
    for step in (1, 2):
        update = {"step": step, "train": [[step, 2.0]], "grad": [[step, 1.0, 0]], "val": []}
        publisher.progress("s", update)
    publisher.flush()
    publisher.stop()
    assert socketio.sent[0]["grad"] == [[1, 1.0, 0], [2, 1.0, 0]]
