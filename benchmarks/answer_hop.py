"""A keystroke's way back from the worker, and the worker's budget for answering.

    python -m benchmarks.answer_hop [clients] [rounds] [sides]     # 60 3 clock by default

The class benchmark (`benchmarks/classroom.py`) runs a server, 60 Socket.IO clients and 4
training sessions on the same cores, so its figures move with everything else the machine
does. This one keeps only the hop it is about: one `Engine` with one worker training the
default model, and `clients` pages typing at `KEYS_PER_S` straight into the engine, each
with one `predict` in flight and the latest text sent when the answer is back (as the page's
pacer does). Two engines are started and their rounds alternate, so both see the same load;
`sides` says which (`SIDES`): `pipe` compares answers on the events queue (the path before
stop 14) with the answers' own pipe, `clock` (the default) the answering budget on the wall
clock (half a core, before stop 15) with the budget on what training gets, `gather` rounds
answered at once with rounds that wait `GATHER_S` for more clients. Per round and side:

- keystroke p50/p99: from a key press to the first bars answering a query sent after it;
- round trip p50/p99: from a query leaving here to its bars arriving here;
- training share: steps/s while the clients type over steps/s just before, with nobody typing;
- the worker's cores while they type (CPU seconds of its process over wall seconds).

The reader here turns each answer into JSON, as the web process's emit does. Every wait is
bounded; torch has one thread in the workers.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import TrainConfig
from backend.engine.messages import Answered, Event, Open, Opened, Pause, Progress, Query, Start
from backend.engine.pool import Engine
from benchmarks.common import CORPUS_FILE, UI_DEFAULT_MODEL, percentile

KEYS_PER_S = 8.0
WARMUP_S = 3.0  # training after a start before the quiet window (first validation, snapshot)
QUIET_S = 3.0  # steps/s with nobody typing
TYPING_S = 10.0  # the clients type for this long
RETRY_S = 5.0  # the page presumes a query lost after this long
FIELDS = {"k": 5, "temperature": 0.8, "length": 120}  # what the page asks for
# Each side: (name, answers on their own pipe, the worker's environment).
SIDES = {
    "pipe": [("queue", False, {}), ("pipe", True, {})],
    "clock": [
        ("wall", True, {"PLAYGROUND_QUERY_CLOCK": "wall"}),
        ("training", True, {"PLAYGROUND_QUERY_CLOCK": "training"}),
    ],
    "gather": [
        ("at_once", True, {"PLAYGROUND_QUERY_GATHER_S": "0"}),
        ("gather", True, {}),
    ],
}


@dataclass
class Page:
    """One client typing: keys pressed, one query in flight, each key timed to its answer."""

    name: str
    text: str
    typed: str = ""
    seq: int = 0
    in_flight: tuple[int, float] | None = None
    dirty: bool = False
    presses: list[float] = field(default_factory=list)
    covering: dict[int, list[float]] = field(default_factory=dict)
    keys_ms: list[float] = field(default_factory=list)
    trips_ms: list[float] = field(default_factory=list)


class Bench:
    """One engine, one training session, the pages that type at it."""

    def __init__(self, name: str, pipe: bool, env: dict[str, str], folder: Path) -> None:
        self.name, self.folder, self.env = name, folder, env
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.steps: list[tuple[float, int]] = []  # (time, step) from progress
        self.pages: dict[str, Page] = {}
        self.engine = Engine(self.on_event, workers=1, device="cpu", answer_pipe=pipe)

    def start(self, text: str) -> None:
        saved = dict(os.environ)
        os.environ.update(self.env)  # read by the workers it spawns
        try:
            self.engine.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        config = TrainConfig(**UI_DEFAULT_MODEL).to_dict()
        source = {"corpus": "upload", "text": text}
        checkpoint = str(self.folder / f"{self.name}.safetensors")
        self.engine.send(Open("s", 1, "text", source, config, checkpoint=checkpoint))
        if not self.opened.wait(120):
            raise RuntimeError("the session did not open")

    def on_event(self, event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, Opened):
            self.opened.set()
        elif isinstance(event, Progress):
            with self.lock:
                self.steps.append((now, event.step))
        elif isinstance(event, Answered) and not event.result.get("continued"):
            json.dumps(event.result)  # as the web process's emit serialises it
            with self.lock:
                page = self.pages.get(event.client)
                if page is not None:
                    self.answered(page, event.seq, now)

    def answered(self, page: Page, seq: int, now: float) -> None:
        for s in [s for s in page.covering if s <= seq]:
            page.keys_ms += [(now - t) * 1e3 for t in page.covering.pop(s)]
        if page.in_flight and seq >= page.in_flight[0]:
            page.trips_ms.append((now - page.in_flight[1]) * 1e3)
            page.in_flight = None
        self.pump(page)

    def pump(self, page: Page) -> None:
        """Send the page's latest text if nothing is in flight (callers hold the lock)."""
        now = time.perf_counter()
        if not page.dirty or (page.in_flight and now - page.in_flight[1] < RETRY_S):
            return
        page.seq += 1
        page.in_flight, page.dirty = (page.seq, now), False
        page.covering[page.seq] = page.presses
        page.presses = []
        fields = {**FIELDS, "seq": page.seq, "text": page.typed}
        self.engine.send(Query("s", "predict", page.name, page.seq, fields=fields))

    def key(self, page: Page) -> None:
        with self.lock:
            page.typed = (page.typed + page.text[len(page.typed) % len(page.text)])[-900:]
            page.presses.append(time.perf_counter())
            page.dirty = True
            self.pump(page)

    def rate(self, start: float, end: float) -> float:
        with self.lock:
            inside = [(t, s) for t, s in self.steps if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, s0), (t1, s1) = inside[0], inside[-1]
        return (s1 - s0) / (t1 - t0)

    def round(self, clients: int, text: str, rng: random.Random) -> dict:
        """Train, measure the quiet rate, then type; the figures of this round."""
        self.engine.send(Start("s"))
        time.sleep(WARMUP_S)
        quiet_start = time.perf_counter()
        time.sleep(QUIET_S)
        quiet = self.rate(quiet_start, time.perf_counter())
        with self.lock:
            self.pages = {}
            for i in range(clients):
                at = rng.randrange(len(text))
                self.pages[f"c{i}"] = Page(f"c{i}", text[at:] + text[:at])
        typing_start, cpu = time.perf_counter(), worker_cpu(self.engine)
        type_for(self, list(self.pages.values()), TYPING_S)
        typing_end = time.perf_counter()
        typing = self.rate(typing_start, typing_end)
        after = worker_cpu(self.engine)
        cores = {
            tid: round((used - cpu.get(tid, 0.0)) / (typing_end - typing_start), 2)
            for tid, used in after.items()
        }
        self.engine.send(Pause("s"))
        time.sleep(0.5)  # answers still on their way are not counted in the next round
        with self.lock:
            keys = [ms for p in self.pages.values() for ms in p.keys_ms]
            trips = [ms for p in self.pages.values() for ms in p.trips_ms]
            self.pages = {}
        return {
            "key_p50": percentile(keys, 50),
            "key_p99": percentile(keys, 99),
            "trip_p50": percentile(trips, 50),
            "trip_p99": percentile(trips, 99),
            "answers": len(trips),
            "share": typing / quiet if quiet else float("nan"),
            "train_cores": cores.pop(self.engine.procs[0].pid),
            "other_cores": sum(cores.values()),
            "busiest_others": sorted(cores.values(), reverse=True)[:3],
        }


def worker_cpu(engine: Engine) -> dict[int, float]:
    """CPU seconds each thread of the engine's worker has used, by thread id: its training
    thread is the process's main thread; the others answer, or feed the queues."""
    pid = engine.procs[0].pid
    return {
        int(tid.name): thread_cpu_seconds(pid, int(tid.name))
        for tid in Path(f"/proc/{pid}/task").iterdir()
    }


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """utime + stime of one thread, from /proc."""
    fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def type_for(bench: Bench, pages: list[Page], seconds: float) -> None:
    """Every page presses a key at KEYS_PER_S, each with its own phase."""
    period = 1.0 / KEYS_PER_S
    start = time.perf_counter()
    due = [start + random.uniform(0, period) for _ in pages]
    while (now := time.perf_counter()) < start + seconds:
        for i, page in enumerate(pages):
            if now >= due[i]:
                bench.key(page)
                due[i] += period
            with bench.lock:
                bench.pump(page)  # a lost query is sent again, as the page does
        time.sleep(max(0.0, min(due) - time.perf_counter()))


def main() -> None:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sides = SIDES[sys.argv[3] if len(sys.argv) > 3 else "clock"]
    text = CORPUS_FILE.read_text(encoding="utf-8")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        benches = [Bench(name, pipe, env, Path(folder)) for name, pipe, env in sides]
        for bench in benches:
            bench.start(text)
        try:
            for r in range(rounds):
                for bench in benches if r % 2 == 0 else benches[::-1]:
                    figures = bench.round(clients, text, rng)
                    shown = {
                        k: v if isinstance(v, list) else round(v, 2) for k, v in figures.items()
                    }
                    load = os.getloadavg()[0]
                    print(f"round {r} {bench.name:5s} load {load:.1f} {shown}", flush=True)
        finally:
            for bench in benches:
                bench.engine.stop()


if __name__ == "__main__":
    main()
