"""What the worker's individual operations cost, to explain the end-to-end figures.

A training worker is one thread that does one thing at a time: a training step, a
validation pass (every VALIDATE_EVERY_S of a session's running time), a 240-character
sample (every SAMPLE_EVERY_S), a gradient-flow diagnostic (every DIAGNOSE_EVERY_S, where
the backend has one), or a prediction. This module times each with the backend's
own `Trainer`, in this process on one torch thread, interleaved and repeated (medians):

- the periodic passes' share of a session's time is the overhead that training through the
  playground adds over a plain loop, whatever the server and socket do;
- a prediction waits for the step in progress (a worker never interrupts one), so the step
  time of the sessions sharing its worker bounds keystroke latency from below, and the
  prediction's own time (mostly its 2 x 120 one-character continuation passes) adds to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from benchmarks.common import BENCH_MODEL, CORPUS, UI_DEFAULT_MODEL, median

QUERY = "The fishermen came back to the village at dusk, and the women were waiting on the quay "


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def operation_costs(config: dict, repeats: int) -> dict[str, float]:
    """Median milliseconds of each worker operation for a model with these settings."""
    from backend import corpora
    from backend.config import TrainConfig
    from backend.core.training import Trainer
    from backend.engine import worker
    from backend.tasks.text.task import TextTask

    trainer = Trainer(TextTask.from_text(corpora.load(CORPUS)), TrainConfig(**config))
    # Each periodic pass, with how often (seconds of a session's running time) it runs.
    periodic: dict[str, tuple[Callable[[], object], float]] = {
        "validate_ms": (trainer.evaluate, worker.VALIDATE_EVERY_S),
        "sample_ms": (
            lambda: trainer.sample(worker.SAMPLE_LENGTH, trainer.cfg.temperature),
            worker.SAMPLE_EVERY_S,
        ),
    }
    if hasattr(trainer, "gradient_flow") and hasattr(worker, "DIAGNOSE_EVERY_S"):
        periodic["gradient_flow_ms"] = (trainer.gradient_flow, worker.DIAGNOSE_EVERY_S)
    ops: dict[str, Callable[[], object]] = {
        "step_ms": trainer.step,
        **{name: fn for name, (fn, _) in periodic.items()},
        "predict_len120_ms": lambda: trainer.task.predict(
            trainer.model, QUERY[:100], k=5, length=120
        ),
        "predict_len0_ms": lambda: trainer.task.predict(trainer.model, QUERY[:100], k=5, length=0),
    }
    for fn in ops.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            times[name].append(timed(fn))
    costs = {name: round(median(ms), 2) for name, ms in times.items()}
    share = sum(costs[name] / 1000 / every for name, (_, every) in periodic.items())
    costs["periodic_share"] = round(share, 4)  # of a session's running time
    return costs


def inspect_budget(repeats: int) -> dict[str, float]:
    """The internals issue's budget case: all gates of a 2-layer, 256-unit LSTM over 200
    characters, computed (`inspect_text`: trace, saliency, top-k) and packed for the wire."""
    from backend import corpora
    from backend.config import TrainConfig
    from backend.core.internals import inspect_text
    from backend.core.training import Trainer
    from backend.tasks.text.task import TextTask

    text = corpora.load(CORPUS)
    cfg = TrainConfig(model="lstm", hidden_size=256, num_layers=2)
    trainer = Trainer(TextTask.from_text(text), cfg)
    query = text[1000:1200]
    vocab = trainer.dataset.vocab
    run = lambda: inspect_text(trainer.model, vocab, query, with_saliency=False)  # noqa: E731
    with_saliency = lambda: inspect_text(trainer.model, vocab, query)  # noqa: E731
    result = run()  # warm-up, and the payload to size
    with_saliency()
    binary = len(result["data"])  # every tensor's bytes travel in this one buffer
    return {
        "inspect_200x256x2_ms": round(median([timed(run) for _ in range(repeats)]), 2),
        "inspect_200x256x2_saliency_ms": round(
            median([timed(with_saliency) for _ in range(repeats)]), 2
        ),
        "inspect_200x256x2_binary_kb": round(binary / 1024, 1),
    }


def measure_diagnostics(repeats: int) -> dict:
    """Operation costs for the benchmark model and for the class's default model."""
    torch.set_num_threads(1)
    return {
        "bench_model": operation_costs(BENCH_MODEL, repeats),
        "ui_default_model": operation_costs(UI_DEFAULT_MODEL, repeats),
        "inspect_budget": inspect_budget(max(3, repeats)),
    }
