"""A new model's head start: `python -m benchmarks.head_start [seeds...]`.

The class figure `time_to_2bpc_s` is for a default session trained with 3 others on the
server's 2 workers, so the session shares one worker's core with one other. This runs that
worker's scheduler in-process (`Worker.train_one`, one torch thread, no web process), with
two default sessions on the text task's default text: one that has trained a while (its
head start spent) and a new one, from step 0, whose validation is watched. Two processes run
at once, one with the head start (`HEAD_START_WEIGHT`) and one without, so both see the same
load, as the server's two workers would. Each reports, for the new session, the seconds
from its first step until its validation first reaches `TARGET_BITS`, the validation it
showed by `SHOWN_AT_S`, and what the other session got meanwhile (its steps and CPU
seconds in the same time): the head start's cost.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import sys
import time

TARGET_BITS = 2.0
SHOWN_AT_S = 30.0
LIMIT_S = 240.0


class Outbox:
    """The worker's events go nowhere: the slots keep what is measured here."""

    def put(self, event: object) -> None:
        pass


def run(seed: int, head_start: bool, out: mp.Queue) -> None:
    """One worker, two default sessions: the figures of the new one and its neighbour's cost."""
    import torch

    from backend import corpora
    from backend.config import parse
    from backend.core.training import Trainer
    from backend.engine import worker
    from backend.tasks.text.spec import SPEC
    from backend.tasks.text.task import TextTask

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    w = worker.Worker(None, None, Outbox(), "cpu", checkpoint_s=math.inf)
    task = TextTask.from_text(corpora.load(SPEC.default_source["corpus"]))
    for sid, s in (("old", seed + 100), ("new", seed)):
        cfg = parse({**SPEC.default_config, "seed": s})
        w.slots[sid] = worker.Slot(Trainer(task, cfg), gen=1, running=True)
    old, new = w.slots["old"], w.slots["new"]
    for _ in range(20):  # the neighbour has trained before: its first validation is behind it
        w.train_one()
    old.head_start_s = 0.0
    new.head_start_s = worker.HEAD_START_S if head_start else 0.0
    new.used_s = old.used_s  # as `fair_start` puts it level when it starts
    old_steps, old_cpu = old.trainer.step_count, old.used_s
    started = time.perf_counter()
    took, shown, seen = math.nan, math.nan, 0
    while (elapsed := time.perf_counter() - started) < LIMIT_S:
        w.train_one()
        for _, bits in new.val_points[seen:]:
            if elapsed <= SHOWN_AT_S:
                shown = bits
            if math.isnan(took) and bits is not None and bits <= TARGET_BITS:
                took = elapsed
        seen = len(new.val_points)
        if not math.isnan(took) and elapsed > SHOWN_AT_S:
            break
    out.put(
        {
            "head_start": head_start,
            "seed": seed,
            "time_to_2bpc_s": round(took, 1),
            "bits_at_30s": shown,
            "new_steps": new.trainer.step_count,
            "old_steps": old.trainer.step_count - old_steps,
            "old_cpu_s": round(old.used_s - old_cpu, 1),
            "wall_s": round(time.perf_counter() - started, 1),
        }
    )


def main() -> None:
    seeds = [int(x) for x in sys.argv[1:]] or [0, 1]
    ctx = mp.get_context("spawn")
    for seed in seeds:
        out = ctx.Queue()
        procs = [ctx.Process(target=run, args=(seed, on, out)) for on in (True, False)]
        load = os.getloadavg()[0]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=LIMIT_S + 120) for _ in procs]
        for proc in procs:
            proc.join()
        for result in results:
            print(json.dumps({**result, "load_start": load, "load_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
