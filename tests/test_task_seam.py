"""The task seam: the registry lists tasks without torch, and nothing else names a task."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.errors import InvalidInput
from backend.store.storage import Storage
from backend.tasks.registry import TASKS, describe, spec_for

ROOT = Path(__file__).resolve().parent.parent


def test_the_registry_lists_the_text_task_first_with_its_unit_and_views():
    listed = describe()
    assert listed[0]["name"] == "text"
    assert listed[0]["unit"] == "bits/char"
    assert {"predict", "inspect"} <= set(listed[0]["views"])
    fields = {"name", "title", "summary", "unit", "views", "default_source"}
    assert all(set(t) >= fields for t in listed)
    assert list(TASKS) == [t["name"] for t in listed]


def test_the_registry_and_every_spec_import_without_torch():
    code = (
        "import sys; import backend.tasks.registry as r; r.describe(); "
        "assert 'torch' not in sys.modules, 'a task spec imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_unknown_task_is_refused_by_name():
    with pytest.raises(InvalidInput, match="unknown task"):
        spec_for("tea leaves")


def test_the_text_spec_loads_a_corpus_and_refuses_a_short_upload():
    spec = spec_for("text")
    source = spec.parse_source({"corpus": "english"})
    assert source["corpus"] == "english" and len(source["text"]) > 1000
    with pytest.raises(InvalidInput):
        spec.parse_source({"corpus": "upload", "text": "ab"})
    with pytest.raises(InvalidInput, match="unknown source"):
        spec.parse_source({"corpus": "english", "gravity": 9.8})


# What naming a task looks like in code: comparing with a task's name, importing a task's
# package, or using its classes. Only backend/tasks/ may do it.
NAMES_A_TASK = re.compile(
    r"""(==|!=|\bin\b|\bis\b)\s*[(\[]?\s*["'](text|words|ball|prices)["']"""
    r"""|["'](text|words|ball|prices)["']\s*(==|!=)"""
    r"""|backend\.tasks\.(text|words|ball|prices)\b"""
    r"""|\b(Text|Words|Ball|Prices)(Task|Spec)\b"""
)


def test_nothing_outside_the_tasks_names_a_task():
    offenders = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        if (ROOT / "backend" / "tasks") in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if NAMES_A_TASK.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "task-specific code outside backend/tasks/:\n" + "\n".join(offenders)


def test_the_check_itself_catches_a_task_test():
    assert NAMES_A_TASK.search('if session.task == "ball":')
    assert NAMES_A_TASK.search("from backend.tasks.text.task import TextTask")
    assert not NAMES_A_TASK.search('if request.mimetype != "text/plain":')


def test_a_database_row_from_before_tasks_opens_as_a_text_session(tmp_path):
    old = sa.MetaData()
    sa.Table(
        "sessions",
        old,
        *[
            sa.Column(name, kind, primary_key=name == "id")
            for name, kind in [
                ("id", sa.String(32)),
                ("owner_digest", sa.String(64)),
                ("view_token", sa.String(64)),
                ("config", sa.Text),
                ("text_source", sa.String(64)),
                ("text", sa.Text),
                ("state", sa.Text),
                ("classroom", sa.Text),
                ("parent_id", sa.String(32)),
                ("created_at", sa.Float),
                ("updated_at", sa.Float),
            ]
        ],
    )
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    old.create_all(engine)
    text = "an old text from before tasks. " * 20
    row = dict(owner_digest="0" * 64, view_token="1" * 64, config="{}", state="{}")
    with engine.begin() as conn:
        conn.execute(
            old.tables["sessions"].insert(),
            [{**row, "id": "old", "text_source": "upload", "text": text, "classroom": "{}"}],
        )
    engine.dispose()
    storage = Storage(url, tmp_path)  # migrates: adds the task and source columns
    record = storage.load("old")
    assert record.task == "text" and record.source == {"corpus": "upload", "text": text}
    assert spec_for(record.task).parse_source(record.source) == record.source
    storage.save(record)  # a row saved again keeps its task and source
    again = storage.load("old")
    assert (again.task, again.source) == ("text", record.source)


class Outbox:
    """Stands in for a worker's events queue: keeps what is put on it."""

    def __init__(self) -> None:
        self.sent: list = []

    def put(self, message) -> None:
        self.sent.append(message)


# One session of every task, its source and a query it answers: export then import must give
# the same answers (the imported copy has the same weights, task state and source).
EXPORTS = {
    "text": (
        {"corpus": "upload", "text": "the cat sat on the mat. " * 20},
        "predict",
        {"text": "the ca", "seq": 1, "k": 5, "length": 30},
    ),
    "words": (
        {"corpus": "english", "max_vocab": 200},
        "predict",
        {"text": "this morning i took my cat for a", "seq": 1},
    ),
    "ball": (
        {"input": "image"},
        "rollout",
        {"positions": [[0.2, 0.8], [0.25, 0.78], [0.3, 0.75]], "steps": 10, "seq": 1},
    ),
    "prices": ({"series": "seasonal"}, "predict", {"seq": 1}),
}


def exported_and_imported(tmp_path, task, source, cfg, steps=20):
    """A worker holding session "s" of `task`, trained `steps` steps, exported, and session "t"
    imported from that export; returns the worker (for export tests of every task)."""
    import queue

    from backend.engine import worker
    from backend.engine.messages import Open, Save
    from backend.store import exchange

    w = worker.Worker(None, queue.Queue(), Outbox(), device="cpu", checkpoint_s=60)
    saved = tmp_path / "s.safetensors"
    w.op_open(Open("s", 1, task, source, cfg.to_dict(), checkpoint=str(saved)))
    for _ in range(steps):
        w.slots["s"].trainer.step()
    w.op_save(Save("s"))
    checkpoint = saved.read_bytes()
    blob = exchange.export(
        exchange.weights_from_checkpoint(checkpoint),
        cfg,
        spec_for(task),
        source,
        exchange.task_state_from_checkpoint(checkpoint),
        steps,
    )
    model = exchange.parse_import(blob, tmp_path / "imported.safetensors")
    assert (model.task, model.source) == (task, source)
    copy = Open("t", 1, model.task, model.source, cfg.to_dict(), str(tmp_path / "t.safetensors"))
    w.op_open(replace(copy, weights=str(model.weights)))
    return w


@pytest.mark.parametrize("task", sorted(EXPORTS))
def test_an_exported_session_imports_with_identical_answers(tmp_path, task):
    import torch

    from backend.config import TrainConfig

    torch.set_num_threads(1)
    cfg = TrainConfig(model="gru", hidden_size=8, num_layers=1, seq_len=8, batch_size=4)
    spec = spec_for(task)
    raw_source, op, raw_query = EXPORTS[task]
    w = exported_and_imported(tmp_path, task, spec.parse_source(raw_source), cfg)
    query = spec.parse_query(op, raw_query)
    answers = []
    for sid in ("s", "t"):
        torch.manual_seed(0)  # a sampled continuation draws from the global stream
        answers.append(w.slots[sid].trainer.answer(op, query))
    assert answers[0] == answers[1]
    assert answers[0]


def test_a_new_session_starts_from_its_tasks_measured_settings_under_the_users(server, connect):
    """The text task's defaults (one layer, lr 2e-2, 8 x 128, Austen) under what a user sends."""
    import requests

    made = requests.post(f"{server.url}/api/sessions", json={}, timeout=60).json()
    state = connect().join(made["id"], made["owner_token"])
    assert state["source"]["source"] == "austen" and state["source"]["chars"] > 1_500_000
    config = state["config"]
    assert (config["num_layers"], config["learning_rate"]) == (1, 0.02)
    assert (config["batch_size"], config["seq_len"], config["hidden_size"]) == (8, 128, 128)
    body = {"corpus": "english", "config": {"num_layers": 2, "hidden_size": 16}}
    mine = requests.post(f"{server.url}/api/sessions", json=body, timeout=60).json()
    config = connect().join(mine["id"], mine["owner_token"])["config"]
    assert (config["num_layers"], config["hidden_size"], config["learning_rate"]) == (2, 16, 0.02)
    for links in (made, mine):  # free the workers for the other tests
        url = f"{server.url}/api/sessions/{links['id']}"
        requests.delete(url, headers={"X-Session-Token": links["owner_token"]}, timeout=30)
