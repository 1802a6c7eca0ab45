"""What every measurement shares: run settings, the model settings, logging and statistics."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.tasks.text.spec import SPEC as TEXT_SPEC

ROOT = Path(__file__).resolve().parent.parent
CORPUS = "english"
CORPUS_FILE = ROOT / "backend" / "corpora" / "english.txt"

# The model whose training speed is compared (plain PyTorch, the playground, the JS reference).
# Everything not named here is the playground's default: Adam at lr 3e-3, clipping at norm 1.0.
BENCH_MODEL: dict = {
    "model": "lstm",
    "hidden_size": 256,
    "num_layers": 1,
    "batch_size": 64,
    "seq_len": 100,
}
LEARNING_RATE = 3e-3
CLIP_NORM = 1.0

# What a class runs: the text task's defaults (LSTM 128, one layer, lr 2e-2, batch 8, seq 128,
# on Jane Austen's novels), the settings a page that sends none gets. Spelled out, so the
# in-process benchmarks (`TrainConfig(**UI_DEFAULT_MODEL)`) build that model too, not the
# schema's defaults (two layers, batch 32), as they did before stop 15.
UI_DEFAULT_MODEL: dict = dict(TEXT_SPEC.default_config)

# The model the memory figure is about (the rest at the schema's defaults).
MEMORY_MODEL: dict = {"model": "lstm", "hidden_size": 256, "num_layers": 2}


@dataclass(frozen=True)
class Mode:
    """How long and how often to measure; quick mode fits in about two minutes."""

    name: str
    rounds: int  # alternating rounds of the sides of a comparison; medians are reported
    warmup_s: float  # training skipped after a session's first start (first validation etc.)
    resume_s: float  # training skipped after a resume, before a window opens
    window_s: float  # length of a steady throughput window (longer if progress is sparse)
    keystrokes: int  # sequential queries per kind (length 120, length 0, echo)
    memory_sessions: int  # sessions loaded for the memory figure
    js_seconds: float  # how long the JavaScript reference trains per round
    js_batch: int  # its batch size (its characters/s does not depend on it: one row at a time)
    diagnostic_repeats: int
    gpu_sessions: int = 32


QUICK = Mode(
    "quick",
    rounds=3,
    warmup_s=1.0,
    resume_s=0.5,
    window_s=2.0,
    keystrokes=25,
    memory_sessions=8,
    js_seconds=2.0,
    js_batch=4,
    diagnostic_repeats=1,
)
FULL = Mode(
    "full",
    rounds=3,
    warmup_s=3.0,
    resume_s=1.0,
    window_s=8.0,
    keystrokes=300,
    memory_sessions=16,
    js_seconds=8.0,
    js_batch=64,
    diagnostic_repeats=10,
)

_START = time.monotonic()


def log(message: str) -> None:
    """One human-readable progress line, stamped with seconds since the suite started."""
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank: with few samples p99 is the maximum."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x: a rate that every point of a window contributes to.

    Progress messages arrive up to one publisher period (0.1 s) after the step they report;
    fitting all of them averages that jitter out instead of trusting the two end points.
    """
    if len(points) < 2:
        return float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx if sxx > 0 else float("nan")


def rounded(x: float, digits: int = 0) -> float | int | None:
    """`x` rounded for the report; None when it could not be measured (NaN)."""
    if math.isnan(x):
        return None
    return round(x) if digits == 0 else round(x, digits)


def spread(rates: Sequence[float]) -> float:
    """Slowest over fastest; NaN if any rate is missing."""
    if not rates or any(math.isnan(r) for r in rates) or max(rates) <= 0:
        return float("nan")
    return min(rates) / max(rates)


def goal_line(name: str, value: float | None, goal: str, met: bool | None, unit: str = "") -> str:
    """'name = value unit   [goal: ...] met/MISSED' for the human-readable output."""
    shown = "n/a" if value is None else f"{value:.3g}{unit}"
    verdict = "" if met is None else ("met" if met else "MISSED")
    return f"{name} = {shown}   [goal {goal}] {verdict}"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
