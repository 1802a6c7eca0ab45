"""Many sessions on one device: separate steps vs one cohort step, and 32 sessions on a server.

`measure_cohort` runs in-process on whatever device there is (the CPU here, CUDA where
present): S sessions of `BENCH_MODEL` stepped one after the other as separate `Trainer`s
(what a worker does without cohorts) against the same S trained as one `Cohort`
(stacked weights, batched products), alternating, in the same run.

`measure_gpu` needs CUDA: 32 sessions on a real server whose worker batches them, with
their total characters/s and how evenly they share it. On a CPU-only machine its figures are
null and `gpu_note` says why.
"""

from __future__ import annotations

import time

import torch

from backend.config import TrainConfig
from backend.core.data import TextDataset
from backend.core.training import Trainer
from backend.engine.cohort import Cohort, rnn_uses_tf32
from backend.tasks.text.task import TextTask
from benchmarks.common import (
    BENCH_MODEL,
    CORPUS_FILE,
    Mode,
    log,
    median,
    rounded,
    spread,
)
from benchmarks.server import (
    close_all,
    open_session,
    pause_all,
    running_server,
    start_all,
    steady_window,
)

CPU_COHORT = 4  # members in the in-process comparison on a CPU (32 on a GPU)


def rate(step: object, chars_per_call: int, seconds: float, sync: object) -> float:
    """Characters/s of calling `step` repeatedly for about `seconds` (after one warm-up call)."""
    step()
    sync()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        calls += 1
    sync()
    return calls * chars_per_call / (time.perf_counter() - started)


def measure_cohort(mode: Mode) -> dict:
    """Chars/s of S sessions stepped separately vs as one cohort, on this process's device."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    S = mode.gpu_sessions if device == "cuda" else CPU_COHORT
    torch.set_num_threads(1)
    dataset = TextDataset.from_text(CORPUS_FILE.read_text())
    cfg = TrainConfig(**BENCH_MODEL)
    separate = [Trainer(TextTask(dataset), cfg.replace(seed=s), device=device) for s in range(S)]
    together = [Trainer(TextTask(dataset), cfg.replace(seed=s), device=device) for s in range(S)]
    cohort = Cohort(together)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    chars = S * cfg.batch_size * cfg.seq_len
    seconds = mode.window_s / 2

    def one_by_one() -> None:
        for trainer in separate:
            trainer.step()

    rates: dict[str, list[float]] = {"separate": [], "cohort": []}
    for _ in range(mode.rounds):
        rates["separate"].append(rate(one_by_one, chars, seconds, sync))
        rates["cohort"].append(rate(cohort.step, chars, seconds, sync))
    sep, coh = median(rates["separate"]), median(rates["cohort"])
    log(f"cohort of {S} on {device}: {coh:,.0f} chars/s vs {sep:,.0f} stepped one by one")
    return {
        "cohort_device": device,
        "cohort_sessions": S,
        "cohort_tf32": device == "cuda" and rnn_uses_tf32(),
        "cohort_graphed": cohort.graphed,
        "cohort_chars_per_s": rounded(coh),
        "separate_chars_per_s": rounded(sep),
        "cohort_vs_separate": rounded(coh / sep, 3),
    }


def measure_gpu(mode: Mode) -> dict:
    """Sessions x total characters/s on a CUDA server: 1, 8 and `mode.gpu_sessions` at once.

    The sessions share one cohort (same settings, as a class's forks do); the headline
    figures are those of the largest count, with how evenly its sessions shared the GPU.
    """
    if not torch.cuda.is_available():
        return {
            "gpu_sessions": None,
            "gpu_total_chars_per_s": None,
            "gpu_note": "skipped: torch.cuda.is_available() is False on this machine",
        }
    scaling = []
    with running_server(DEVICE="cuda") as server:
        for count in sorted({1, 8, mode.gpu_sessions}):
            sessions = [open_session(server, BENCH_MODEL) for _ in range(count)]
            try:
                start_all(sessions)
                window = steady_window(server, sessions, 2 * mode.warmup_s, mode.window_s)
                pause_all(sessions)
            finally:
                close_all(sessions)
            total = sum(window.rates)
            log(f"GPU: {count} sessions, {total:,.0f} chars/s in all")
            scaling.append(
                {
                    "sessions": count,
                    "total_chars_per_s": rounded(total),
                    "slowest_over_fastest": rounded(spread(window.rates), 3),
                }
            )
    largest = scaling[-1]
    return {
        "gpu_sessions": largest["sessions"],
        "gpu_total_chars_per_s": largest["total_chars_per_s"],
        "gpu_slowest_over_fastest": largest["slowest_over_fastest"],
        "gpu_scaling": scaling,
        "gpu_device": torch.cuda.get_device_name(0),
    }
