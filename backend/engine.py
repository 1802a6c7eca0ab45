"""The web process's handle on the training workers.

`Engine` starts a few worker processes (about one per core), places each session on the
least-loaded one, forwards commands to it and hands every event the workers send back to a
single callback, on one reader thread. It imports no torch: the web process stays small.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
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
            try:
                self.on_event(event)
            except Exception:  # one bad event must not stop every session's updates
                log.exception("handling worker event %s failed", event.get("type"))

    def send(self, session: str, op: str, **payload: Any) -> None:
        """Queue a command for the worker that holds `session` (placing it if new)."""
        with self.lock:
            index = self.placement.get(session)
            if index is None:
                index = self._least_loaded()
                self.placement[session] = index
            if op == "close":
                del self.placement[session]
        queues = self.query_queues if op in worker.QUERIES else self.queues
        queues[index].put({"op": op, "session": session, **payload})

    def _least_loaded(self) -> int:
        load = [0] * self.count
        for index in self.placement.values():
            load[index] += 1
        return load.index(min(load))

    def alive(self) -> bool:
        return bool(self.procs) and all(p.is_alive() for p in self.procs)
