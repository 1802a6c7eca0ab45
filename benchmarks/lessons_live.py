"""Every lesson run live, as a class would: one after the other, beside other sessions training.

It starts a real server (gunicorn, as `scripts/serve.sh` does), starts `--others` sessions at
the page's defaults training beside it (a teacher's colleagues), then opens each lesson
through the calls the page makes: POST /api/lessons/<id>/start, the owner joining the opening
run over Socket.IO, and GET /api/sessions/<main>/runs every 3 s until the verdict arrives. Per
lesson it prints, as JSON, the wall time to the end of the budget and to the verdict, each
run's step and last validation loss, whether the claim held and each part of the verdict with
its figures; then it deletes the lesson (one DELETE removes every run) before the next.

    .venv/bin/python -m benchmarks.lessons_live [--lessons id ...] [--others 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from backend.lessons import catalog, verdicts
from benchmarks.common import UI_DEFAULT_MODEL, log
from benchmarks.server import (
    Client,
    Server,
    TrainingSession,
    close_all,
    open_session,
    running_server,
    start_all,
)

POLL_S = 3.0  # how often the page polls the comparison table (and so the verdict)
# The catalog's lessons first (the ones every class opens), then the tasks' own.
CATALOG = (
    "next-character",
    "window-vs-rnn",
    "order-matters",
    "exploding-gradients",
    "lstm-gates",
    "long-range",
    "sequence-criteria",
    "vanishing-gradients",
)


@dataclass
class Gradients:
    """The gradient norms (before clipping) the opening run's progress streamed to the page."""

    largest: float = 0.0
    first_past_1000: int | None = None  # the first step whose norm passed 1000 (or overflowed)
    first_not_finite: int | None = None  # the first step whose norm was not a number

    def record(self, progress: dict[str, Any]) -> None:
        for step, norm, _clipped in progress.get("grad") or []:
            if norm is None and self.first_not_finite is None:
                self.first_not_finite = step
            if (norm is None or norm > 1000) and self.first_past_1000 is None:
                self.first_past_1000 = step
            if norm is not None:
                self.largest = max(self.largest, norm)

    def to_dict(self) -> dict[str, Any]:
        return {
            "largest": round(self.largest, 1),
            "first_past_1000": self.first_past_1000,
            "first_not_finite": self.first_not_finite,
        }


@dataclass
class LiveLesson:
    """What one lesson did live: when it ended, when it was judged, and on what."""

    id: str
    budget: int
    load_start: float
    ended_s: float | None = None  # from the start request to every run paused at its budget
    verdict_s: float | None = None  # from the start request to the verdict on the page
    runs: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    gaps: dict[str, Any] | None = None  # a gap lesson's accuracy per run at the end, as drawn
    grads: Gradients = field(default_factory=lambda: Gradients())  # the opening run's norms
    load_end: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        checks = (self.verdict or {}).get("checks", [])
        return {
            "lesson": self.id,
            "budget": self.budget,
            "ended_s": self.ended_s,
            "verdict_s": self.verdict_s,
            "held": None if self.verdict is None else self.verdict["held"],
            "runs": self.runs,
            "checks": [
                {"held": c["held"], "says": c["says"]["en"], "measured": c["measured"]["en"]}
                for c in checks
            ],
            "gaps": self.gaps,
            "opening_run_gradients": self.grads.to_dict(),
            "load": [self.load_start, self.load_end],
        }


def load() -> float:
    """The one-minute load average of the machine (every engineer's work, not only ours)."""
    return round(os.getloadavg()[0], 2)


def table(server: Server, main: str, token: str) -> dict[str, Any]:
    """GET /runs as the page polls it: the runs side by side and the verdict (or null)."""
    response = requests.get(
        f"{server.url}/api/sessions/{main}/runs", headers={"X-Session-Token": token}, timeout=120
    )
    response.raise_for_status()
    return response.json()


def gap_view(server: Server, main: str, token: str) -> dict[str, Any]:
    """What the gap view draws at the end: each run's accuracy by gap (the verdict quotes
    only the runs its claim names)."""
    response = requests.get(
        f"{server.url}/api/sessions/{main}/gaps", headers={"X-Session-Token": token}, timeout=120
    )
    response.raise_for_status()
    body = response.json()
    return {
        run["label"]: dict(zip(body["gaps"], (round(a, 2) for a in run["accuracy"]), strict=True))
        for run in body["runs"]
    }


def run_row(row: dict[str, Any]) -> dict[str, Any]:
    """One run as the report shows it: its step, where it stopped, its last validation loss."""
    vals = [v for v in row["val"] if v is not None]
    return {
        "label": row["label"],
        "step": row["step"],
        "status": row["status"],
        "pause_reason": row["pause_reason"],
        "last_val": round(row["val"][-1], 3) if row["val"] and row["val"][-1] is not None else None,
        "best_val": round(min(vals), 3) if vals else None,
    }


def live(server: Server, lesson_id: str, lang: str, timeout_s: float) -> LiveLesson:
    """Open one lesson as the page does, poll until its verdict, then delete it."""
    lesson = catalog.get(lesson_id)
    out = LiveLesson(lesson_id, lesson.steps, load())
    started = time.monotonic()
    response = requests.post(
        f"{server.url}/api/lessons/{lesson_id}/start", json={"lang": lang}, timeout=120
    )
    response.raise_for_status()
    links = response.json()
    owner = Client(server.url)  # the teacher's page, on the run the lesson opens on
    owner.sio.on("train:progress", out.grads.record)  # its gradient chart's points
    owner.join(links["id"], links["owner_token"])
    try:
        while time.monotonic() - started < timeout_s:
            polled = table(server, links["main"], links["view_token"])
            out.runs = [run_row(row) for row in polled["runs"]]
            every_end = all(r["pause_reason"] == "budget" for r in polled["runs"])
            if every_end and out.ended_s is None:
                out.ended_s = round(time.monotonic() - started, 1)
            if polled["verdict"] is not None:
                out.verdict = polled["verdict"]
                out.verdict_s = round(time.monotonic() - started, 1)
                if verdicts.READS.get(lesson_id) == "gaps":
                    try:  # a figure beside the verdict: its failure must not lose the rest
                        out.gaps = gap_view(server, links["main"], links["view_token"])
                    except requests.RequestException as exc:
                        out.gaps = {"error": str(exc)}
                break
            time.sleep(POLL_S)
    finally:
        owner.close()
        out.load_end = load()
        requests.delete(
            f"{server.url}/api/sessions/{links['main']}",
            headers={"X-Session-Token": links["owner_token"]},
            timeout=60,
        ).raise_for_status()
    return out


def summary(results: list[LiveLesson]) -> str:
    """One line per lesson: its budget, when it ended and was judged, and the verdict."""
    lines = [f"{'lesson':24} {'budget':>6} {'end s':>7} {'verdict s':>9} {'held':>5}  load"]
    for r in results:
        held = "-" if r.verdict is None else ("yes" if r.verdict["held"] else "NO")
        end = "-" if r.ended_s is None else f"{r.ended_s:.0f}"
        judged = "-" if r.verdict_s is None else f"{r.verdict_s:.0f}"
        lines.append(
            f"{r.id:24} {r.budget:>6} {end:>7} {judged:>9} {held:>5}  "
            f"{r.load_start:.1f}->{r.load_end:.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="+", default=list(CATALOG), metavar="ID")
    parser.add_argument("--others", type=int, default=3, help="default sessions training beside")
    parser.add_argument("--lang", default="en", choices=catalog.LANGS)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per lesson at most")
    args = parser.parse_args(argv)
    for lesson_id in args.lessons:
        catalog.get(lesson_id)  # an unknown id fails here, before a server starts
    log(f"load average at start: {os.getloadavg()}")
    results: list[LiveLesson] = []
    with running_server() as server:
        others: list[TrainingSession] = [
            open_session(server, UI_DEFAULT_MODEL, corpus=None) for _ in range(args.others)
        ]
        if others:
            start_all(others)
        try:
            for lesson_id in args.lessons:
                log(f"{lesson_id}: opening beside {len(others)} training sessions")
                result = live(server, lesson_id, args.lang, args.timeout)
                results.append(result)
                print(json.dumps(result.to_dict()), flush=True)
        finally:
            close_all(others)
    print(summary(results), flush=True)
    log(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
