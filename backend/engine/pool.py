"""The web process's handle on the training workers.

`Engine` starts a few worker processes (about one per core), places each session on the
least-loaded one, forwards commands to it and hands every event the workers send back to a
single callback, on one reader thread. It imports no torch: the web process stays small.

Each worker shares its core among the sessions it trains, so it also keeps the running
sessions spread evenly: when one worker trains two or more sessions more than another, the
last session started there moves. The move is a hand-off in three steps, ordered so that no
command is lost or applied to the wrong copy:
  1. the old worker checkpoints the session and lets it go (`handoff`, then `handed_off`);
  2. meanwhile every command and query for the session waits here, in order;
  3. the new worker opens it from that checkpoint and starts it, then gets what waited.
A query already queued at the old worker when the move began comes back (`misrouted`) and
is routed again.

Workers are supervised. Each sends its events on a queue of its own (a process killed
mid-write cannot jam the others'), read by a thread of its own. Its answers to queries come
on a pipe of their own, written by the thread that answered and read by another thread here,
so a keystroke's answer never waits behind the queue's feeder thread (which needs the worker's
GIL just as training resumes) nor behind progress events. When a worker dies (killed,
out of memory), a supervisor thread notices at once, through the process's sentinel:
  1. the dead worker's reader hands on what it sent before dying, then stops;
  2. a new worker takes its place, and every session it held is reopened there from its
     last checkpoint (and started again if it was running);
  3. every query, and every server question, still waiting for the dead worker is refused
     with `worker_restarted`, and each session's owner is told (a `worker_lost` event).
A session whose worker dies twice in a row within `REPEAT_S` (a model that runs out of
memory whenever it trains) is reopened paused, so it cannot take its worker down forever.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from backend.engine import worker
from backend.engine.messages import (
    Answered,
    Close,
    Command,
    Configure,
    Event,
    Failed,
    HandedOff,
    Handoff,
    Misrouted,
    Open,
    Opened,
    Pause,
    Progress,
    Query,
    Ready,
    Rejected,
    Shutdown,
    Start,
    Step,
    WorkerLost,
)

log = logging.getLogger(__name__)

RESTARTED = "the training process stopped unexpectedly and was restarted; ask again"
REPEAT_S = 120.0  # a session whose worker dies twice within this is reopened paused
READ_POLL_S = 0.25  # how often a reader with nothing to read checks whether to stop
PIPE_BYTES = 1 << 20  # an answers pipe's buffer (`widen`)


def default_workers() -> int:
    """One worker per core the process may use, at least one."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def may_have_gpu(device: str) -> bool:
    """Whether the workers may train on CUDA, judged without importing torch here.

    "auto" looks for the NVIDIA driver's device files; a machine with them but no usable GPU
    gets one worker where it could have had one per core: slower, but still right.
    """
    if device == "auto":
        return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")
    return device.startswith("cuda")


def widen(conn: Any) -> None:
    """Give an answers pipe room for a class's round (Linux: 1 MiB instead of 64 KiB).

    Sixty clients' bars are about 18 KB a round, their continuations 33 KB, a look inside
    more: in 64 KiB, the thread that answers would wait whenever the web process's reader
    (short of a core in a busy class) fell a few rounds behind.
    """
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):  # another system, or a lower limit: the default size
        pass


@dataclass
class Move:
    """A running session on its way to another worker, and what was sent to it meanwhile."""

    target: int
    opened: Open | None  # its `open` as the old worker had it, to reopen it from the checkpoint
    waiting: list[Command] = field(default_factory=list)


class Engine:
    """Routes per-session commands to worker processes and their events to `on_event`."""

    def __init__(
        self,
        on_event: Callable[[dict], None],
        workers: int | None = None,
        device: str = "auto",
        checkpoint_s: float = 15.0,
        batching: str = "auto",
        answer_pipe: bool = True,
    ) -> None:
        self.on_event = on_event
        # False: answers share the events queue, as before (`benchmarks/answer_hop.py` compares).
        self.answer_pipe = answer_pipe
        self.checkpoint_s = checkpoint_s
        self.batching = batching  # "auto" (on a GPU), "on" or "off": see backend/engine/cohort.py
        # One worker on a GPU, so compatible sessions meet in one cohort (and one CUDA context).
        self.count = workers or (1 if may_have_gpu(device) else default_workers())
        self.device = device  # "auto" until the workers report what they found
        self.ready = threading.Semaphore(0)
        self.ctx = mp.get_context("spawn")  # fork would copy the web process's threads and locks
        self.queues: list[Any] = []  # control commands, per worker
        self.query_queues: list[Any] = []  # predictions and looks inside, per worker
        self.event_queues: list[Any] = []  # what each worker sends back
        self.procs: list[Any] = []
        self.readers: list[threading.Thread] = []
        self.answer_readers: list[threading.Thread | None] = []  # each worker's answers pipe
        self.reader_done: list[threading.Event] = []  # set: read what is left, then stop
        self.placement: dict[str, int] = {}
        self.opened: dict[str, Open] = {}  # each session's latest `open`, to reopen it elsewhere
        self.running: dict[str, int] = {}  # running sessions, by when they started
        self.started: dict[str, Start] = {}  # each running session's `start` (its budget)
        self.moving: dict[str, Move] = {}
        self.pending: dict[tuple[str, str], Query] = {}  # unanswered queries, by (client, op)
        self.restarts = 0  # workers replaced since start
        self.lost_at: dict[str, float] = {}  # when each session last lost its worker
        self.starts = count()
        self.lock = threading.Lock()
        self.stopping = False

    def start(self) -> None:
        for index in range(self.count):
            self._spawn(index)
        threading.Thread(target=self._supervise, name="engine-supervisor", daemon=True).start()
        for _ in range(self.count):  # workers import torch and report their device: wait for it
            if not self.ready.acquire(timeout=120):
                raise RuntimeError("training workers did not start")

    def _spawn(self, index: int) -> None:
        """Start worker `index` (in a dead one's place if there was one) and its reader."""
        commands, queries, events = self.ctx.Queue(), self.ctx.Queue(), self.ctx.Queue()
        answers_in, answers_out = self.ctx.Pipe(duplex=False) if self.answer_pipe else (None, None)
        args = (commands, queries, events, self.device, self.checkpoint_s, self.batching)
        proc = self.ctx.Process(target=worker.main, args=(*args, answers_out), daemon=True)
        proc.start()
        if answers_out is not None:
            answers_out.close()  # the worker holds the write end: its death reads as end of pipe
            widen(answers_in)
        done = threading.Event()
        reader = threading.Thread(
            target=self._read, args=(events, done), name=f"engine-reader-{index}", daemon=True
        )
        reader.start()
        answer_reader = None
        if answers_in is not None:
            answer_reader = threading.Thread(
                target=self._read_answers,
                args=(answers_in, done),
                name=f"engine-answers-{index}",
                daemon=True,
            )
            answer_reader.start()
        for row, item in (
            (self.queues, commands),
            (self.query_queues, queries),
            (self.event_queues, events),
            (self.procs, proc),
            (self.readers, reader),
            (self.answer_readers, answer_reader),
            (self.reader_done, done),
        ):
            if index < len(row):
                row[index] = item
            else:
                row.append(item)

    def stop(self) -> None:
        self.stopping = True
        for commands in self.queues:
            commands.put(Shutdown())
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():  # a worker stuck in a step: stop it, and make sure it is gone
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for done in self.reader_done:
            done.set()
        for q in self.queues + self.query_queues:
            q.cancel_join_thread()  # what a stopped worker never read must not hold up exit

    def _read(self, events: Any, done: threading.Event) -> None:
        """One worker's reader: hand each of its events on, in order, until `done` and drained.

        It polls instead of waiting for a sentinel: a worker killed while writing holds its
        queue's write lock for ever, so nothing can be put on that queue after it.
        """
        while True:
            try:
                event = events.get(timeout=READ_POLL_S)
            except queue.Empty:
                if done.is_set():
                    return
                continue
            except Exception:  # the queue breaks when the process shuts down
                return
            try:
                self._dispatch(event)
            except Exception:  # a bug in one event's bookkeeping must not stop every session
                log.exception("reading worker event %s failed", type(event).__name__)

    def _read_answers(self, answers: Any, done: threading.Event) -> None:
        """One worker's answers pipe: hand each answer on as it arrives, until the worker is gone.

        A worker that dies (even mid-write) closes its end, so the pipe reads as ended.
        """
        try:
            while True:
                if not answers.poll(READ_POLL_S):
                    if done.is_set():
                        return
                    continue
                event = answers.recv()
                try:
                    self._dispatch(event)
                except Exception:  # a bug in one answer's bookkeeping must not stop the rest
                    log.exception("reading worker answer %s failed", type(event).__name__)
        except (EOFError, OSError):  # the worker is gone: everything it sent was read
            return
        finally:
            answers.close()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Ready):
            self.device = event.device
            self.ready.release()
            return
        if isinstance(event, HandedOff):
            self._take_over(event.session)
            return
        if isinstance(event, Misrouted):
            self._resend(event.query)
            return
        self._note(event)
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception:  # one bad event must not stop every session's updates
            log.exception("handling worker event %s failed", type(event).__name__)

    def _note(self, event: Event) -> None:
        """Keep what a restart needs from an event: answered queries, steps, stopped runs."""
        session = event.session
        with self.lock:
            if isinstance(event, (Answered, Rejected)):
                # A refusal may name no seq; a second answer (the continuation that follows
                # the bars) finds nothing pending.
                asked = self.pending.get((event.client, event.op))
                if asked is not None and (event.seq is None or asked.seq <= event.seq):
                    del self.pending[(event.client, event.op)]
            elif isinstance(event, (Progress, Opened)):
                opened = self.opened.get(session)
                if opened is not None and opened.gen == event.gen:
                    # A new message (frozen): the old one may still be in flight.
                    self.opened[session] = replace(
                        opened, step=event.step, items_seen=event.items_seen
                    )
            elif isinstance(event, Failed) and event.op == "train":
                self.running.pop(session, None)  # the worker stopped training it

    # -- supervision ---------------------------------------------------------------------

    def _supervise(self) -> None:
        """Wait for a worker to die; replace it, reopen its sessions and tell who waited."""
        while not self.stopping:
            procs = list(self.procs)
            wait([proc.sentinel for proc in procs], timeout=1.0)
            for index, proc in enumerate(procs):
                if proc.exitcode is None or self.stopping:
                    continue
                try:
                    self._replace(index, proc)
                except Exception:  # could not start one (out of memory?): try again shortly
                    log.exception("replacing training worker %d failed", index)
                    time.sleep(1.0)

    def _replace(self, index: int, dead: Any) -> None:
        """Step 1 to 3 of a restart (see the module docstring)."""
        log.error(
            "training worker %d (pid %s) died (exit code %s); starting a new one",
            index,
            dead.pid,
            dead.exitcode,
        )
        dead_queues = (self.queues[index], self.query_queues[index], self.event_queues[index])
        self.reader_done[index].set()  # it reads what the worker sent before dying, then stops
        self.readers[index].join(timeout=5.0)
        answer_reader = self.answer_readers[index]
        if answer_reader is not None:  # the answers it sent before dying count as answered
            answer_reader.join(timeout=5.0)
        for dead_queue in dead_queues:  # nothing reads them any more: free their pipes
            dead_queue.cancel_join_thread()  # and never wait for them at exit
            dead_queue.close()
        with self.lock:
            self._spawn(index)
            self.restarts += 1
            lost = [s for s, where in self.placement.items() if where == index]
            refusals = self._refuse_pending(set(lost))
            notices = [self._reopen(session, index) for session in lost]
            self._rebalance()
        for event in refusals + [n for n in notices if n is not None]:
            self._deliver(event)

    def _reopen(self, session: str, index: int) -> WorkerLost | None:
        """Open a lost session again from its checkpoint; return the event for its owner."""
        handoff = self.moving.pop(session, None)
        if handoff is not None:  # it was leaving the dead worker: no `handed_off` will come
            self.placement[session] = handoff.target
        opened = self.opened.get(session)
        now = time.monotonic()
        again = now - self.lost_at.get(session, -REPEAT_S) < REPEAT_S
        self.lost_at[session] = now
        paused = again and self.running.pop(session, None) is not None
        if opened is not None:
            target = self.queues[self.placement[session]]
            weights = opened.weights
            if weights and Path(opened.checkpoint).exists():
                weights = None  # imported weights are in its checkpoint by now
            target.put(replace(opened, resume=True, weights=weights))
            if session in self.running:
                target.put(self.started.get(session, Start(session)))
        for message in handoff.waiting if handoff else []:
            self._route(message)
        if opened is None:
            return None
        message = "the training process stopped unexpectedly; the model was reopened from its "
        message += "last checkpoint" + (" and paused, as this happened twice" if paused else "")
        return WorkerLost(
            session=session,
            gen=opened.gen,
            code="worker_restarted",
            message=message,
            paused=paused,
            worker=index,
        )

    def _refuse_pending(self, lost: set[str]) -> list[Rejected]:
        """Refusals for every query still waiting for one of the `lost` sessions."""
        refusals = []
        for key, query in list(self.pending.items()):
            if query.session not in lost:
                continue
            del self.pending[key]
            opened = self.opened.get(query.session)
            refusals.append(
                Rejected(
                    session=query.session,
                    gen=opened.gen if opened else None,
                    client=query.client,
                    op=query.op,
                    seq=query.seq,
                    error={"code": "worker_restarted", "message": RESTARTED},
                )
            )
        return refusals

    def send(self, message: Command) -> None:
        """Queue a command or query for the worker that holds its session (placing it if new)."""
        with self.lock:
            self._track(message)
            handoff = self.moving.get(message.session)
            if handoff is not None:
                handoff.waiting.append(message)  # delivered once the new worker has it
                return
            self._route(message)
            if isinstance(message, (Start, Pause, Close)):
                self._rebalance()

    def _track(self, message: Command) -> None:
        """Keep what a move needs: the latest `open` and which sessions are running."""
        session = message.session
        if isinstance(message, Open):
            self.opened[session] = message
        elif isinstance(message, Configure) and session in self.opened:
            # Reopened elsewhere with today's settings.
            self.opened[session] = replace(self.opened[session], config=message.config)
        if isinstance(message, Start):
            self.running[session] = next(self.starts)
            self.started[session] = message
        elif isinstance(message, (Open, Pause, Step, Close)):
            self.running.pop(session, None)
            self.started.pop(session, None)
        if isinstance(message, Close):
            self.opened.pop(session, None)
            for key in [k for k, m in self.pending.items() if m.session == session]:
                del self.pending[key]

    def _route(self, message: Command) -> None:
        """Put a message on its session's worker's queue (callers hold the lock)."""
        session = message.session
        index = self.placement.get(session)
        if index is None:
            index = self._least_loaded()
            self.placement[session] = index
        if isinstance(message, Close):
            del self.placement[session]
        if isinstance(message, Query):
            self.pending[(message.client, message.op)] = message
            self.query_queues[index].put(message)
        else:
            self.queues[index].put(message)

    def running_per_worker(self) -> list[int]:
        """How many running sessions each worker trains (a moving one counts where it goes)."""
        with self.lock:
            return self._running_load()

    def _running_load(self) -> list[int]:
        load = [0] * self.count
        for session in self.running:
            handoff = self.moving.get(session)
            where = handoff.target if handoff else self.placement.get(session)
            if where is not None:
                load[where] += 1
        return load

    def _rebalance(self) -> None:
        """Move running sessions off the busiest worker while it has 2 or more than another."""
        while True:
            load = self._running_load()
            busiest, idlest = load.index(max(load)), load.index(min(load))
            if load[busiest] - load[idlest] < 2:
                return
            # The session that started there last has the least training to interrupt.
            candidates = [
                (started, s)
                for s, started in self.running.items()
                if s not in self.moving and self.placement.get(s) == busiest
            ]
            if not candidates:
                return
            _, session = max(candidates)
            self.moving[session] = Move(idlest, self.opened.get(session))
            self.queues[busiest].put(Handoff(session))

    def _take_over(self, session: str) -> None:
        """Step 3 of a move: the new worker opens the session, starts it, gets what waited."""
        with self.lock:
            handoff = self.moving.pop(session, None)
            if handoff is None or session not in self.placement:
                return
            self.placement[session] = handoff.target
            opened = handoff.opened
            if opened is not None:
                # From the checkpoint just written; imported weights are in it already.
                self.queues[handoff.target].put(replace(opened, resume=True, weights=None))
                if session in self.running:
                    self.queues[handoff.target].put(self.started.get(session, Start(session)))
            for message in handoff.waiting:
                self._route(message)

    def _resend(self, message: Query) -> None:
        """A query that reached the old worker after its session had moved: route it again."""
        session = message.session
        with self.lock:
            handoff = self.moving.get(session)
            if handoff is not None:
                handoff.waiting.append(message)
            elif session in self.placement:  # not closed meanwhile
                self._route(message)

    def _least_loaded(self) -> int:
        load = [0] * self.count
        for index in self.placement.values():
            load[index] += 1
        return load.index(min(load))

    def alive(self) -> bool:
        return bool(self.procs) and all(p.is_alive() for p in self.procs)
