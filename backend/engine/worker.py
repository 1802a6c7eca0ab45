"""A training worker process: holds many sessions' models and time-slices them.

The web process never trains. It sends control commands down `commands`, queries
(predictions, looks inside) down `queries`, and reads events from `events` and the answers
to queries from `answers` (its own pipe, written at once by the thread that answered: see
`AnswerPipe`); all are the typed messages of `backend.engine.messages` (plain dataclasses,
no tensors), so the worker processes are the only ones that import torch.

Three threads, so a keystroke never waits for a training step. The whole process runs a
little below the web process (nice +5), and its threads all at one priority: a thread set
below another would still hold the GIL that the other waits for, and the OS would then
run it least. Priorities inside are kept by the threads themselves:
- the training thread loops:
  1. apply every waiting control command (open, start, pause, configure, ...);
  2. give one optimisation step to the running session that has used the least CPU time
     so far (fair in CPU seconds, not steps, so a big model cannot starve a small one).
     With batching on (a GPU), that session's whole cohort of running sessions with the
     same model settings steps at once, as one batched step (`backend.engine.cohort`);
  3. flush each session's progress at most every `PROGRESS_EVERY_S`; a validation loss,
     a sample and a gradient-through-time pass every few seconds of its own running time.
- the query thread answers queries as they come, newest per client only; the training
  thread waits for a round in progress before its next step. It reads the weights under
  the session's lock, which the training thread takes only while the optimizer writes
  them. A query that overtakes its session's `open` is set aside until the open has run,
  so it holds up no other query; one for a session handed to another worker goes back to
  the engine. Predictions are answered a batch per session from a snapshot of the weights, each
  client's state carried from its last input (the task's `answerer`, as text has);
- the background thread takes a session's new snapshot of the weights when its clients'
  texts are too long to re-read within a round (the old one answers meanwhile), and makes
  the greedy and sampled continuations a client was owed: when more than a few clients
  type, at most once a second per client, many clients in one batch.
Two budgets (`QueryBudget`) keep training its share. The keystrokes rest on what they used
themselves: at most half a core of wall time, with a burst. The background work rests on
what both threads used: together they take at most as much CPU as the training thread has
had (or did not want: a paced lesson between its steps), so on a crowded machine, where the
worker gets less than a core, the continuations wait rather than the training.

A session trained from step 0 gets a head start: for its first `HEAD_START_S` of training it
is charged a third of its CPU time, so a teacher who presses Train sees words sooner; once
per model, not renewed by pausing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.engine.messages import (
    Answered,
    Checkpointed,
    Close,
    Command,
    Configure,
    Event,
    Failed,
    Gradients,
    HandedOff,
    Handoff,
    Misrouted,
    Notice,
    Open,
    Opened,
    Pause,
    Progress,
    Query,
    Ready,
    Rejected,
    Sample,
    Save,
    Shutdown,
    Start,
    Step,
    kind,
)

log = logging.getLogger(__name__)

# Periodic work is paid for out of training time (about 4% in all at these settings).
PROGRESS_EVERY_S = 0.1
VALIDATE_EVERY_S = 4.0
# The task's own score (`Task.score`: valid tunes, exact translations) is measured with a
# validation, but at most this often on the wall clock: it generates, so it costs more.
SCORE_EVERY_S = 8.0
SAMPLE_EVERY_S = 5.0
SAMPLE_LENGTH = 200
DIAGNOSE_EVERY_S = 5.0  # gradient-through-time pass, on the session's own running time
DIAGNOSE_BATCH = 4
RATE_WINDOW_S = 2.0
# A client's continuations are generated at most this often (a text one reads, not a frame):
# a keystroke in between gets its bars at once and its continuation when this is due.
CONTINUE_EVERY_S = 1.0
QUIET_CLIENTS = 4  # with no more clients asking this worker, every answer is continued
GATHER_S = 0.02  # with more, a round waits this long for others' keystrokes to share its batch
CONTINUE_TOGETHER_S = 0.25  # owed continuations due this soon are made with one that is due
PREDICT_FIELDS = {"seq", "text", "k", "temperature", "length"}  # what a batched answer reads
QUERY_SHARE = 0.5  # for answering while sessions train: of a core, or of what the worker gets
QUERY_BURST_S = 0.05  # CPU the keystrokes may take at once beyond that share
REST_MAX_S = 5.0  # background work rests at most this long at once, even if training got no core
REST_POLL_S = 0.002  # the shortest rest while waiting for training to have its share
DEBT_MAX_S = 1.0  # of answering's CPU beyond training's: more is forgiven (a class that stops)
HEAD_START_S = 60.0  # of training, for a model trained from step 0: charged 1/HEAD_START_WEIGHT
HEAD_START_WEIGHT = 3.0  # beside one other session, it gets 3/4 of the worker instead of half
SYNC_REFRESH_CHARS = 4000  # a new snapshot that re-reads more kept text is made in the background
WORKER_NICE = 5  # the web process (sockets, the class's pages) comes first


@dataclass
class Slot:
    """One session as the worker sees it: its trainer and its scheduling bookkeeping."""

    trainer: Any
    gen: int  # which build of the session's model this is; events carry it so stale ones drop
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while weights change
    running: bool = False
    used_s: float = 0.0  # CPU time consumed by its training, the fair-share key
    points: list[list[float]] = field(default_factory=list)  # [step, bits] not yet sent
    grads: list[list[float]] = field(default_factory=list)  # [step, norm, clipped] not yet sent
    clipped: int = 0  # steps clipped since the last gradient diagnostic
    stepped: int = 0  # steps since the last gradient diagnostic
    run_s_since_diag: float = math.inf
    val_points: list[list[float]] = field(default_factory=list)
    score_points: list[list[float]] = field(default_factory=list)  # [step, share] not yet sent
    scored_at: float = -math.inf  # wall time of the last score
    last_flush: float = 0.0
    run_s_since_val: float = math.inf  # so a new model's curve gets a validation point at once
    run_s_since_sample: float = 0.0
    rate_marks: list[tuple[float, int]] = field(default_factory=list)  # (time, items_seen)
    checkpoint: Path | None = None  # where this session's weights are saved
    batched: int = 1  # sessions its last step trained together (1: alone)
    saved_at: float = field(default_factory=time.perf_counter)
    answerer: Any = None  # the task's batched answerer (`Task.answerer`), made at the first one
    pace: float = 0.0  # steps per second at most, for a class to watch (a lesson's); 0: no limit
    until: int | None = None  # stop by itself on reaching this step (a lesson's budget)
    due: float = 0.0  # a paced session's next step waits for this perf_counter time
    head_start_s: float = 0.0  # seconds of training left at HEAD_START_WEIGHT (a new model's)


@dataclass
class Group:
    """Running sessions that train as one cohort; members[s] is the cohort's row s."""

    members: list[str]
    cohort: Any  # a backend.engine.cohort.Cohort (imported in the worker only: it needs torch)


class Gate:
    """Open while nobody answers: the training thread waits at it, the query threads hold it."""

    def __init__(self) -> None:
        self.holders = 0
        self.changed = threading.Condition()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self.changed:
            self.holders += 1
        try:
            yield
        finally:
            with self.changed:
                self.holders -= 1
                self.changed.notify_all()

    def wait_open(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.holders == 0)


class QueryBudget:
    """The CPU that answering may take from training: `rate` CPU seconds per tick of `clock`.

    On the wall clock `rate` is a share of a core. On the worker's training clock
    (`Worker.training_clock`) it is per second that training has had, however little of a
    core the worker gets. Threads report the CPU time their work used and are told how far
    the clock must move before the next, so that the debt (what they used beyond `rate`
    times the clock's ticks since, at most `most`) comes back to `allowance`: the
    keystrokes' thread passes the burst, background work passes nothing.
    """

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.perf_counter, most: float = math.inf
    ) -> None:
        self.rate, self.clock, self.most = rate, clock, most
        self.debt = 0.0  # CPU seconds used beyond the rate
        self.at = clock()
        self.lock = threading.Lock()

    def spend(self, cpu_s: float, allowance: float) -> float:
        """Record `cpu_s` of work; how far the clock must move before the next."""
        with self.lock:
            now = self.clock()
            paid = (now - self.at) * self.rate
            self.debt = min(self.most, max(0.0, self.debt - paid) + cpu_s)
            self.at = now
            return max(0.0, self.debt - allowance) / self.rate


class AnswerPipe:
    """The answers' own way to the web process: each is written by the thread that made it.

    A multiprocessing queue hands what is put on it to a feeder thread, which must then get a
    core and the GIL in a process that runs below the web's, just as training resumes; nothing
    else waits behind an answer here either (progress, samples). The answering thread pickles
    and writes the answer itself, one writer at a time; nothing else writes this pipe.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def put(self, event: Answered | Rejected) -> None:
        try:
            with self.lock:
                self.conn.send_bytes(self.pickled(event))
        except OSError:  # the web process is gone; the training loop notices and ends
            log.warning("an answer could not be sent: the web process has gone")

    @staticmethod
    def pickled(event: Answered | Rejected) -> bytes:
        """The event as bytes; an answer that cannot be pickled is refused to its client instead.

        It never raises: the thread that answers must go on answering.
        """
        from multiprocessing.reduction import ForkingPickler

        try:
            return bytes(ForkingPickler.dumps(event))
        except Exception as exc:  # noqa: BLE001 - whatever a task put in its answer
            log.error("a %s event cannot be sent: %s", type(event).__name__, exc)
            error = {"code": "internal", "message": f"the answer could not be sent: {exc}"}
            refusal = Rejected(event.session, event.gen, event.client, event.op, error, event.seq)
            return bytes(ForkingPickler.dumps(refusal))


class Worker:
    """The loop of one worker process; `commands`/`events` are multiprocessing queues.

    Answers and refusals to queries go on `answers` when given (an `AnswerPipe`), else on
    `events` with everything else.
    """

    def __init__(
        self,
        commands: Any,
        queries: Any,
        events: Any,
        device: str,
        checkpoint_s: float,
        batching: bool = False,
        answers: Any = None,
        query_clock: str = "training",
        gather_s: float = GATHER_S,
    ) -> None:
        self.commands, self.queries, self.events, self.device = commands, queries, events, device
        self.answers = answers if answers is not None else events
        self.checkpoint_s = checkpoint_s  # how often a running session's weights are saved
        self.slots: dict[str, Slot] = {}
        self.gone: set[str] = set()  # sessions handed to another worker: late queries go back
        # Queries that overtook their session's `open` (queries and commands travel on
        # separate queues): they are queued again once it has run. The lock orders a query's
        # look for its slot against the training thread placing or removing one.
        self.early: dict[str, list[Query]] = {}
        self.placing = threading.Lock()
        # Held while a query thread answers: the training thread waits at it before each
        # step, so answering does not trade the GIL back and forth with training op by op.
        self.answering = Gate()
        self.parent = os.getppid()
        # On a GPU a small model's step is mostly launch overhead: compatible running sessions
        # train together as one cohort (`backend.engine.cohort`), one batched step for all of them.
        self.batching = batching
        self.groups: dict[tuple, Group] = {}  # cohort key -> the running sessions that share it
        # Per (session, client): when its last continuation was made, and the query whose
        # continuation is still owed (answered without one because the last was too recent).
        self.continued_at: dict[tuple[str, str], float] = {}
        self.owed: dict[tuple[str, str], tuple[Query, float]] = {}
        self.asked_at: dict[tuple[str, str], float] = {}  # each client's latest prediction
        self.stale: dict[str, Slot] = {}  # sessions whose new snapshot is made in the background
        self.owing = threading.Condition()  # guards the above; wakes the background thread
        # The shared budget counts half a core of wall time until the training thread starts;
        # then, unless `query_clock` is "wall" (as before stop 15: benchmarks compare), what
        # training had: its thread's CPU clock, and the seconds it waited with nothing due
        # (so far, and since when it waits now).
        self.query_clock = query_clock
        self.gather_s = gather_s  # 0: a class's rounds do not wait for more (`gather`)
        self.training_cpu: int | None = None
        self.idle: tuple[float, float | None] = (0.0, None)
        self.budget = QueryBudget(QUERY_SHARE)  # all answering: the background work rests on it
        self.keystrokes = QueryBudget(QUERY_SHARE)  # the keystrokes alone (`rest_keystrokes`)
        # Clear while the query thread answers a round: background work waits at it between
        # its steps, or the two would trade the GIL op by op and the bars would wait longest.
        self.keystrokes_done = threading.Event()
        self.keystrokes_done.set()
        # Each control command's handler, by its type (`backend.engine.messages`).
        self.handlers: dict[type[Command], Callable[[Any], None]] = {
            Open: self.op_open,
            Configure: self.op_configure,
            Start: self.op_start,
            Pause: self.op_pause,
            Step: self.op_step,
            Save: self.op_save,
            Handoff: self.op_handoff,
            Close: self.op_close,
        }

    # -- loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """The training thread's loop (the query thread is started here too)."""
        self.count_training()
        threading.Thread(target=self.answer_forever, name="queries", daemon=True).start()
        threading.Thread(target=self.continue_forever, name="background", daemon=True).start()
        while True:
            if not self.handle(self.drain(self.wait_s())):
                return
            self.answering.wait_open()  # queries first: wait while any is being answered
            self.train_one()
            self.flush()
            if os.getppid() != self.parent:  # the web process died: do not linger as an orphan
                return

    def any_running(self) -> bool:
        return any(s.running for s in self.slots.values())

    def count_training(self) -> None:
        """From now on answering in all takes as much CPU as this thread, the training's, had.

        Where threads have no CPU clock of their own, the budget stays on the wall clock.
        """
        if self.query_clock == "wall":
            return
        try:
            self.training_cpu = time.pthread_getcpuclockid(threading.get_ident())
        except (AttributeError, OSError):
            return
        rate = QUERY_SHARE / (1.0 - QUERY_SHARE)  # answering's CPU per second training has had
        self.budget = QueryBudget(rate, self.training_clock, most=DEBT_MAX_S)

    def training_clock(self) -> float:
        """What training has had: its thread's CPU seconds plus the seconds it had nothing due.

        A paced lesson's training sleeps between steps: that time counts as had, or answering
        beside it would be held to the little CPU such a lesson uses.
        """
        idle_s, since = self.idle
        if since is not None:
            idle_s += time.perf_counter() - since
        cpu_s = time.clock_gettime(self.training_cpu) if self.training_cpu is not None else 0.0
        return cpu_s + idle_s

    def wait_s(self) -> float:
        """How long to wait for a command: 0 when a session may step now, else until one may.

        A paced session is not due until its next step's time: the loop sleeps in the queue
        (a command wakes it at once) rather than spinning, and unpaced sessions keep training.
        """
        due = [s.due for s in self.slots.values() if s.running]
        return min(1.0, max(0.0, min(due) - time.perf_counter())) if due else 1.0

    def drain(self, wait_s: float) -> list[Command]:
        """Every waiting command; waits up to `wait_s` for one when there is nothing to train."""
        out = []
        try:
            if wait_s > 0:
                with self.idling():
                    out.append(self.commands.get(timeout=wait_s))
            while True:
                out.append(self.commands.get_nowait())
        except queue.Empty:
            return out

    @contextlib.contextmanager
    def idling(self) -> Iterator[None]:
        """The training thread waits with nothing due: `training_clock` counts it as had."""
        since = time.perf_counter()
        self.idle = (self.idle[0], since)
        try:
            yield
        finally:
            self.idle = (self.idle[0] + time.perf_counter() - since, None)

    def handle(self, commands: list[Command]) -> bool:
        """Apply control commands in order; False means shut down."""
        for cmd in commands:
            if isinstance(cmd, Shutdown):
                return False
            self.release(cmd.session)  # a command changes one model, never a cohort's
            self.guarded(cmd, self.handlers[type(cmd)])
        return True

    def answer_forever(self) -> None:
        """The query thread: answer what waits, only the newest query per client and kind.

        Predictions are answered together, a batch per session (the task's `answerer`); when
        rounds keep coming the thread rests once it used its burst, so training keeps its share.
        """
        while True:
            try:
                waiting = self.gather()
            except Exception:  # the queue closes when the process shuts down
                return
            newest = {(cmd.client, cmd.op): cmd for cmd in waiting}
            started = time.thread_time()
            self.keystrokes_done.clear()
            try:
                with self.answering.held():
                    self.answer_round(list(newest.values()))
            finally:
                self.keystrokes_done.set()
            self.rest_keystrokes(time.thread_time() - started)

    def gather(self) -> list[Query]:
        """What waits for the query thread; for a class, also what comes within `gather_s`.

        Answered as it comes, a class's keystrokes make rounds of one or two clients, at
        0.8-1 ms of CPU an answer; in rounds of ten, 0.25 ms: the batched step of the cell
        and the round's own work are paid once for all of them.
        """
        waiting = [self.queries.get()]
        if self.gather_s > 0 and self.busy():
            deadline = time.perf_counter() + self.gather_s
            with contextlib.suppress(queue.Empty):
                while (left := deadline - time.perf_counter()) > 0:
                    waiting.append(self.queries.get(timeout=left))
        with contextlib.suppress(queue.Empty):
            while True:
                waiting.append(self.queries.get_nowait())
        return waiting

    def busy(self) -> bool:
        """Whether more than a few clients asked this worker for predictions within a second."""
        now = time.perf_counter()
        with self.owing:
            recent = sum(now - t < CONTINUE_EVERY_S for t in self.asked_at.values())
        return recent > QUIET_CLIENTS

    def answer_round(self, cmds: list[Query]) -> None:
        """One round: predictions in a batch per session, the rest one by one, slow ones apart."""
        predictions = []
        for cmd in cmds:
            if self.is_slow(cmd):  # never hold up keystrokes behind a long job
                threading.Thread(target=self.answer, args=(cmd,), daemon=True).start()
            elif cmd.op == "predict":
                predictions.append(cmd)
            else:
                self.answer(cmd)
        self.answer_predictions(predictions)

    def is_slow(self, cmd: Query) -> bool:
        """Whether the session's task says this query may take seconds."""
        slot = self.slots.get(cmd.session)
        return slot is not None and cmd.op in slot.trainer.task.spec.slow_queries

    def rest(self, budget: QueryBudget, spent: float, allowance: float) -> None:
        """Rest as `budget` says, so training keeps its share of the worker while it runs.

        `spent` is the CPU time the work used: on a crowded machine its wall time also
        counts waiting for a core, and resting that long would only delay the next answers.
        The rest lasts until the budget's clock has moved as far as it says (training has
        had its share), at most `REST_MAX_S` at once.
        """
        owed = budget.spend(spent, allowance)
        if owed <= 0 or not self.any_running():
            return
        until, deadline = budget.clock() + owed, time.perf_counter() + REST_MAX_S
        while (left := until - budget.clock()) > 0 and self.any_running():
            wait = min(left, deadline - time.perf_counter())
            if wait <= 0:
                return
            time.sleep(max(wait, REST_POLL_S))

    def rest_keystrokes(self, spent: float) -> None:
        """After a round of keystrokes: counted in the shared budget, rested on their own.

        The background work rests on the shared budget (what both threads used), the
        keystrokes only on what they used: a batch of continuations (200 ms of CPU for 20
        clients) must not put the next keystrokes to sleep for the 300 ms it owes.
        """
        self.budget.spend(spent, QUERY_BURST_S)
        self.rest(self.keystrokes, spent, QUERY_BURST_S)

    def answer_predictions(self, cmds: list[Query]) -> None:
        """Predictions, one batch per session: the bars at once, continuations after.

        Every answer here is the bars (`"continued": false`); the continuations of a
        client's newest text follow in a second answer with the same `seq`, from the
        background thread (`continue_now`).
        """
        by_session: dict[str, list[Query]] = {}
        for cmd in cmds:
            by_session.setdefault(cmd.session, []).append(cmd)
        for sid, group in by_session.items():
            slot = self.slots.get(sid)
            whole = [cmd for cmd in group if PREDICT_FIELDS <= cmd.fields.keys()]
            if slot is not None and slot.answerer is None:
                slot.answerer = slot.trainer.task.answerer(slot.trainer)
            if slot is None or slot.answerer is None or len(whole) < len(group):
                for cmd in group:  # the one-by-one path knows sessions not open here, and errors
                    self.answer(cmd)
                continue
            now = time.perf_counter()
            with self.owing:
                now_too = [self.continue_now((sid, cmd.client), cmd, now) for cmd in group]
            self.answer_batch(sid, slot, group, now_too)

    def continue_now(self, key: tuple[str, str], cmd: Query, now: float) -> bool:
        """Whether this query's answer is complete without a continuation; if not, owe one.

        The bars never wait for a continuation: it is owed, for the client's newest text,
        and made by the background thread, at once for a few typists and at reading pace
        (once every `CONTINUE_EVERY_S`) for each of a class.
        """
        if cmd.fields["length"] == 0:
            return True
        self.asked_at[key] = now
        if len(self.asked_at) > 4096:  # forget clients not heard from for a minute
            self.asked_at = {k: t for k, t in self.asked_at.items() if t > now - 60}
        busy = sum(now - t < CONTINUE_EVERY_S for t in self.asked_at.values()) > QUIET_CLIENTS
        owed = self.owed.get(key)
        if not busy:
            due = now
        elif owed is not None:
            due = owed[1]
        else:
            due = max(now, self.continued_at.get(key, -math.inf) + CONTINUE_EVERY_S)
        self.owed[key] = (cmd, due)
        self.owing.notify()
        return False

    def answer_batch(
        self,
        sid: str,
        slot: Slot,
        group: list[Query],
        continued: list[bool],
        between: Callable[[], Any] | None = None,
    ) -> None:
        """One session's predictions in one batch, each emitted to its client.

        `between` is called between the steps of continuations (the background thread's
        waits while keystrokes are answered).

        A new snapshot of the weights that is due is made here when it is quick (few or short
        texts to re-read); a class's is made by the background thread, the old one answering.
        """
        try:
            answerer = slot.answerer
            if answerer.due(slot.running):
                if answerer.model is None or answerer.backlog() <= SYNC_REFRESH_CHARS:
                    answerer.refresh(slot.running, slot.lock)
                else:
                    with self.owing:
                        self.stale[sid] = slot
                        self.owing.notify()
            asked = [{"client": cmd.client, "seq": cmd.seq, **cmd.fields} for cmd in group]
            results = slot.answerer.answer(asked, continued, between)
        except Exception as exc:  # noqa: BLE001 - one odd query must not stop the worker
            error = {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
            for cmd in group:
                self.emit(Rejected, sid, slot, client=cmd.client, op=cmd.op, error=error)
            return
        for cmd, result in zip(group, results, strict=True):
            self.emit(Answered, sid, slot, client=cmd.client, op=cmd.op, seq=cmd.seq, result=result)

    def continue_forever(self) -> None:
        """The background thread: new snapshots for classes, owed continuations when due.

        It yields to the query thread (bars first): it rests as soon as answering is over
        its share, leaving the burst to the keystrokes.
        """
        while True:
            with self.owing:
                while not self.owed and not self.stale:
                    self.owing.wait()
                stale, self.stale = self.stale, {}
            if stale:
                started = time.thread_time()
                with self.answering.held():
                    for sid, slot in stale.items():
                        try:
                            slot.answerer.refresh(slot.running, slot.lock)
                        except Exception:  # noqa: BLE001 - its old snapshot goes on answering
                            log.exception("session %s: a new snapshot failed", sid)
                self.rest(self.budget, time.thread_time() - started, 0.0)
                continue
            with self.owing:
                if not self.owed:
                    continue
                now = time.perf_counter()
                first = min(due for _, due in self.owed.values())
                if first > now:
                    self.owing.wait(first - now)
                    continue
                # Those due soon come along, so that more of them share one generation.
                keys = [k for k, (_, due) in self.owed.items() if due <= now + CONTINUE_TOGETHER_S]
                cmds = [self.owed.pop(key)[0] for key in keys]
                for key in keys:
                    self.continued_at[key] = now
                if len(self.continued_at) > 4096:  # forget clients not heard from for a minute
                    self.continued_at = {k: t for k, t in self.continued_at.items() if t > now - 60}
            started = time.thread_time()
            by_session: dict[str, list[Query]] = {}
            for cmd in cmds:
                by_session.setdefault(cmd.session, []).append(cmd)
            with self.answering.held():
                for sid, group in by_session.items():
                    slot = self.slots.get(sid)
                    if slot is not None:  # a session closed or moved meanwhile needs no text
                        self.answer_batch(
                            sid, slot, group, [True] * len(group), self.keystrokes_done.wait
                        )
            self.rest(self.budget, time.thread_time() - started, 0.0)

    def guarded(self, cmd: Command, fn: Callable[[Any], None]) -> None:
        """Run one command; a failure is reported for its session instead of killing the worker."""
        try:
            fn(cmd)
        except Exception as exc:  # noqa: BLE001 - anything a user's model does must not kill others
            sid = cmd.session
            if sid in self.slots:
                self.slots[sid].running = False
            self.emit(Failed, sid, op=kind(cmd), message=f"{type(exc).__name__}: {exc}")

    def emit(
        self, event: type[Event], session: str | None, slot: Slot | None = None, **fields: Any
    ) -> None:
        """Send an event, tagged with the model build (`gen`) of `slot` or the session's own."""
        slot = slot or (self.slots.get(session) if session else None)
        gen = slot.gen if slot else None
        sink = self.answers if event in (Answered, Rejected) else self.events
        sink.put(event(session=session, gen=gen, **fields))

    # -- commands --------------------------------------------------------------------------

    def op_open(self, cmd: Open) -> None:
        """Build (or rebuild) a session's model; resume from its checkpoint if asked and present."""
        from backend.config import TrainConfig
        from backend.core.training import Trainer
        from backend.store import checkpoints
        from backend.tasks.registry import task_for

        cfg = TrainConfig(**cmd.config)
        task = task_for(cmd.task).build(cmd.source, cfg.seed)
        trainer = Trainer(task, cfg, device=self.device)
        path = Path(cmd.checkpoint)
        resumed = False
        if cmd.resume:
            resumed = self.resume(cmd, trainer, path)
        else:
            checkpoints.remove(path)  # a new model: the old weights no longer belong to it
        if cmd.weights:  # an imported model, validated by the web process
            from safetensors.torch import load_file

            trainer.model.load_state_dict(load_file(cmd.weights))
        old = self.slots.get(cmd.session)
        slot = Slot(trainer, cmd.gen, used_s=self.fair_start(old), checkpoint=path, pace=cmd.pace)
        if trainer.step_count == 0 and not cmd.pace:  # a new model: once, not on a later start
            slot.head_start_s = HEAD_START_S
        trainer.write_lock = slot.lock
        with self.placing:
            self.slots[cmd.session] = slot
            self.gone.discard(cmd.session)  # back here after a move away
            early = self.early.pop(cmd.session, [])
        for query in early:
            self.queries.put(query)
        self.emit(
            Opened,
            cmd.session,
            params=trainer.model.num_params(),
            input_size=task.input_size,
            output_size=task.output_size,
            describe=task.describe(),
            step=trainer.step_count,
            items_seen=trainer.items_seen,
            resumed=resumed,
        )

    def resume(self, cmd: Open, trainer: Any, path: Path) -> bool:
        """Restore the newest sound checkpoint; tell the owner about any damaged one.

        With none sound, the model starts from fresh weights but keeps the session's step
        count, so its loss history and samples stay as they were and the curve goes on.
        """
        from backend.store import checkpoints

        used, problems = checkpoints.restore_latest(trainer, path)
        if used is None:  # the step count goes on: the history up to it is the session's own
            trainer.step_count, trainer.items_seen = cmd.step, cmd.items_seen
        if not problems:
            return used is not None
        if used is None:
            where = "fresh weights"
        else:
            where = f"the previous checkpoint (step {trainer.step_count})"
        message = f"a damaged checkpoint was set aside; training goes on from {where}"
        self.events.put(
            Notice(
                session=cmd.session,
                gen=cmd.gen,
                code="checkpoint_damaged",
                message=message,
                detail="; ".join(problems),
            )
        )
        return used is not None

    def save(self, sid: str, slot: Slot, force: bool = False) -> None:
        """Checkpoint a session (after sending its progress, so history and weights agree).

        A failed write (a full disk) keeps the previous checkpoint and is reported to the
        owner; training goes on and the next checkpoint tries again.
        """
        from backend.store import checkpoints

        self.flush_slot(sid, slot)
        if slot.checkpoint is not None and (force or slot.trainer.step_count > 0):
            found = self.find_group(sid)
            if found is not None:  # the moments live in the cohort: hand this member's back
                group = found[1]
                group.cohort.store_optimizer(group.members.index(sid))
            try:
                checkpoints.save(slot.trainer, slot.checkpoint)
            except OSError as exc:
                message = f"the model could not be saved ({exc.strerror or exc})"
                self.emit(Notice, sid, code="storage_failed", message=message)
            else:
                self.emit(Checkpointed, sid, step=slot.trainer.step_count)
        slot.saved_at = time.perf_counter()

    def fair_start(self, old: Slot | None) -> float:
        """A (re)starting session starts level with the least-served running one, not at zero.

        Only running sessions count: one back from a long pause must not claim the time it
        did not use and starve the others until it catches up.
        """
        others = [s.used_s for s in self.slots.values() if s is not old and s.running]
        return min(others) if others else 0.0

    def op_configure(self, cmd: Configure) -> None:
        from backend.config import TrainConfig

        self.slots[cmd.session].trainer.update_config(TrainConfig(**cmd.config))

    def op_start(self, cmd: Start) -> None:
        slot = self.slots[cmd.session]
        slot.used_s = self.fair_start(slot)
        slot.running = True
        until, step = cmd.until, slot.trainer.step_count
        slot.until = until if until is not None and until > step else None
        slot.rate_marks = [(time.perf_counter(), slot.trainer.items_seen)]

    def op_pause(self, cmd: Pause) -> None:
        slot = self.slots[cmd.session]
        slot.running = False
        self.save(cmd.session, slot)

    def op_step(self, cmd: Step) -> None:
        """One optimisation step on request (the session is paused), reported at once."""
        slot = self.slots[cmd.session]
        self.step_slot(slot)
        self.validate(slot)
        self.save(cmd.session, slot)

    def op_save(self, cmd: Save) -> None:
        """Checkpoint now, whatever the step (for exports and forks)."""
        self.save(cmd.session, self.slots[cmd.session], force=True)

    def op_handoff(self, cmd: Handoff) -> None:
        """Checkpoint a session and let it go: another worker takes it over from the file.

        `handed_off` is sent whatever happens, or the session's commands would wait forever;
        if the save failed the new worker resumes from the previous checkpoint.
        """
        sid = cmd.session
        slot = self.slots.get(sid)
        try:
            if slot is not None:
                self.save(sid, slot, force=True)
        finally:
            with self.placing:
                self.gone.add(sid)
                self.slots.pop(sid, None)
            self.emit(HandedOff, sid)

    def op_close(self, cmd: Close) -> None:
        """Forget a session (its checkpoint stays on disk for when it comes back)."""
        slot = self.slots.get(cmd.session)
        if slot is not None and slot.running:
            self.save(cmd.session, slot)
        with self.placing:
            self.slots.pop(cmd.session, None)
            early = self.early.pop(cmd.session, [])
        for query in early:
            error = {"code": "not_found", "message": "this session was closed"}
            self.emit(Rejected, cmd.session, client=query.client, op=query.op, error=error)

    def answer(self, cmd: Query) -> None:
        """Answer one client's query; a bad query is refused to that client, training goes on."""
        from backend.errors import UserError

        sid, client = cmd.session, cmd.client
        # The slot answering is named in the reply: the session may move to another worker
        # while a slow query runs, and its answer still belongs to that model build.
        with self.placing:
            slot = self.slots.get(sid)
            if slot is None and sid not in self.gone:
                self.early.setdefault(sid, []).append(cmd)  # asked again once it is open
                return
        if slot is None:  # queued here before the session moved: the engine sends it on
            self.emit(Misrouted, sid, query=cmd)
            return
        try:
            trainer = slot.trainer
            slow = cmd.op in trainer.task.spec.slow_queries
            with contextlib.nullcontext() if slow else slot.lock:
                result = trainer.answer(cmd.op, cmd.fields)
        except UserError as exc:
            error = exc.to_dict()
            self.emit(Rejected, sid, slot, client=client, op=cmd.op, seq=cmd.seq, error=error)
            return
        except Exception as exc:  # noqa: BLE001 - one odd query must not stop the worker
            error = {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
            self.emit(Rejected, sid, slot, client=client, op=cmd.op, seq=cmd.seq, error=error)
            return
        result["step"] = trainer.step_count
        self.emit(Answered, sid, slot, client=client, op=cmd.op, seq=cmd.seq, result=result)

    # -- training --------------------------------------------------------------------------

    def train_one(self) -> None:
        """One step for the running session that has had the least compute so far.

        With batching on, that session's whole cohort steps at once and each member is
        charged its share of the time.
        """
        now = time.perf_counter()
        running = [(s.used_s, sid) for sid, s in self.slots.items() if s.running and s.due <= now]
        if not running:
            return
        _, sid = min(running)
        members = self.cohort_members(sid) if self.batching else [sid]
        if len(members) > 1:
            self.train_cohort(members)
            return
        slot = self.slots[sid]
        # Fair share is charged in CPU time (waiting for a busy core costs nothing); the
        # periodic work follows the session's own running time on the clock, so a watcher
        # sees a fresh validation point every few seconds even on a crowded machine.
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            self.step_slot(slot)
            self.periodic(sid, slot)
        except Exception as exc:  # noqa: BLE001 - a diverging model pauses, it does not crash
            self.stop_training(sid, slot, exc)
        spent = self.paced(slot, started)
        slot.used_s += (time.thread_time() - started_cpu) / self.weight(slot)
        slot.head_start_s = max(0.0, slot.head_start_s - spent)
        slot.run_s_since_val += spent
        slot.run_s_since_sample += spent
        slot.run_s_since_diag += spent

    @staticmethod
    def weight(slot: Slot) -> float:
        """How many times its CPU time a session may have: more in a new model's head start."""
        return HEAD_START_WEIGHT if slot.head_start_s > 0 else 1.0

    @staticmethod
    def paced(slot: Slot, started: float) -> float:
        """Schedule a paced session's next step; the wall time its periodic work counts.

        A paced session runs on the clock at its pace, so its validation, samples and
        gradient diagnostic come every few seconds of watching, not of computing.
        """
        spent = time.perf_counter() - started
        if not slot.pace:
            return spent
        slot.due = max(slot.due, started) + 1.0 / slot.pace  # never a burst to catch up
        return max(spent, 1.0 / slot.pace)

    # -- cohorts (batching) ----------------------------------------------------------------

    def cohort_members(self, sid: str) -> list[str]:
        """The running sessions that can train in one batched step with `sid` (itself included)."""
        from backend.engine.cohort import cohort_key

        key = cohort_key(self.slots[sid].trainer)
        if key is None or self.slots[sid].pace:  # a paced session keeps its own clock
            return [sid]
        return sorted(
            other
            for other, slot in self.slots.items()
            if slot.running and not slot.pace and cohort_key(slot.trainer) == key
        )

    def group_of(self, members: list[str]) -> Group:
        """The group of exactly these sessions: the current one, or a new one in its place."""
        from backend.engine.cohort import Cohort, cohort_key

        key = cohort_key(self.slots[members[0]].trainer)
        group = self.groups.get(key)
        if group is not None and group.members == members:
            return group
        if group is not None:
            group.cohort.dissolve()
        slots = [self.slots[sid] for sid in members]
        cohort = Cohort([s.trainer for s in slots], locks=[s.lock for s in slots])
        self.groups[key] = Group(members, cohort)
        return self.groups[key]

    def find_group(self, sid: str | None) -> tuple[tuple, Group] | None:
        return next(((k, g) for k, g in self.groups.items() if sid in g.members), None)

    def release(self, sid: str | None) -> None:
        """Dissolve the cohort `sid` trains in, if any: its members get their own state back."""
        found = self.find_group(sid)
        if found is not None:
            key, group = found
            group.cohort.dissolve()
            del self.groups[key]

    def train_cohort(self, members: list[str]) -> None:
        """One batched step for every member, then each one's periodic work.

        Each member is charged 1/S of the step's CPU time (what training it alone in that
        slice would have cost) and of its wall time toward the gradient diagnostic, so those
        stay a small share of the work; validation follows the wall clock, and samples are
        drawn for the whole cohort at once.
        """
        started, started_cpu = time.perf_counter(), time.thread_time()
        slots = [self.slots[sid] for sid in members]
        try:
            cohort = self.group_of(members).cohort
            results = cohort.step()
        except Exception as exc:  # noqa: BLE001 - pause them and say why, as for one session
            self.release(members[0])
            for sid, slot in zip(members, slots, strict=True):
                self.stop_training(sid, slot, exc)
            return
        spent = time.perf_counter() - started
        share_cpu = (time.thread_time() - started_cpu) / len(members)
        for slot, result in zip(slots, results, strict=True):
            self.record(slot, result)
            slot.batched = len(members)
            slot.used_s += share_cpu
            slot.run_s_since_val += spent
            slot.run_s_since_sample += spent
            slot.run_s_since_diag += spent / len(members)
            slot.head_start_s = 0.0  # a cohort steps together: no member goes ahead
        if max(s.run_s_since_sample for s in slots) >= SAMPLE_EVERY_S:
            self.sample_cohort(cohort, members)
        for sid, slot in zip(members, slots, strict=True):
            before = time.thread_time()
            try:
                self.periodic(sid, slot, sample=False)
            except Exception as exc:  # noqa: BLE001
                self.release(sid)
                self.stop_training(sid, slot, exc)
            slot.used_s += time.thread_time() - before

    def sample_cohort(self, cohort: Any, members: list[str]) -> None:
        """A sample from every member at its own temperature, in one batched generation."""
        slots = [self.slots[sid] for sid in members]
        payloads = cohort.sample(SAMPLE_LENGTH, [s.trainer.cfg.temperature for s in slots])
        for sid, slot, payload in zip(members, slots, payloads, strict=True):
            self.send_sample(sid, slot, payload)

    def send_sample(self, sid: str, slot: Slot, payload: dict) -> None:
        """A sample as its task made it (for text, {"text": ...}), with its step and temperature."""
        trainer = slot.trainer
        self.emit(
            Sample,
            sid,
            step=trainer.step_count,
            temperature=trainer.cfg.temperature,
            payload=payload,
        )
        slot.run_s_since_sample = 0.0

    def stop_training(self, sid: str, slot: Slot, exc: Exception) -> None:
        """A diverging or broken model pauses and says why; the worker goes on."""
        slot.running = False
        self.emit(Failed, sid, op="train", message=f"{type(exc).__name__}: {exc}")

    def step_slot(self, slot: Slot) -> None:
        """One step of one session on its own."""
        self.record(slot, slot.trainer.step())
        slot.batched = 1

    @staticmethod
    def record(slot: Slot, result: Any) -> None:
        """Keep one step's loss and gradient norm for the next progress message."""
        slot.points.append([result.step, finite(result.loss)])
        slot.grads.append([result.step, finite(result.grad_norm), int(result.clipped)])
        slot.clipped += result.clipped
        slot.stepped += 1

    def periodic(self, sid: str, slot: Slot, sample: bool = True) -> None:
        """Validation loss, a sample and a gradient diagnostic, on the session's running time."""
        if slot.run_s_since_val >= VALIDATE_EVERY_S:
            self.validate(slot)
            slot.run_s_since_val = 0.0
        if sample and slot.run_s_since_sample >= SAMPLE_EVERY_S:
            payload = slot.trainer.sample(SAMPLE_LENGTH, slot.trainer.cfg.temperature)
            self.send_sample(sid, slot, payload)
        if slot.run_s_since_diag >= DIAGNOSE_EVERY_S and slot.trainer.model.kind in (
            "rnn",
            "lstm",
            "gru",
        ):
            self.diagnose(sid, slot)
        if slot.until is not None and slot.trainer.step_count >= slot.until:
            self.end_of_budget(sid, slot)
        elif time.perf_counter() - slot.saved_at >= self.checkpoint_s:
            self.save(sid, slot)

    def end_of_budget(self, sid: str, slot: Slot) -> None:
        """A lesson run stops on its budget's very step, with a validation point there, saved.

        The session layer marks it paused when this progress arrives; a later `Start` without
        `until` (the teacher's "run on") trains on past it.
        """
        slot.running, slot.until = False, None
        if not slot.val_points or slot.val_points[-1][0] != slot.trainer.step_count:
            self.validate(slot)
        self.save(sid, slot, force=True)

    @staticmethod
    def validate(slot: Slot) -> None:
        """A validation loss and, when the task has a score and it is due, the score."""
        trainer = slot.trainer
        slot.val_points.append([trainer.step_count, finite(trainer.evaluate())])
        now = time.perf_counter()
        if trainer.task.spec.score is not None and now - slot.scored_at >= SCORE_EVERY_S:
            score = trainer.score()
            if score is not None:
                slot.score_points.append([trainer.step_count, finite(score)])
            slot.scored_at = now

    def diagnose(self, sid: str, slot: Slot) -> None:
        """How far back the gradient reaches, and how often clipping fired, since last time."""
        trainer = slot.trainer
        flow = trainer.gradient_flow(DIAGNOSE_BATCH).to_dict()
        self.emit(
            Gradients,
            sid,
            step=trainer.step_count,
            seq_len=trainer.cfg.seq_len,
            h_norms=flow["h_norms"],
            c_norms=flow["c_norms"],
            c_direct=flow["c_direct"],
            ratio=flow["ratio"],
            clip_rate=slot.clipped / max(1, slot.stepped),
            grad_norm=flow["param_grad_norm"],
            clip_threshold=trainer.cfg.clip_threshold,
            clip=trainer.cfg.clip,
        )
        slot.clipped = slot.stepped = 0
        slot.run_s_since_diag = 0.0

    def flush(self) -> None:
        now = time.perf_counter()
        for sid, slot in self.slots.items():
            if (slot.points or slot.val_points) and now - slot.last_flush >= PROGRESS_EVERY_S:
                self.flush_slot(sid, slot)

    def flush_slot(self, sid: str, slot: Slot) -> None:
        """Send what this session learned since the last message, with its current speed."""
        now = time.perf_counter()
        trainer = slot.trainer
        slot.rate_marks.append((now, trainer.items_seen))
        while len(slot.rate_marks) > 2 and now - slot.rate_marks[1][0] > RATE_WINDOW_S:
            slot.rate_marks.pop(0)
        (t0, c0), (t1, c1) = slot.rate_marks[0], slot.rate_marks[-1]
        rate = (c1 - c0) / (t1 - t0) if slot.running and t1 > t0 else 0.0
        self.emit(
            Progress,
            sid,
            step=trainer.step_count,
            items_seen=trainer.items_seen,
            items_per_sec=rate,
            batched=slot.batched,
            train=slot.points,
            grad=slot.grads,
            val=slot.val_points,
            score=slot.score_points,
        )
        slot.points, slot.grads, slot.val_points, slot.last_flush = [], [], [], now
        slot.score_points = []


def finite(x: float) -> float | None:
    """JSON has no NaN or infinity: a diverged loss travels as null (a gap in the curve)."""
    return x if math.isfinite(x) else None


def lower_priority(nice: int) -> None:
    """Raise this thread's niceness by `nice` (Linux sets it per thread, and threads started
    after inherit it); elsewhere do nothing."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except (AttributeError, OSError):
        pass


def main(
    commands: Any,
    queries: Any,
    events: Any,
    device: str,
    checkpoint_s: float,
    batching: str = "auto",
    answers: Any = None,
) -> None:
    """Process entry point: one torch thread, so several workers share the cores fairly.

    `answers` is the write end of the answers' pipe (None: they go with the events).
    `PLAYGROUND_QUERY_CLOCK=wall` gives answering half a core of wall time instead of as much
    as training gets, and `PLAYGROUND_QUERY_GATHER_S` sets `GATHER_S` (0: answer at once, as
    before stop 15): for benchmarks that compare.
    """
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    events.put(Ready(session=None, gen=None, pid=os.getpid(), device=device))
    # torch.optim's first optimizer imports torch._dynamo: 2-3 s of CPU, paid here at start
    # rather than by the first owner to press Train (and by the keystrokes behind that open).
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters())
    sys.setswitchinterval(0.001)  # hand the GIL to a waiting query within a millisecond
    lower_priority(WORKER_NICE)  # before any thread starts: they all inherit it
    batch = batching == "on" or (batching == "auto" and device.startswith("cuda"))
    pipe = AnswerPipe(answers) if answers is not None else None
    clock = os.environ.get("PLAYGROUND_QUERY_CLOCK", "training")
    gather_s = float(os.environ.get("PLAYGROUND_QUERY_GATHER_S", GATHER_S))
    Worker(
        commands,
        queries,
        events,
        device,
        checkpoint_s,
        batching=batch,
        answers=pipe,
        query_clock=clock,
        gather_s=gather_s,
    ).run()
