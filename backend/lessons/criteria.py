"""The four criteria of a sequence model, measured on a lesson's trained runs.

Each run's worker answers the text task's `reach` query (`backend.lessons.reach`): how
much its next-character prediction depends on each position of an input, how much it
moves when two adjacent characters swap, and its parameter count built at two widths.
The long-term column is the lessons' gap measurement at a long gap. The verdicts come
from the thresholds below, here on the server, so the page shows one figure and the
verdict that figure gives, never a verdict of its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.lessons import catalog as lessons
from backend.lessons.ends import GAP_EXAMPLES
from backend.lessons.experiments import Experiments, label
from backend.sessions.registry import Session

WIDTH = 8  # the fixed width whose far side the variable-length column probes
LONG_GAP = 40  # the gap of the long-term column
PROBES = 8  # fresh key-recall lines read by the variable-length and order columns
# A prediction depends on a change that moves it at all (TV > 0): a window's and a bag's
# blindness is exact, bit for bit, so no tolerance is needed to tell it from a small effect.
MOVES = 0.0
REMEMBERS = 0.9  # the long-term column asks for at least 90% right at LONG_GAP
CACHE_S = 5.0  # however many pages ask, the runs are measured at most this often
MAX_REACH_CHARS = 80  # a typed input: every character times every replacement is one row


@dataclass(frozen=True)
class Thresholds:
    """What each verdict asks of its figure; sent with the table so the page can say it."""

    width: int = WIDTH
    moves: float = MOVES
    gap: int = LONG_GAP
    remembers: float = REMEMBERS

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "moves": self.moves,
            "gap": self.gap,
            "remembers": self.remembers,
        }


THRESHOLDS = Thresholds()


def verdicts(figures: dict[str, Any], limits: Thresholds = THRESHOLDS) -> dict[str, bool]:
    """Each criterion met or not, from the measured figures of one run."""
    small, large = figures["params"]
    return {
        "variable_length": figures["beyond_width"] > limits.moves,
        "long_term": figures["long_gap_accuracy"] >= limits.remembers,
        "order": figures["order"] > limits.moves,
        "sharing": small == large,
    }


class Criteria:
    """The criteria table and the reach view of a lesson's runs, over `Experiments`."""

    def __init__(self, experiments: Experiments, every_s: float = CACHE_S) -> None:
        self.experiments = experiments
        self.every_s = every_s
        self.measured: dict[str, tuple[float, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def reach(self, session: Session, text: Any) -> dict[str, Any]:
        """For each run: how much its prediction after `text` depends on each character."""
        lesson = self._lesson(session, "reach")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_REACH_CHARS:
            raise InvalidInput(f"text must be 1 to {MAX_REACH_CHARS} characters", field="text")
        runs = []
        for run in self.experiments._family(session):
            answer = self._ask(run, texts=[text])
            runs.append({**_run(run), **answer["readings"][0]})
        return {"lesson": lesson.id, "text": text, "runs": runs}

    def table(self, session: Session) -> dict[str, Any]:
        """One row per run, one measured figure and verdict per criterion (cached briefly)."""
        lesson = self._lesson(session, "criteria")
        family = self.experiments._family(session)
        with self.lock:  # one measurement at a time; the others read it
            when, result = self.measured.get(family[0].id, (-float("inf"), {}))
            if time.monotonic() - when >= self.every_s:
                result = self._measure(lesson, family)
                self.measured[family[0].id] = (time.monotonic(), result)
        return result

    def _measure(self, lesson: lessons.Lesson, family: list[Session]) -> dict[str, Any]:
        data = lesson.data
        probe = {"task": data.task, "params": dict(data.params), "gap": LONG_GAP, "n": PROBES}
        gaps = {"task": data.task, "params": dict(data.params), "gaps": [LONG_GAP]}
        rows = []
        for run in family:
            answer = self._ask(run, probe=probe)
            recall = self.experiments.sessions.ask(run, "gaps", n=GAP_EXAMPLES, **gaps)
            figures = figures_of(answer, recall["accuracy"][0])
            rows.append({**_run(run), "figures": figures, "verdicts": verdicts(figures)})
        return {
            "lesson": lesson.id,
            "thresholds": THRESHOLDS.to_dict(),
            "widths": [WIDTH, 2 * WIDTH],
            "chance": recall["chance"],
            "runs": rows,
        }

    def _ask(self, run: Session, **query: Any) -> dict[str, Any]:
        widths = [WIDTH, 2 * WIDTH]
        config = run.config.to_dict()
        return self.experiments.sessions.ask(run, "reach", config=config, widths=widths, **query)

    def _lesson(self, session: Session, view: str) -> lessons.Lesson:
        lesson = self.experiments._lesson(session)
        if view not in lesson.views:
            raise InvalidInput(f"the lesson {lesson.id!r} has no {view} view")
        return lesson


def figures_of(answer: dict[str, Any], long_gap_accuracy: float) -> dict[str, Any]:
    """The table's figures for one run from its `reach` answer and its recall at LONG_GAP."""
    readings = answer["readings"]
    return {
        # the largest move of the prediction from any character more than WIDTH back
        "beyond_width": max(max(r["dependence"][:-WIDTH], default=0.0) for r in readings),
        "long_gap_accuracy": long_gap_accuracy,
        "order": max((r["order"] for r in readings if r["order"] is not None), default=0.0),
        "params": answer["params"],
    }


def _run(run: Session) -> dict[str, Any]:
    return {"id": run.id, "label": label(run), "kind": run.config.model, "step": run.step}
