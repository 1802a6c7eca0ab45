"""Run the benchmark suite: `python -m benchmarks [--quick] [--only NAME ...]`.

Prints human-readable lines as it goes and one JSON object with every figure as its last
line. Goals are printed beside the figures; nothing is asserted (timings on a shared machine
are evidence, not a test).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.classroom import BYSTANDERS, KEYS_PER_S, STUDENTS, measure_classroom
from benchmarks.cluster import measure_cluster
from benchmarks.common import (
    BENCH_MODEL,
    FULL,
    MEMORY_MODEL,
    QUICK,
    UI_DEFAULT_MODEL,
    Mode,
    goal_line,
    log,
)
from benchmarks.diagnostics import measure_diagnostics
from benchmarks.gpu import measure_cohort, measure_gpu
from benchmarks.keystroke import CONTINUATION, QUERY_CHARS, TRAINING_SESSIONS, measure_keystrokes
from benchmarks.memory import measure_memory
from benchmarks.scheduling import SESSIONS, measure_scheduling
from benchmarks.server import running_server
from benchmarks.training import measure_training

PARTS = ("diagnostics", "training", "memory", "keystroke", "classroom", "scheduling", "gpu")
PARTS += ("cluster",)
DEFAULT_PARTS = PARTS[:-1]  # cluster starts redis, PostgreSQL and Ray: only with --only cluster


def machine() -> dict[str, Any]:
    """What the figures were measured on, including how busy it was."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _gpu_ok(r: dict[str, Any]) -> bool:
    return r["gpu_total_chars_per_s"] >= 10e6 and (r.get("gpu_slowest_over_fastest") or 0) >= 0.8


def _keystroke_ok(r: dict[str, Any]) -> bool:
    return r["keystroke_p99_ms"] <= min(1.5 * r["echo_p99_ms"], 50)


# name -> (goal as text, test on the results); a figure that is missing is neither met nor not.
GOALS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "train_ratio_vs_plain_torch": (">= 0.95", lambda r: r["train_ratio_vs_plain_torch"] >= 0.95),
    "keystroke_p99_ms": ("<= 1.5 x echo_p99_ms and <= 50 ms", _keystroke_ok),
    "fairness_min_over_max": (">= 0.8", lambda r: r["fairness_min_over_max"] >= 0.8),
    "aggregate_ratio_vs_single": (">= 0.9", lambda r: r["aggregate_ratio_vs_single"] >= 0.9),
    "rss_mb_per_session": ("<= 30 MB", lambda r: r["rss_mb_per_session"] <= 30),
    "vs_browser_js": (">= 100", lambda r: r["vs_browser_js"] >= 100),
    "gpu_total_chars_per_s": (">= 10 M with 32 sessions, fair (>= 0.8)", _gpu_ok),
    "class_keystroke_p99_ms": ("<= 150 ms", lambda r: r["class_keystroke_p99_ms"] <= 150),
    "class_keystroke_spread_p99_ms": (
        "<= 150 ms",
        lambda r: r["class_keystroke_spread_p99_ms"] <= 150,
    ),
    "class_training_share": (">= 0.5", lambda r: r["class_training_share"] >= 0.5),
    "flood_bystander_p99_ms": ("<= 150 ms", lambda r: r["flood_bystander_p99_ms"] <= 150),
    "time_to_2bpc_s": ("<= 30 s", lambda r: r["time_to_2bpc_s"] <= 30),
    "cluster_train_ratio": (">= 0.9", lambda r: r["cluster_train_ratio"] >= 0.9),
    "cluster_keystroke_p99_ratio": ("<= 1.5", lambda r: r["cluster_keystroke_p99_ratio"] <= 1.5),
}


def goals(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each goal with whether it was met (null where the figure is missing)."""
    out = {}
    for name, (text, test) in GOALS.items():
        met = None if results.get(name) is None else bool(test(results))
        out[name] = {"goal": text, "met": met}
    return out


def summary(results: dict[str, Any]) -> None:
    """The headline figures beside their goals, one per line."""
    units = {"keystroke_p99_ms": " ms", "rss_mb_per_session": " MiB", "time_to_2bpc_s": " s"}
    units |= {name: " ms" for name in GOALS if name.endswith("_ms")}
    for name, goal in results["goals"].items():
        log(goal_line(name, results.get(name), goal["goal"], goal["met"], units.get(name, "")))
    extra = (
        "keystroke_p50_ms",
        "keystroke_notrace_p99_ms",
        "class_keystroke_p50_ms",
        "class_keystroke_spread_p50_ms",
        "class_spread_training_share",
        "flood_bystander_p50_ms",
        "flood_queries_sent",
        "echo_p99_ms",
        "echo_idle_p99_ms",
        "aggregate_ratio_vs_cores",
        "aggregate_ratio_per_cpu_second",
        "fairness_7_running",
        "pair_on_one_worker_vs_single",
        "fairness_after_resume",
        "train_ratio_per_cpu_second",
        "rss_mb_per_trained_session",
        "cohort_vs_separate",
        "gpu_slowest_over_fastest",
    )
    for name in extra:
        if results.get(name) is not None:
            log(f"{name} = {results[name]}")


def attempt(results: dict[str, Any], part: str, measure: Callable[[], dict[str, Any]]) -> None:
    """Run one measurement into `results`; a failure is recorded and the others still run."""
    try:
        results |= measure()
    except Exception as exc:  # noqa: BLE001 - one broken measurement must not hide the others
        message = f"{type(exc).__name__}: {exc}"
        results.setdefault("errors", {})[part] = message
        log(f"{part} FAILED: {message}")


def settings(mode: Mode) -> dict[str, Any]:
    """The models and sizes the figures were measured with."""
    return {
        "train_model": BENCH_MODEL,
        "ui_default_model": UI_DEFAULT_MODEL,
        "memory_model": MEMORY_MODEL,
        "keystroke": {
            "query_chars": QUERY_CHARS,
            "k": 5,
            "length": CONTINUATION,
            "training_sessions": TRAINING_SESSIONS,
        },
        "classroom": {
            "students": STUDENTS,
            "keys_per_s": KEYS_PER_S,
            "flood_bystanders": BYSTANDERS,
            "training_sessions": TRAINING_SESSIONS,
        },
        "scheduling_sessions": SESSIONS,
        "mode": mode.__dict__,
    }


def run(mode: Mode, parts: tuple[str, ...]) -> dict[str, Any]:
    """Every selected measurement, in an order that keeps them from disturbing each other."""
    results: dict[str, Any] = {"mode": mode.name, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    results |= {"machine": machine(), "torch_threads": 1, "settings": settings(mode)}
    if "diagnostics" in parts:
        log("timing the worker's operations in-process (backend Trainer, one thread)")
        repeats = mode.diagnostic_repeats
        attempt(results, "diagnostics", lambda: {"diagnostics": measure_diagnostics(repeats)})
        log(f"operation costs (ms): {json.dumps(results.get('diagnostics'))}")
    if "training" in parts:
        log("training speed: plain PyTorch vs one playground session (1 worker) vs JS")
        attempt(results, "training", lambda: measure_training(mode).to_dict())
    if {"memory", "keystroke", "classroom", "scheduling"} & set(parts):
        with running_server() as server:
            log(f"server with default workers ({server.workers}) at {server.url}")
            if "memory" in parts:
                attempt(results, "memory", lambda: measure_memory(server, mode))
            if "keystroke" in parts:
                attempt(results, "keystroke", lambda: measure_keystrokes(server, mode).to_dict())
            if "classroom" in parts:
                attempt(results, "classroom", lambda: measure_classroom(server, mode))
            if "scheduling" in parts:
                attempt(results, "scheduling", lambda: measure_scheduling(server, mode).to_dict())
    if "gpu" in parts:
        log("batched training: S sessions as one cohort vs stepped one by one, in-process")
        attempt(results, "cohort", lambda: measure_cohort(mode))
        attempt(results, "gpu", lambda: measure_gpu(mode))
        if results.get("gpu_note"):
            log(results["gpu_note"])
    if "cluster" in parts:
        log("cluster mode (Ray, Redis, PostgreSQL) vs embedded mode, one session each")
        attempt(results, "cluster", lambda: measure_cluster(mode))
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["goals"] = goals(results)
    return results


def finite(value: Any) -> Any:
    """The results with NaN (a figure that could not be computed) as null: strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short windows (about 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these measurements")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    started = time.monotonic()
    results = run(mode, tuple(args.only or DEFAULT_PARTS))
    results["wall_s"] = round(time.monotonic() - started, 1)
    summary(results)
    print(json.dumps(finite(results)), flush=True)


if __name__ == "__main__":
    main()
