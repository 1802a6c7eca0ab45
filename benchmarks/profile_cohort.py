"""Where a cohort step's time goes on this device: `python -m benchmarks.profile_cohort [S]`.

Variants of one training step for S sessions of `BENCH_MODEL`, each timed for a few seconds:
  cohort          Cohort.step as the worker runs it (on CUDA: forward and backward replayed
                  as a CUDA graph, TF32 products as cuDNN uses them)
  cohort_eager    the same launched kernel by kernel (CUDA only)
  cohort_fp32     the same with float32 products (CUDA only)
  one_model       the plain PyTorch loop (`training.PlainLoop`) with batch S*B: one nn.LSTM
                  (cuDNN on CUDA), the ceiling a single big model reaches on these characters
then the operators that take the most device and host time in a few cohort steps.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import torch

from backend.config import TrainConfig
from backend.core.data import TextDataset
from backend.core.training import Trainer
from backend.engine.cohort import Cohort
from backend.tasks.text.task import TextTask
from benchmarks.common import BENCH_MODEL, CORPUS_FILE
from benchmarks.gpu import rate
from benchmarks.training import PlainLoop

SECONDS = 3.0  # each variant's timing window


def report(name: str, chars_per_s: float, chars_per_step: int) -> None:
    ms = 1e3 * chars_per_step / chars_per_s
    print(f"{name:16s} {chars_per_s / 1e6:8.2f} M chars/s  {ms:8.2f} ms/step", flush=True)


def main() -> None:
    S = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    dataset = TextDataset.from_text(CORPUS_FILE.read_text())
    cfg = TrainConfig(**BENCH_MODEL)
    chars = S * cfg.batch_size * cfg.seq_len
    print(f"device {torch.cuda.get_device_name(0) if cuda else 'cpu'}, torch {torch.__version__}")
    print(f"S={S}, V={dataset.vocab.size}, chars per cohort step {chars}")

    def fresh(**options: bool) -> Cohort:
        trainers = [
            Trainer(TextTask(dataset), cfg.replace(seed=s), device=device) for s in range(S)
        ]
        return Cohort(trainers, **options)

    variants: dict[str, Callable[[], Callable[[], object]]] = {"cohort": lambda: fresh().step}
    if cuda:
        variants["cohort_eager"] = lambda: fresh(graphs=False).step
        variants["cohort_fp32"] = lambda: fresh(tf32=False).step
    for name, build in variants.items():
        try:
            report(name, rate(build(), chars, SECONDS, sync), chars)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next variant
            print(f"{name:16s} failed: {type(exc).__name__}: {exc}", flush=True)
    big = PlainLoop(dataset.text, {**BENCH_MODEL, "batch_size": S * cfg.batch_size}, device=device)
    report("one_model", big.rate(SECONDS)[0], S * cfg.batch_size * cfg.seq_len)

    cohort = fresh(graphs=False)  # kernel by kernel, so the profile names them
    for _ in range(2):
        cohort.step()
    sync()
    first = cohort.trainers[0]
    B, T = first.cfg.batch_size, first.cfg.seq_len
    draws = [first.dataset.batch(B, T, first.generator) for _ in range(S)]
    started = time.perf_counter()
    for t in cohort.trainers:
        t.dataset.batch(B, T, t.generator)
    print(f"drawing {S} batches on the host: {1e3 * (time.perf_counter() - started):.2f} ms")
    x = torch.stack([d[0] for d in draws]).to(device)
    y = torch.stack([d[1] for d in draws]).to(device)
    cps = rate(lambda: cohort.gradients(x, y), chars, SECONDS, sync)
    print(f"forward + backward alone: {1e3 * chars / cps:.2f} ms")
    activities = [torch.profiler.ProfilerActivity.CPU]
    if cuda:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(3):
            cohort.step()
        sync()
    sort = "cuda_time_total" if cuda else "cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=18))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
