"""What a lesson's runs end on: the figures its verdict reads, gathered one way for every reader.

When every run of a lesson has stopped at its budget, each run is read once (a `Reading`: its
last validation loss, the loss it began at, its parameter count and task score, and a way to
ask its model a question), and `verdict` judges the lesson's claim on those readings
(`backend.lessons.verdicts`). The server reads live sessions (`Experiments.verdict`); the
end-of-budget tests read trainers (`tests/lesson_ends.py`). Both go through `verdict`, so the
figures the page's verdict quotes are the ones the tests' judge reads.

A catalog lesson's figures are a flat dict (see `verdicts`): each run's last validation loss
by its label, "unigram" (the entropy of the letter frequencies of the validation text), "start"
(the loss the lesson's runs began at), and what its judge reads beyond the losses
(`verdicts.READS`):

- "gaps": each run's accuracy at every gap the gap view sweeps (each run's `gaps` query, the
  very query the gap view asks), with "gaps" and "chance";
- "pairs": each classifier's accuracy on order-flipped pairs of held-out subjects (the main
  run's `sentiment` query, the one the sentiment view asks, which trains them once);
- "clamps": the validation loss with every forget gate held at 0 or 1, or every input gate at
  0, and without surgery ("plain"), from the run's `clamps` query (`backend.lessons.gates`).

A task's own lesson reads each run's `RunEnd` instead, with its judge's one query answered.
This module never imports torch: the web process runs it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backend.lessons import verdicts
from backend.lessons.catalog import Lesson
from backend.tasks.registry import spec_for

GAP_EXAMPLES = 100  # fresh examples per gap when measuring accuracy
VAL_FRACTION = 0.1  # the share of a text held out for validation (`TextDataset.from_text`)
CLAMP_CHARS = 1000  # validation characters the gate lesson's clamps are measured on
# The surgeries the gate lesson's claim is about (`internals.Surgery.from_dict`), by figure.
CLAMPS: dict[str, dict[str, Any] | None] = {
    "plain": None,
    "f=0": {"clamps": [{"layer": 0, "gate": "f", "value": 0.0}]},
    "f=1": {"clamps": [{"layer": 0, "gate": "f", "value": 1.0}]},
    "i=0": {"clamps": [{"layer": 0, "gate": "i", "value": 0.0}]},
}


@dataclass(frozen=True)
class Reading:
    """One run at the end of its budget, as its verdict reads it (live or in a test)."""

    label: str
    val: float  # its last validation loss, in the task's unit (NaN: diverged, or none yet)
    start: float  # the loss it began at: its first training loss, before any update
    params: int
    score: float | None  # the task's score last measured, if the task has one
    ask: Callable[[str, dict[str, Any]], dict[str, Any]]  # ask(op, fields): its model's answer


def verdict(lesson: Lesson, readings: Sequence[Reading], text: str) -> verdicts.Verdict:
    """Judge `lesson`'s claim on its runs' readings (in the lesson's order, the main run first);
    `text` is what the runs train on (a catalog lesson's entropy is read from it)."""
    if lesson.id in verdicts.task_judges():
        return verdicts.judge(lesson.id, run_ends(lesson, readings))
    return verdicts.judge(lesson.id, figures(lesson, readings, text))


def run_ends(lesson: Lesson, readings: Sequence[Reading]) -> dict[str, verdicts.RunEnd]:
    """A task lesson's runs as its judge reads them, each with its answer to the judge's query."""
    ask = verdicts.task_judges()[lesson.id].ask
    fields = spec_for(lesson.data.task or "").parse_query(ask, {}) if ask else {}
    return {
        r.label: verdicts.RunEnd(
            val=r.val, params=r.params, score=r.score, answer=r.ask(ask, fields) if ask else None
        )
        for r in readings
    }


def figures(lesson: Lesson, readings: Sequence[Reading], text: str) -> dict[str, Any]:
    """A catalog lesson's figures: the losses, the entropy, the start, and what its judge reads."""
    out: dict[str, Any] = {r.label: r.val for r in readings}
    out["unigram"] = letter_entropy(held_out(text))
    out["start"] = readings[0].start  # the runs share a seed: they begin from the same weights
    reads = verdicts.READS.get(lesson.id)
    if reads == "gaps":
        query = gap_query(lesson)
        for r in readings:
            answer = r.ask("gaps", query)
            out[r.label] = answer["accuracy"]
        out["gaps"], out["chance"] = query["gaps"], answer["chance"]
    elif reads == "pairs":
        answer = readings[0].ask("sentiment", sentiment_query(lesson, "."))
        out.update({run["label"]: run["pair_accuracy"] for run in answer["runs"]})
    elif reads == "clamps":
        answer = readings[0].ask("clamps", {"surgeries": CLAMPS, "chars": CLAMP_CHARS})
        out.update(answer["bits"])
    return out


def gap_query(lesson: Lesson) -> dict[str, Any]:
    """The `gaps` query of a long-range lesson: its task, and the gaps the gap view sweeps."""
    return {
        "task": lesson.data.task,
        "params": dict(lesson.data.params),
        "gaps": list(lesson.data.eval_gaps),
        "n": GAP_EXAMPLES,
    }


def sentiment_query(lesson: Lesson, text: str) -> dict[str, Any]:
    """The `sentiment` query: one classifier per run of the lesson, trained for its budget."""
    runs = [{"label": k, "config": cfg.to_dict()} for k, cfg in lesson.configs().items()]
    return {"text": text, "runs": runs, "steps": lesson.steps}


def held_out(text: str) -> str:
    """The validation part of a training text: its last tenth, cut as `TextDataset.from_text`."""
    n_val = min(max(2, int(len(text) * VAL_FRACTION)), len(text) - 2)
    return text[-n_val:]


def letter_entropy(text: str) -> float:
    """The entropy of `text`'s letter frequencies in bits per character: the loss of the best
    model that knows only how often each character appears, on that very text."""
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def first_loss(train: Sequence[float | None], val: Sequence[float | None]) -> float:
    """The loss a run began at: its first training loss recorded, else its first validation."""
    for loss in (*train[:1], *val[:1]):
        if loss is not None:
            return loss
    return math.nan


def last(values: Sequence[float | None]) -> float:
    """The last of a run's recorded losses; NaN for none, or for one that was not a number."""
    value = values[-1] if values else None
    return math.nan if value is None else value
