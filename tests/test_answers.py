"""Answers reach whoever asked, even when the session moves to another worker meanwhile."""

from __future__ import annotations

import queue
from types import SimpleNamespace

import pytest

from backend import worker
from backend.config import TrainConfig
from backend.data import TextDataset
from backend.errors import UserError
from backend.sessions import Sessions
from backend.training import Trainer

TEXT = "the cat sat on the mat. " * 20
TINY = TrainConfig(hidden_size=8, num_layers=1, seq_len=8, batch_size=4)


class Outbox:
    """Stands in for the worker's events queue: keeps what is put on it."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def put(self, message: dict) -> None:
        self.sent.append(message)


def test_a_query_answered_while_its_session_is_handed_off_names_the_build_it_came_from():
    events = Outbox()
    w = worker.Worker(commands=None, queries=None, events=events, device="cpu", checkpoint_s=15)
    w.slots["s"] = worker.Slot(Trainer(TextDataset.from_text(TEXT), TINY), gen=3)
    predict = w.query_predict

    def slow_predict(trainer, cmd):  # the training thread hands the session off meanwhile
        w.op_handoff({"op": "handoff", "session": "s"})
        return predict(trainer, cmd)

    w.query_predict = slow_predict
    query = {"op": "predict", "session": "s", "client": "c", "seq": 1, "text": "the ca"}
    w.answer({**query, "k": 3, "temperature": 0.8, "length": 0})
    answered = [e for e in events.sent if e["type"] == "answered"]
    assert len(answered) == 1 and answered[0]["gen"] == 3, events.sent
    assert "s" not in w.slots and "s" in w.gone


def test_a_server_question_gets_its_reply_even_without_a_model_build():
    """A worker that no longer holds the session refuses without a build (gen None)."""
    sessions = Sessions(storage=None, publisher=None)

    class Engine:
        def send(self, session: str, op: str, client: str, **_: object) -> None:
            error = {"code": "internal", "message": "KeyError: 's'"}
            refusal = {"type": "rejected", "session": session, "gen": None, "op": op}
            sessions.on_event({**refusal, "client": client, "error": error})

    sessions.engine = Engine()
    with pytest.raises(UserError, match="KeyError"):
        sessions.ask(SimpleNamespace(id="s"), "gaps", timeout=5.0)


def test_a_query_that_overtakes_its_sessions_open_is_answered_once_the_open_has_run(tmp_path):
    """Commands and queries travel on separate queues: a busy worker may see the query first."""
    queries, events = queue.Queue(), Outbox()
    w = worker.Worker(commands=None, queries=queries, events=events, device="cpu", checkpoint_s=15)
    query = {"op": "predict", "session": "s", "client": "c", "seq": 1, "text": "the ca"}
    w.answer({**query, "k": 3, "temperature": 0.8, "length": 0})
    assert events.sent == [], "set aside, neither refused nor blocking the query thread"
    opened = dict(text=TEXT, config=TINY.to_dict(), checkpoint=str(tmp_path / "s.safetensors"))
    w.op_open({"op": "open", "session": "s", "gen": 1, "resume": False, **opened})
    w.answer(queries.get_nowait())  # queued again by the open
    answered = [e for e in events.sent if e["type"] == "answered"]
    assert len(answered) == 1 and answered[0]["client"] == "c" and answered[0]["gen"] == 1
