"""Faults are seen and survived: a killed worker, damaged checkpoints, a full disk, a read-only
database and a second server on the same data directory (see docs/reliability.md).

Faults are injected deterministically: `kill -9` of a real worker process, files damaged by
hand, `os.write` failing with ENOSPC, SQLite's own page cap and read-only mode.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import queue
import signal
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import torch

from backend.config import TrainConfig
from backend.core.training import Trainer
from backend.engine import worker
from backend.engine.messages import (
    Answered,
    Checkpointed,
    Notice,
    Open,
    Opened,
    Progress,
    Query,
    Rejected,
    Sample,
    Start,
    WorkerLost,
    kind,
)
from backend.engine.pool import Engine
from backend.errors import StorageFailed, WorkerRestarted
from backend.sessions import classroom
from backend.sessions.classroom import Classroom
from backend.sessions.registry import Sessions
from backend.store import checkpoints
from backend.store.storage import DirectoryInUse, Storage, lock_directory
from backend.tasks.text.task import TextTask
from benchmarks.procs import training_workers
from tests.conftest import Client, start_server, stop_server
from tests.test_engine import TEXT, TINY, Events, Outbox
from tests.test_exchange import small_export

TINY_SETTINGS = {"hidden_size": 8, "num_layers": 1, "seq_len": 8, "batch_size": 4}


def trained(steps: int, cfg: TrainConfig = TINY, text: str = TEXT) -> Trainer:
    trainer = Trainer(TextTask.from_text(text), cfg)
    for _ in range(steps):
        trainer.step()
    return trainer


# -- a training worker dies -------------------------------------------------------------------


def test_a_killed_worker_is_replaced_its_sessions_reopened_and_waiting_queries_refused(
    tmp_path: Path,
) -> None:
    events = Events()
    eng = Engine(events, workers=1, device="cpu", checkpoint_s=0.2)
    eng.start()
    try:
        source = {"corpus": "upload", "text": TEXT}
        opened = dict(task="text", source=source, config=TINY.to_dict())
        eng.send(Open("s", 1, checkpoint=str(tmp_path / "s.safetensors"), **opened))
        eng.send(Start("s"))
        saved = events.wait(lambda e: isinstance(e, Checkpointed) and e.step > 0)
        # A query for a session the worker has not opened waits there, set aside.
        ask = {"text": "the", "k": 2, "temperature": 1.0, "length": 0}
        eng.send(Query("x", "predict", "q", 4, fields={**ask, "seq": 4}))
        dead = eng.procs[0]
        dead.kill()

        refused = events.wait(lambda e: getattr(e, "client", None) == "q")
        assert isinstance(refused, Rejected) and refused.seq == 4
        assert refused.error["code"] == "worker_restarted"
        lost = events.wait(lambda e: isinstance(e, WorkerLost))
        assert lost.session == "s" and lost.gen == 1 and lost.code == "worker_restarted"
        reopened = events.wait(lambda e: isinstance(e, Opened) and e.session == "s")
        assert reopened.resumed and reopened.step >= saved.step
        events.wait(lambda e: isinstance(e, Progress) and e.step > reopened.step)
        assert eng.procs[0] is not dead and eng.alive() and eng.restarts == 1

        eng.send(Query("s", "predict", "r", 1, fields={**ask, "seq": 1}))
        assert isinstance(events.wait(lambda e: getattr(e, "client", None) == "r"), Answered)
        eng.send(Open("t", 1, checkpoint=str(tmp_path / "t.safetensors"), **opened))
        assert events.wait(lambda e: isinstance(e, Opened) and e.session == "t")
        assert not lost.paused

        eng.procs[0].kill()  # again, soon after: a session that keeps killing it stays paused
        again = events.wait(lambda e: isinstance(e, WorkerLost) and e.session == "s")
        assert again.paused and "paused" in again.message
        assert "s" not in eng.running and eng.restarts == 2
    finally:
        eng.stop()


class Recorder:
    """Stands in for the publisher and the engine: keeps every call the session layer makes."""

    device = "cpu"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def notices(self) -> list[dict]:
        return [a[2] for n, a, _ in self.calls if n == "to_client" and a[1] == "session:notice"]


@pytest.fixture
def layer(tmp_path: Path) -> Iterator[tuple[Sessions, Recorder, Recorder, Any]]:
    """A session layer on real storage, with a recording engine and publisher, and a session
    whose owner is joined as client "owner"."""
    engine, publisher = Recorder(), Recorder()
    sessions = Sessions(Storage.in_directory(tmp_path), publisher)
    sessions.attach(engine)
    links = sessions.create("english", TINY_SETTINGS)
    session, _ = sessions.join("owner", links["id"], links["owner_token"])
    engine.calls.clear()
    publisher.calls.clear()
    yield sessions, engine, publisher, session


def in_thread(fn: Any) -> tuple[threading.Thread, queue.Queue]:
    """Run `fn` in a thread; its result or exception lands in the returned queue."""
    out: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            out.put(fn())
        except Exception as exc:  # noqa: BLE001 - handed to the test
            out.put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_for_send(engine: Recorder, op: str) -> None:
    """Until the session layer has sent `op` to the engine (bounded)."""
    for _ in range(200):
        if op in [kind(a[0]) for n, a, _ in engine.calls if n == "send"]:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{op} was never sent")


def test_a_real_server_survives_a_killed_worker_and_its_owner_is_told(tmp_path: Path) -> None:
    srv = start_server(tmp_path, WORKERS="1", CHECKPOINT_S="0.3")
    try:
        s = srv.create(config={"learning_rate": 0.01})
        owner = Client(srv.url)
        owner.join(s["id"], s["owner_token"])
        owner.emit("train:start")
        checkpoint = tmp_path / "checkpoints" / f"{s['id']}.safetensors"
        while not checkpoint.exists():
            owner.wait("train:progress")
        (dead,) = training_workers(srv.proc.pid)
        os.kill(dead, signal.SIGKILL)
        notice = owner.wait("session:notice")
        assert notice["code"] == "worker_restarted" and "checkpoint" in notice["message"]
        # A new worker imports torch before it reopens the session: seconds on a busy machine.
        state = owner.wait("session:state", lambda d: d["status"] == "running", timeout=120)
        owner.wait("train:progress", lambda d: d["step"] > state["step"])
        assert training_workers(srv.proc.pid) not in ([], [dead])
        health = requests.get(f"{srv.url}/api/health", timeout=5).json()
        assert health["restarts"] == 1 and health["status"] == "ok"
        export = f"{srv.url}/api/sessions/{s['id']}/export?t={s['owner_token']}"
        assert requests.get(export, timeout=30).status_code == 200
        assert "training worker 0" in srv.log.read_text(), "and the log says what happened"
        owner.close()
        with pytest.raises(RuntimeError, match="in use by another server"):
            start_server(tmp_path)
    finally:
        stop_server(srv)


def test_an_export_waiting_on_a_worker_that_dies_gets_a_clear_error_at_once(layer) -> None:
    sessions, engine, publisher, session = layer
    thread, out = in_thread(lambda: sessions.checkpoint_now(session, timeout=60.0))
    wait_for_send(engine, "save")
    message = "the training process stopped unexpectedly"
    sessions.on_event(WorkerLost(session.id, session.gen, "worker_restarted", message))
    error = out.get(timeout=10)
    assert isinstance(error, WorkerRestarted) and error.code == "worker_restarted"
    assert [n["code"] for n in publisher.notices()] == ["worker_restarted"]


def test_a_session_that_keeps_losing_its_worker_is_shown_paused(layer) -> None:
    sessions, engine, publisher, session = layer
    sessions.start(session)
    lost = WorkerLost(session.id, session.gen, "worker_restarted", "… and paused", paused=True)
    sessions.on_event(lost)
    assert (session.status, session.pause_reason) == ("paused", "error")
    assert publisher.names()[-1] == "state"


# -- a checkpoint is damaged ------------------------------------------------------------------


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def put_over(path: Path, trainer: Trainer) -> None:
    """Another trainer's checkpoint copied over `path`, as a mistaken copy would."""
    other = path.with_name("other.safetensors")
    checkpoints.save(trainer, other)
    other.replace(path)


def another_models(path: Path) -> None:
    put_over(path, trained(1, TINY.replace(hidden_size=16)))


def another_texts(path: Path) -> None:  # same shapes, other characters
    put_over(path, trained(1, text=TEXT.upper()))


def nan_weights(path: Path) -> None:
    """A well-formed file, checksum and all, whose weights are NaN (caught by the finite check)."""
    trainer = trained(1)
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(math.nan)
    put_over(path, trainer)


def nan_in_place(path: Path) -> None:
    """NaN over a weight's bytes, the header left intact (caught by the checksum)."""
    blob = bytearray(path.read_bytes())
    size = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + size])
    start, end = header["model.head.weight"]["data_offsets"]
    blob[8 + size + start : 8 + size + end] = (
        torch.full(((end - start) // 4,), math.nan).numpy().tobytes()
    )
    path.write_bytes(bytes(blob))


DAMAGE = [truncate, random_bytes, empty, another_models, another_texts, nan_in_place, nan_weights]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_a_damaged_checkpoint_falls_back_to_the_previous_good_one(tmp_path: Path, damage) -> None:
    path = tmp_path / "s.safetensors"
    checkpoints.save(trained(3), path)
    checkpoints.save(trained(5), path)
    damage(path)
    resumed = Trainer(TextTask.from_text(TEXT), TINY)
    used, problems = checkpoints.restore_latest(resumed, path)
    assert used == checkpoints.previous_path(path) and len(problems) == 1
    assert resumed.step_count == 3
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())
    assert [trained(3).step().loss] == [resumed.step().loss], "exactly the old run"


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_a_worker_reopening_a_damaged_checkpoint_keeps_the_history_and_tells_the_owner(
    tmp_path: Path, damage
) -> None:
    path = tmp_path / "s.safetensors"
    checkpoints.save(trained(3), path)
    damage(path)  # the only checkpoint: the previous one is gone too
    events = Outbox()
    w = worker.Worker(
        commands=None, queries=queue.Queue(), events=events, device="cpu", checkpoint_s=15
    )
    cmd = dict(
        session="s",
        gen=2,
        task="text",
        source={"corpus": "upload", "text": TEXT},
        config=TINY.to_dict(),
        checkpoint=str(path),
    )
    w.op_open(Open(**cmd, resume=True, step=3, items_seen=96))
    notice, opened = events.sent
    assert isinstance(notice, Notice) and notice.code == "checkpoint_damaged"
    assert notice.gen == 2 and "fresh weights" in notice.message
    assert isinstance(opened, Opened) and not opened.resumed
    assert (opened.step, opened.items_seen) == (3, 96), "the step count goes on"


def test_the_owner_is_told_and_the_history_stays_when_a_checkpoint_was_damaged(layer) -> None:
    sessions, _, publisher, session = layer
    build = {"session": session.id, "gen": session.gen}
    points = {"train": [[1, 4.0], [2, 3.5]], "grad": [[1, 1.0, 0], [2, 1.0, 0]], "val": []}
    sessions.on_event(
        Progress(**build, step=2, items_seen=64, items_per_sec=1.0, batched=1, **points)
    )
    sessions.on_event(Sample(**build, step=2, temperature=1, payload={"text": "abc"}))
    message = "a damaged checkpoint was set aside; training goes on from fresh weights"
    detail = "s.safetensors: truncated"
    sessions.on_event(Notice(**build, code="checkpoint_damaged", message=message, detail=detail))
    sizes = {"params": 1, "input_size": 30, "output_size": 30, "describe": {}}
    sessions.on_event(Opened(**build, **sizes, step=2, items_seen=64, resumed=False))
    assert session.history.step == [1, 2] and len(session.samples) == 1
    assert publisher.notices() == [{"code": "checkpoint_damaged", "message": message}]


def test_a_checkpoint_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.safetensors"
    checkpoints.save(trained(3), path)
    newer, real_write, calls = trained(5), os.write, []

    def full_disk(fd: int, data: Any) -> int:
        """The first write goes part way; the next finds the disk full."""
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[:100]))

    monkeypatch.setattr(checkpoints.os, "write", full_disk)
    with pytest.raises(OSError):
        checkpoints.save(newer, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no temporary file is left"
    resumed = Trainer(TextTask.from_text(TEXT), TINY)
    assert checkpoints.restore_latest(resumed, path) == (path, [])
    assert resumed.step_count == 3


def test_a_full_disk_keeps_training_and_the_last_checkpoint_and_tells_the_owner(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "s.safetensors"
    events = Outbox()
    w = worker.Worker(commands=None, queries=None, events=events, device="cpu", checkpoint_s=15)
    w.slots["s"] = slot = worker.Slot(trained(3), gen=1, running=True, checkpoint=path)
    w.save("s", slot)
    slot.trainer.step()

    def full_disk(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "write", full_disk)
    w.save("s", slot)  # neither raises nor stops the session
    assert slot.running
    notice = [e for e in events.sent if isinstance(e, Notice)]
    assert [n.code for n in notice] == ["storage_failed"]
    assert "No space left" in notice[0].message
    assert [e.step for e in events.sent if isinstance(e, Checkpointed)] == [3]
    monkeypatch.undo()
    resumed = Trainer(TextTask.from_text(TEXT), TINY)
    assert checkpoints.restore_latest(resumed, path) == (path, []) and resumed.step_count == 3


def test_a_save_that_fails_answers_the_export_at_once_and_health_degrades(layer) -> None:
    sessions, engine, publisher, session = layer
    thread, out = in_thread(lambda: sessions.checkpoint_now(session, timeout=60.0))
    wait_for_send(engine, "save")
    message = "the model could not be saved (No space left on device)"
    sessions.on_event(Notice(session.id, session.gen, code="storage_failed", message=message))
    error = out.get(timeout=10)
    assert isinstance(error, StorageFailed) and error.code == "storage_failed"
    assert "checkpoints" in sessions.storage.problems
    assert publisher.notices() == [{"code": "storage_failed", "message": message}]
    sessions.on_event(Checkpointed(session.id, session.gen, step=4))
    assert not sessions.storage.problems, "a checkpoint that lands again clears it"


# -- the disk fills, or the database is read-only ---------------------------------------------


def read_only(storage: Storage) -> None:
    """Reopen the database in SQLite's read-only mode."""
    database = storage.engine.url.database
    storage.engine.dispose()
    storage.engine = sa.create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")


def full(storage: Storage) -> None:
    """Cap the database at the pages it has: the next growth fails with SQLITE_FULL."""
    with storage.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    storage.engine.dispose()
    sa.event.listen(storage.engine, "connect", cap)


@pytest.mark.parametrize("fault", [read_only, full], ids=["read_only", "full"])
def test_a_refused_write_changes_nothing_and_says_why(layer, fault) -> None:
    sessions, engine, publisher, session = layer
    fault(sessions.storage)
    text = "a new text that the database will not take. " * 2000
    before = (session.record, session.config, session.sizes)
    with pytest.raises(StorageFailed) as refused:
        sessions.set_source(session, {"corpus": "upload", "text": text})
    assert refused.value.code == "storage_failed" and refused.value.http_status == 503
    if fault is read_only:  # a full database still takes an update that needs no new page
        with pytest.raises(StorageFailed):
            sessions.configure(session, {"hidden_size": 16, "num_layers": 2})
    assert (session.record, session.config, session.sizes) == before
    assert session.record.source["text"] != text and engine.calls == [] and publisher.calls == []
    with pytest.raises(StorageFailed):
        sessions.create("english", TINY_SETTINGS)
    assert len(sessions.sessions) == 1
    assert "database" in sessions.storage.problems


def test_class_settings_and_a_new_view_link_change_nothing_when_refused(layer) -> None:
    sessions, engine, publisher, session = layer
    room = Classroom(sessions)
    read_only(sessions.storage)
    before = (session.record, session.view_version, session.view_token)
    with pytest.raises(StorageFailed):
        room.configure(session, {"follow": True, "locks": ["fork"]})
    with pytest.raises(StorageFailed):
        room.renew_view_link(session)
    assert (session.record, session.view_version, session.view_token) == before
    assert publisher.calls == []


def test_a_fork_or_import_refused_by_a_full_disk_leaves_no_session_behind(
    layer, tmp_path: Path, monkeypatch
) -> None:
    sessions, engine, publisher, session = layer
    room = Classroom(sessions)
    saved = tmp_path / "saved.safetensors"
    checkpoints.save(trained(2, TINY), saved)
    monkeypatch.setattr(sessions, "checkpoint_now", lambda *_a, **_k: saved)

    def full_disk(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(classroom.shutil, "copyfile", full_disk)
    with pytest.raises(StorageFailed, match="No space left"):
        room.fork(session, "owner", with_weights=True)
    assert sessions.storage.ids() == {session.id} and set(sessions.sessions) == {session.id}

    def cannot_save(*_a: Any, **_k: Any) -> None:
        raise StorageFailed("the model could not be saved (No space left on device)")

    monkeypatch.setattr(sessions, "checkpoint_now", cannot_save)
    with pytest.raises(StorageFailed):
        room.import_model(io.BytesIO(small_export({})))
    assert sessions.storage.ids() == {session.id} and set(sessions.sessions) == {session.id}
    assert list((sessions.storage.data_dir / "imports").iterdir()) == []


def test_training_goes_on_when_its_state_cannot_be_written_and_the_owner_is_told(layer) -> None:
    sessions, engine, publisher, session = layer
    read_only(sessions.storage)
    sessions.start(session)
    assert session.status == "running" and ("send", (Start(session.id),), {}) in engine.calls
    assert [n["code"] for n in publisher.notices()] == ["storage_failed"]
    sessions.on_event(Checkpointed(session.id, session.gen, step=9))  # the reader carries on
    assert session.saved_step == 9


# -- two servers on one data directory --------------------------------------------------------


def test_a_second_server_on_the_same_data_directory_refuses_to_start(tmp_path: Path) -> None:
    from backend import create_app

    held = lock_directory(tmp_path)
    with pytest.raises(DirectoryInUse, match="in use by another server") as refused:
        create_app({"DATA_DIR": str(tmp_path), "WORKERS": 1})
    assert str(os.getpid()) in str(refused.value) and str(tmp_path) in str(refused.value)
    held.close()  # the first one stops (the kernel also lets go when a process dies)
    lock_directory(tmp_path).close()
