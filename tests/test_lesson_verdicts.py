"""A lesson's verdict is a pure function of its end figures, and it misses when they miss.

The runs themselves are trained in tests/test_lessons.py, which judges every catalog lesson
at the end of its budget with `verdicts.judge`; here the judge is checked on figures made
by hand, on either side of each threshold its lesson's claim names.
"""

from __future__ import annotations

import math

import pytest

from backend.errors import NotFound
from backend.lessons import catalog as lessons
from backend.lessons import verdicts

GAPS = [3, 5, 8, 10, 12, 15, 20, 30, 40, 50, 60]


def recall(inside: float, beyond: float) -> list[float]:
    """An accuracy curve: `inside` up to a gap of 8, `beyond` past it."""
    return [inside if g <= 8 else beyond for g in GAPS]


# One set of figures per lesson on which its claim holds, with the measured values.
HOLDS = {
    "next-character": {"LSTM": 3.01, "unigram": 4.39},
    "window-vs-rnn": {
        "window 1": 3.46,
        "window 8": 2.86,
        "bag of characters": 4.32,
        "unigram": 4.39,
    },
    "order-matters": {"bag of characters": 0.5, "LSTM": 1.0},
    "long-range": {
        "gaps": GAPS,
        "chance": 0.25,
        "window 8": recall(1.0, 0.27),
        "tanh RNN": recall(0.8, 0.25),
        "LSTM": recall(1.0, 1.0),
    },
    "sequence-criteria": {
        "gaps": GAPS,
        "chance": 0.25,
        "window 8": recall(1.0, 0.27),
        "bag of characters": recall(1.0, 0.95),
        "tanh RNN": recall(0.7, 0.21),
        "LSTM": recall(1.0, 1.0),
    },
    "exploding-gradients": {"start": 6.4, "no clipping": math.nan, "clipping at 1": 4.5},
    "vanishing-gradients": {"gaps": GAPS, "chance": 0.25, "ReLU + identity": recall(1.0, 0.96)},
    "lstm-gates": {"plain": 3.0, "f=0": 3.4, "f=1": 4.5, "i=0": 5.5},
}

# For each lesson, changes to those figures that each break one part of its claim.
MISSES = {
    "next-character": [{"LSTM": 4.4}],
    "window-vs-rnn": [{"window 8": 3.1}, {"bag of characters": 4.1}],
    "order-matters": [{"bag of characters": 0.52}, {"LSTM": 0.75}],
    "long-range": [{"LSTM": recall(1.0, 0.85)}, {"window 8": recall(0.8, 0.27)}],
    "sequence-criteria": [
        {"bag of characters": recall(1.0, 0.5)},
        {"tanh RNN": recall(1.0, 0.93)},
        {"window 8": recall(1.0, 0.45)},
    ],
    "exploding-gradients": [{"no clipping": 6.9}, {"clipping at 1": 5.2}],
    "vanishing-gradients": [{"ReLU + identity": recall(1.0, 0.6)}],
    "lstm-gates": [{"f=0": 3.1}, {"f=1": 3.9}, {"i=0": 4.9}],
}


def test_every_catalog_lesson_is_judged_here():
    assert set(HOLDS) == set(MISSES) == set(verdicts.JUDGES)
    assert set(verdicts.JUDGES) == {lesson.id for lesson in lessons.LESSONS}


@pytest.mark.parametrize("lesson_id", sorted(HOLDS))
def test_a_verdict_holds_on_the_measured_figures_and_misses_past_each_threshold(lesson_id: str):
    verdict = verdicts.judge(lesson_id, HOLDS[lesson_id])
    assert verdict.held and verdict.checks, str(verdict)
    for change in MISSES[lesson_id]:
        missed = verdicts.judge(lesson_id, {**HOLDS[lesson_id], **change})
        assert not missed.held, (change, str(missed))
        assert sum(not c.held for c in missed.checks) == 1, "one figure, one part of the claim"
        assert "MISSED" in str(missed)


def test_a_diverged_run_reads_as_nan_and_an_unknown_lesson_is_refused():
    verdict = verdicts.judge("exploding-gradients", HOLDS["exploding-gradients"])
    assert "NaN from 6.40" in str(verdict)
    with pytest.raises(NotFound):
        verdicts.judge("no-such-lesson", {})
