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
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from backend import worker

log = logging.getLogger(__name__)


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


@dataclass
class Handoff:
    """A running session on its way to another worker, and what was sent to it meanwhile."""

    target: int
    opened: dict | None  # its `open` as the old worker had it, to reopen it from the checkpoint
    waiting: list[dict] = field(default_factory=list)


class Engine:
    """Routes per-session commands to worker processes and their events to `on_event`."""

    def __init__(
        self,
        on_event: Callable[[dict], None],
        workers: int | None = None,
        device: str = "auto",
        checkpoint_s: float = 15.0,
        batching: str = "auto",
    ) -> None:
        self.on_event = on_event
        self.checkpoint_s = checkpoint_s
        self.batching = batching  # "auto" (on a GPU), "on" or "off": see backend/cohort.py
        # One worker on a GPU, so compatible sessions meet in one cohort (and one CUDA context).
        self.count = workers or (1 if may_have_gpu(device) else default_workers())
        self.device = device  # "auto" until the workers report what they found
        self.ready = threading.Semaphore(0)
        self.ctx = mp.get_context("spawn")  # fork would copy the web process's threads and locks
        self.events: Any = self.ctx.Queue()
        self.queues: list[Any] = []  # control commands, per worker
        self.query_queues: list[Any] = []  # predictions and looks inside, per worker
        self.procs: list[Any] = []
        self.placement: dict[str, int] = {}
        self.opened: dict[str, dict] = {}  # each session's latest `open`, to reopen it elsewhere
        self.running: dict[str, int] = {}  # running sessions, by when they started
        self.moving: dict[str, Handoff] = {}
        self.starts = count()
        self.lock = threading.Lock()
        self.reader: threading.Thread | None = None

    def start(self) -> None:
        for _ in range(self.count):
            commands, queries = self.ctx.Queue(), self.ctx.Queue()
            proc = self.ctx.Process(
                target=worker.main,
                args=(
                    commands,
                    queries,
                    self.events,
                    self.device,
                    self.checkpoint_s,
                    self.batching,
                ),
                daemon=True,
            )
            proc.start()
            self.queues.append(commands)
            self.query_queues.append(queries)
            self.procs.append(proc)
        self.reader = threading.Thread(target=self._read, name="engine-reader", daemon=True)
        self.reader.start()
        for _ in range(self.count):  # workers import torch and report their device: wait for it
            if not self.ready.acquire(timeout=120):
                raise RuntimeError("training workers did not start")

    def stop(self) -> None:
        for commands in self.queues:
            commands.put({"op": "shutdown"})
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self.events.put(None)

    def _read(self) -> None:
        while True:
            try:
                event = self.events.get()
            except Exception:  # the queue breaks when the process shuts down
                return
            if event is None:
                return
            if event["type"] == "ready":
                self.device = event["device"]
                self.ready.release()
                continue
            if event["type"] == "handed_off":
                self._take_over(event["session"])
                continue
            if event["type"] == "misrouted":
                self._resend(event["query"])
                continue
            if event["type"] == "failed" and event.get("op") == "train":
                with self.lock:  # the worker stopped training it
                    self.running.pop(event["session"], None)
            try:
                self.on_event(event)
            except Exception:  # one bad event must not stop every session's updates
                log.exception("handling worker event %s failed", event.get("type"))

    def send(self, session: str, op: str, **payload: Any) -> None:
        """Queue a command for the worker that holds `session` (placing it if new)."""
        message = {"op": op, "session": session, **payload}
        with self.lock:
            self._track(message)
            handoff = self.moving.get(session)
            if handoff is not None:
                handoff.waiting.append(message)  # delivered once the new worker has it
                return
            self._route(message)
            if op in ("start", "pause", "close"):
                self._rebalance()

    def _track(self, message: dict) -> None:
        """Keep what a move needs: the latest `open` and which sessions are running."""
        session, op = message["session"], message["op"]
        if op == "open":
            self.opened[session] = message
        if op == "start":
            self.running[session] = next(self.starts)
        elif op in ("open", "pause", "step", "close"):
            self.running.pop(session, None)
        if op == "close":
            self.opened.pop(session, None)

    def _route(self, message: dict) -> None:
        """Put a message on its session's worker's queue (callers hold the lock)."""
        session = message["session"]
        index = self.placement.get(session)
        if index is None:
            index = self._least_loaded()
            self.placement[session] = index
        if message["op"] == "close":
            del self.placement[session]
        queues = self.query_queues if message["op"] in worker.QUERIES else self.queues
        queues[index].put(message)

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
            self.moving[session] = Handoff(idlest, self.opened.get(session))
            self.queues[busiest].put({"op": "handoff", "session": session})

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
                self.queues[handoff.target].put({**opened, "resume": True, "weights": None})
                if session in self.running:
                    self.queues[handoff.target].put({"op": "start", "session": session})
            for message in handoff.waiting:
                self._route(message)

    def _resend(self, message: dict) -> None:
        """A query that reached the old worker after its session had moved: route it again."""
        session = message["session"]
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
