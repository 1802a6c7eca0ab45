"""The engine and real worker processes: answers, refusals, newest-first, shutdown, death,
and answers that reach whoever asked while a session moves between workers."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend.config import TrainConfig
from backend.core.training import Trainer
from backend.engine import worker
from backend.engine.messages import (
    Answered,
    Event,
    Handoff,
    Open,
    Opened,
    Progress,
    Query,
    Rejected,
    Start,
    WorkerLost,
)
from backend.engine.pool import Engine, may_have_gpu
from backend.errors import UserError
from backend.sessions.registry import Sessions
from backend.tasks.text.task import TextTask

TEXT = "the cat sat on the mat. " * 20
TINY = TrainConfig(hidden_size=8, num_layers=1, seq_len=8, batch_size=4)
PREDICT = {"text": "the ca", "k": 3, "temperature": 0.8}
SOURCE = {"corpus": "upload", "text": TEXT}


def predict(session: str, client: str, seq: int, **fields: object) -> Query:
    """A next-character query as the session layer sends it (already parsed)."""
    return Query(session, "predict", client, seq, fields={**PREDICT, "seq": seq, **fields})


def opening(session: str, checkpoint: Path | str, gen: int = 1) -> Open:
    return Open(session, gen, "text", SOURCE, TINY.to_dict(), checkpoint=str(checkpoint))


def client_of(event: Event) -> str | None:
    return getattr(event, "client", None)


class Events:
    """An engine's `on_event`: keeps every event; `wait` finds the first that matches."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Event] = queue.Queue()

    def __call__(self, event: Event) -> None:
        self.inbox.put(event)

    def wait(self, match: Callable[[Event], bool], timeout: float = 30.0) -> Event:
        while True:
            event = self.inbox.get(timeout=timeout)  # raises queue.Empty when none comes
            if match(event):
                return event


def start_engine(tmp_path: Path) -> tuple[Engine, Events]:
    """One worker holding one tiny session "s", built and ready."""
    events = Events()
    engine = Engine(events, workers=1, device="cpu")
    engine.start()
    checkpoint = str(tmp_path / "s.safetensors")
    engine.send(opening("s", checkpoint))
    events.wait(lambda e: isinstance(e, Opened))
    return engine, events


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Events]]:
    engine, events = start_engine(tmp_path_factory.mktemp("engine"))
    yield engine, events
    engine.stop()


def answer_to(events: Events, client: str) -> Event:
    return events.wait(lambda e: client_of(e) == client)


def test_a_query_is_answered_for_its_client(engine: tuple[Engine, Events]) -> None:
    eng, events = engine
    eng.send(predict("s", "a", 7, length=5))
    event = answer_to(events, "a")
    assert isinstance(event, Answered) and event.op == "predict" and event.seq == 7
    assert event.session == "s" and event.gen == 1
    assert len(event.result["top"]) == 3 and event.result["step"] == 0


def test_an_inspect_answer_carries_its_binary_payload(engine: tuple[Engine, Events]) -> None:
    eng, events = engine
    look = {"position": None, "surgery": None, "saliency": False}
    eng.send(Query("s", "inspect", "b", 1, fields={"text": "the cat", "seq": 1, **look}))
    event = answer_to(events, "b")
    assert isinstance(event, Answered) and isinstance(event.result["data"], bytes)
    assert len(event.result["data"]) > 0


def test_a_bad_query_is_rejected_and_the_next_one_answered(engine: tuple[Engine, Events]) -> None:
    eng, events = engine
    look = {"position": None, "surgery": None, "saliency": False}
    eng.send(Query("s", "inspect", "c", 1, fields={"text": "§§§", "seq": 1, **look}))
    refused = answer_to(events, "c")
    assert isinstance(refused, Rejected) and refused.error["field"] == "text"
    eng.send(Query("s", "predict", "c", 2, fields={"text": "the", "k": 2, "temperature": 1.0}))
    broken = answer_to(events, "c")  # no length
    assert isinstance(broken, Rejected) and broken.error["code"] == "internal"
    eng.send(predict("s", "c", 3, text="the", k=2, temperature=1.0, length=0))
    assert isinstance(answer_to(events, "c"), Answered)


class Closing(queue.Queue):
    """A query queue that breaks once empty, as a multiprocessing one does at shutdown."""

    def get(self, block: bool = True, timeout: float | None = None) -> dict:
        if block and self.empty():
            raise OSError("closed")
        return super().get(block, timeout)


class Outbox:
    """Stands in for the worker's events queue: keeps what is put on it."""

    def __init__(self) -> None:
        self.sent: list[Event] = []

    def put(self, message: Event) -> None:
        self.sent.append(message)


def test_only_the_newest_waiting_query_per_client_and_kind_is_answered() -> None:
    queries, events = Closing(), Outbox()
    w = worker.Worker(commands=None, queries=queries, events=events, device="cpu", checkpoint_s=15)
    w.slots["s"] = worker.Slot(Trainer(TextTask.from_text(TEXT), TINY), gen=1)
    for client, seq in [("a", 1), ("a", 2), ("b", 1), ("a", 3)]:
        queries.put(predict("s", client, seq, length=0))
    look = {"text": "the ca", "seq": 1, "position": None, "surgery": None, "saliency": False}
    queries.put(Query("s", "inspect", "a", 1, fields=look))
    w.answer_forever()  # answers what waits, then finds the queue closed and returns
    answered = sorted((m.client, m.op, m.seq) for m in events.sent)
    assert answered == [("a", "inspect", 1), ("a", "predict", 3), ("b", "predict", 1)]
    assert all(isinstance(m, Answered) and m.gen == 1 for m in events.sent)


def test_stop_ends_the_workers_and_the_reader(tmp_path: Path) -> None:
    eng, _ = start_engine(tmp_path)
    eng.stop()
    assert not eng.alive() and not any(proc.is_alive() for proc in eng.procs)
    for reader in eng.readers + eng.answer_readers:
        assert reader is not None
        reader.join(timeout=10)
        assert not reader.is_alive()
    assert eng.restarts == 0, "workers that were told to stop are not replaced"


def test_a_worker_killed_while_writing_an_event_holds_up_nothing(tmp_path: Path) -> None:
    eng, events = start_engine(tmp_path)
    try:
        # A worker killed mid-write keeps its event queue's write lock for ever; hold it
        # here the same way (`_wlock` is the lock every writer of a Queue takes).
        eng.event_queues[0]._wlock.acquire()
        first = eng.readers[0]
        eng.procs[0].kill()
        events.wait(lambda e: isinstance(e, WorkerLost))
        first.join(timeout=10)
        assert not first.is_alive(), "the dead worker's reader stopped without a sentinel"
        events.wait(lambda e: isinstance(e, Opened))
    finally:
        eng.stop()
    for reader in eng.readers + eng.answer_readers:
        assert reader is not None
        reader.join(timeout=10)
        assert not reader.is_alive()


def test_answers_come_on_their_own_pipe_and_the_rest_on_the_events_queue(
    engine: tuple[Engine, Events],
) -> None:
    eng, events = engine
    assert eng.answer_readers[0] is not None and eng.answer_readers[0].is_alive()
    eng.send(predict("s", "p", 1, length=0))
    answer = answer_to(events, "p")
    assert isinstance(answer, Answered)
    # Answered here means read from the pipe: nothing answers on the events queue any more.
    assert eng.event_queues[0].empty()


def test_many_threads_writing_the_answer_pipe_at_once_never_mix_their_answers() -> None:
    read_end, write_end = multiprocessing.Pipe(duplex=False)
    pipe = worker.AnswerPipe(write_end)
    result = {"top": [["a", 0.5]] * 200}  # a few kilobytes each, so writes would interleave

    def answer(client: str) -> None:
        for seq in range(50):
            pipe.put(Answered("s", 1, client, "predict", seq, result))

    threads = [threading.Thread(target=answer, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    received = [read_end.recv() for _ in range(200)]  # reads while they write: the pipe is small
    for thread in threads:
        thread.join(timeout=30)
    for client in ("c0", "c1", "c2", "c3"):
        seqs = [e.seq for e in received if e.client == client]
        assert seqs == list(range(50)), "each thread's answers whole and in order"
    assert all(e.result == result for e in received)
    pipe.put(Answered("s", 1, "c0", "predict", 50, {"top": lambda: None}))  # cannot travel
    refused = read_end.recv()
    assert isinstance(refused, Rejected) and (refused.client, refused.seq) == ("c0", 50)
    assert refused.error["code"] == "internal", "refused to its client, the thread goes on"
    write_end.close()
    with pytest.raises(EOFError):  # the worker gone: its reader stops
        read_end.recv()


def test_keystrokes_rest_on_what_they_used_not_on_the_background_work() -> None:
    w = worker.Worker(commands=None, queries=None, events=Outbox(), device="cpu", checkpoint_s=15)

    def frozen() -> float:  # no time passes between the calls below
        return 100.0

    w.budget = worker.QueryBudget(worker.QUERY_SHARE, clock=frozen)
    w.keystrokes = worker.QueryBudget(worker.QUERY_SHARE, clock=frozen)
    share, burst = worker.QUERY_SHARE, worker.QUERY_BURST_S
    w.rest(w.budget, 0.2, 0.0)  # a batch of continuations for a class: 200 ms of CPU
    w.rest_keystrokes(0.01)
    assert w.keystrokes.spend(0.0, burst) == 0.0, "the next keystrokes do not wait for it"
    assert w.budget.spend(0.0, 0.0) == pytest.approx(0.21 / share), "the background waits"
    w.rest_keystrokes(0.1)  # past their own burst: they rest for what they used beyond it
    assert w.keystrokes.spend(0.0, burst) == pytest.approx((0.11 - burst) / share)


def test_a_gpu_gets_one_worker_so_its_sessions_can_meet_in_one_cohort():
    assert may_have_gpu("cuda") and may_have_gpu("cuda:1")
    assert not may_have_gpu("cpu")
    assert Engine(lambda e: None, device="cuda").count == 1
    assert Engine(lambda e: None, workers=3, device="cuda").count == 3  # as asked


@contextmanager
def moving_c(tmp_path: Path) -> Iterator[tuple[Engine, Events]]:
    """Two workers; sessions a, b, c opened (on workers 0, 1, 0); a and c started, so c moves."""
    events = Events()
    eng = Engine(events, workers=2, device="cpu")
    eng.start()
    try:
        for name in "abc":  # placed in turn on workers 0, 1, 0
            eng.send(opening(name, tmp_path / f"{name}.safetensors"))
            events.wait(lambda e, n=name: isinstance(e, Opened) and e.session == n)
        assert eng.placement == {"a": 0, "b": 1, "c": 0}
        eng.send(Start("a"))
        eng.send(Start("c"))  # two on worker 0, none on 1: c moves
        yield eng, events
    finally:
        eng.stop()


def test_a_hand_off_delivers_what_was_sent_meanwhile_to_the_new_worker(tmp_path: Path) -> None:
    with moving_c(tmp_path) as (eng, events):
        assert "c" in eng.moving and eng.running_per_worker() == [1, 1]
        eng.send(predict("c", "q", 1, text="the", k=2, temperature=1.0, length=0))
        reopened = events.wait(lambda e: isinstance(e, Opened) and e.session == "c")
        assert reopened.resumed, "the new worker took it over from the old one's checkpoint"
        assert eng.placement["c"] == 1 and not eng.moving
        answer = events.wait(lambda e: client_of(e) == "q")
        assert isinstance(answer, Answered) and answer.seq == 1
        events.wait(lambda e: isinstance(e, Progress) and e.session == "c")  # and trains it


def test_a_query_queued_at_the_old_worker_before_a_move_is_answered_by_the_new_one(
    tmp_path: Path,
) -> None:
    with moving_c(tmp_path) as (eng, events):
        events.wait(lambda e: isinstance(e, Opened) and e.session == "c")
        # As if the query had been routed to worker 0 just before the move began.
        eng.query_queues[0].put(predict("c", "late", 1, length=0))
        answer = events.wait(lambda e: client_of(e) == "late", timeout=5.0)
        assert isinstance(answer, Answered), answer


def test_a_query_answered_while_its_session_is_handed_off_names_the_build_it_came_from():
    events = Outbox()
    w = worker.Worker(commands=None, queries=None, events=events, device="cpu", checkpoint_s=15)
    w.slots["s"] = worker.Slot(Trainer(TextTask.from_text(TEXT), TINY), gen=3)
    trainer = w.slots["s"].trainer
    answer = trainer.answer

    def slow_answer(op, query):  # the training thread hands the session off meanwhile
        w.op_handoff(Handoff("s"))
        return answer(op, query)

    trainer.answer = slow_answer
    w.answer(predict("s", "c", 1, length=0))
    answered = [e for e in events.sent if isinstance(e, Answered)]
    assert len(answered) == 1 and answered[0].gen == 3, events.sent
    assert "s" not in w.slots and "s" in w.gone


def test_a_server_question_gets_its_reply_even_without_a_model_build():
    """A worker that no longer holds the session refuses without a build (gen None)."""
    sessions = Sessions(storage=None, publisher=None)

    class Engine:
        def send(self, query: Query) -> None:
            error = {"code": "internal", "message": "KeyError: 's'"}
            sessions.on_event(Rejected(query.session, None, query.client, query.op, error))

    sessions.engine = Engine()
    with pytest.raises(UserError, match="KeyError"):
        sessions.ask(SimpleNamespace(id="s"), "gaps", timeout=5.0)


def test_a_query_that_overtakes_its_sessions_open_is_answered_once_the_open_has_run(tmp_path):
    """Commands and queries travel on separate queues: a busy worker may see the query first."""
    queries, events = queue.Queue(), Outbox()
    w = worker.Worker(commands=None, queries=queries, events=events, device="cpu", checkpoint_s=15)
    w.answer(predict("s", "c", 1, length=0))
    assert events.sent == [], "set aside, neither refused nor blocking the query thread"
    w.op_open(opening("s", tmp_path / "s.safetensors"))
    w.answer(queries.get_nowait())  # queued again by the open
    answered = [e for e in events.sent if isinstance(e, Answered)]
    assert len(answered) == 1 and answered[0].client == "c" and answered[0].gen == 1


def test_a_run_with_a_budget_stops_on_its_very_step_and_runs_on_when_started_again(
    tmp_path: Path,
) -> None:
    """A lesson's budget: the worker stops at step `until`, with a validation point there."""
    engine, events = start_engine(tmp_path)
    try:
        engine.send(Start("s", until=30))

        def upto(step: int) -> Callable[[Event], bool]:
            return lambda e: isinstance(e, Progress) and e.step >= step

        stopped = events.wait(upto(30), timeout=60)
        assert stopped.step == 30 and stopped.val[-1][0] == 30
        with pytest.raises(queue.Empty):  # it stays there
            events.wait(upto(31), timeout=3)
        engine.send(Start("s"))  # "run on": no budget
        assert events.wait(upto(40), timeout=60).step >= 40
    finally:
        engine.stop()
