"""The worker's scheduler in-process: answering's budget follows what training gets, and a new
model's head start (issue 14, stop 15). Tiny models; no assertion on how long anything takes."""

from __future__ import annotations

import math
import queue
import threading
import time
from pathlib import Path

import pytest

from backend.config import TrainConfig
from backend.engine import worker
from backend.engine.messages import Open, Pause, Query, Start

TEXT = "the cat sat on the mat. " * 20
TINY = TrainConfig(hidden_size=8, num_layers=1, seq_len=8, batch_size=4)
SOURCE = {"corpus": "upload", "text": TEXT}


class Outbox:
    def __init__(self) -> None:
        self.sent: list = []

    def put(self, message: object) -> None:
        self.sent.append(message)


def make_worker() -> worker.Worker:
    return worker.Worker(queue.Queue(), queue.Queue(), Outbox(), "cpu", checkpoint_s=math.inf)


def opening(session: str, folder: Path, **fields: object) -> Open:
    checkpoint = str(folder / f"{session}.safetensors")
    return Open(session, 1, "text", SOURCE, TINY.to_dict(), checkpoint=checkpoint, **fields)


def test_answering_takes_as_much_as_training_had_not_half_the_wall():
    had = [0.0]  # what training has had, as the worker's training clock says
    budget = worker.QueryBudget(rate=1.0, clock=lambda: had[0])
    assert budget.spend(0.2, allowance=0.05) == pytest.approx(0.15)  # wait for training
    had[0] += 0.1  # training had 0.1 s (whatever the wall time): half the debt is paid
    assert budget.spend(0.0, allowance=0.0) == pytest.approx(0.1)
    had[0] += 10.0
    assert budget.spend(0.0, allowance=0.0) == 0.0 and budget.debt == 0.0
    capped = worker.QueryBudget(rate=1.0, clock=lambda: had[0], most=1.0)
    assert capped.spend(30.0, allowance=0.0) == 1.0, "a debt past `most` is forgiven"


def test_training_that_waits_with_nothing_due_counts_as_having_had_its_share():
    """Beside a paced lesson (training sleeps between steps) answering does not wait for it;
    beside training that is held up (no core, a lock) it does."""
    w = make_worker()
    w.count_training()  # this thread plays the training thread
    assert w.budget.rate == pytest.approx(worker.QUERY_SHARE / (1 - worker.QUERY_SHARE))
    owed = w.budget.spend(0.2, allowance=0.0)
    assert owed == pytest.approx(0.2 / w.budget.rate)
    threading.Event().wait(0.3)  # held up, not idle: no CPU, so nothing is paid back
    assert w.budget.spend(0.0, allowance=0.0) > 0.15 / w.budget.rate
    w.drain(0.3)  # nothing due: the training thread waits for a command, as beside a lesson
    assert w.budget.spend(0.0, allowance=0.0) == 0.0


def test_the_budget_stays_on_the_wall_clock_when_asked():
    w = worker.Worker(None, None, Outbox(), "cpu", checkpoint_s=15, query_clock="wall")
    w.count_training()
    assert w.training_cpu is None and w.budget.rate == worker.QUERY_SHARE


def test_a_new_model_gets_a_head_start_once(tmp_path: Path):
    w = make_worker()
    w.op_open(opening("new", tmp_path))
    w.op_open(opening("paced", tmp_path, pace=2.0))
    assert w.slots["new"].head_start_s == worker.HEAD_START_S
    assert w.slots["paced"].head_start_s == 0.0, "a lesson keeps its own clock"
    w.op_start(Start("new"))
    w.train_one()
    left = w.slots["new"].head_start_s
    assert 0 < left < worker.HEAD_START_S
    w.op_pause(Pause("new"))  # saved at its step: reopened from there, it is not new
    w.op_start(Start("new"))
    assert w.slots["new"].head_start_s == left, "pausing and starting again does not renew it"
    w.op_open(opening("new", tmp_path, resume=True))
    assert w.slots["new"].trainer.step_count == 1 and w.slots["new"].head_start_s == 0.0


def test_a_session_in_its_head_start_gets_more_of_the_worker_then_its_share(tmp_path: Path):
    w = make_worker()
    w.op_open(opening("old", tmp_path))
    w.op_open(opening("new", tmp_path))
    w.slots["old"].head_start_s = 0.0  # it has trained a while
    w.op_start(Start("old"))
    w.op_start(Start("new"))
    steps = {"old": 0, "new": 0}
    for _ in range(400):
        before = {sid: slot.trainer.step_count for sid, slot in w.slots.items()}
        w.train_one()
        for sid, slot in w.slots.items():
            steps[sid] += slot.trainer.step_count - before[sid]
    # Charged a third of its CPU, it takes about three steps to the other's one.
    assert steps["new"] > 2 * steps["old"] > 0, steps
    w.slots["new"].head_start_s = 0.0  # spent: from now on, level in CPU time
    w.slots["new"].used_s = w.slots["old"].used_s
    steps = {"old": 0, "new": 0}
    for _ in range(400):
        before = {sid: slot.trainer.step_count for sid, slot in w.slots.items()}
        w.train_one()
        for sid, slot in w.slots.items():
            steps[sid] += slot.trainer.step_count - before[sid]
    assert 0.5 < steps["new"] / steps["old"] < 2.0, steps


def test_a_class_round_waits_for_more_keystrokes_and_a_lone_typist_does_not():
    class Queries(queue.Queue):
        """Remembers how long each `get` was allowed to wait."""

        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[float | None] = []

        def get(self, block: bool = True, timeout: float | None = None) -> Query:
            self.timeouts.append(timeout if block else 0.0)
            return super().get(block, timeout)

    w = make_worker()
    w.queries = Queries()
    w.gather_s = 1.0  # long enough for the second query below, however busy the machine

    def query(client: str) -> Query:
        fields = {"text": "the ca", "k": 3, "temperature": 0.8, "length": 120, "seq": 1}
        return Query("s", "predict", client, 1, fields=fields)

    w.queries.put(query("first"))
    assert [q.client for q in w.gather()] == ["first"]
    assert w.queries.timeouts == [None, 0.0], "one typist's bars go at once: no wait for more"
    now = time.perf_counter()
    w.asked_at = {("s", f"c{i}"): now for i in range(worker.QUIET_CLIENTS + 1)}  # a class

    def late() -> None:
        threading.Event().wait(0.05)
        w.queries.put(query("late"))

    w.queries.put(query("first"))
    thread = threading.Thread(target=late)
    thread.start()
    assert [q.client for q in w.gather()] == ["first", "late"], "they share one batch"
    thread.join()
