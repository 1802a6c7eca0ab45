"""Whether a lesson's claim held: a pure function of the figures its runs end on.

A claim (`Lesson.claim`) is a few checks on figures measured when the lesson's budget runs
out: each run's last validation loss (what the comparison table and the loss curves show),
its accuracy against the gap (the gap view), its accuracy on order-flipped pairs (the
sentiment view), or what clamping a gate costs (the gate view). `judge` takes those figures
and gives one `Check` per part of the claim, with the figures it read, so a failed verdict
says what was measured. The claim tests and the end-of-budget tests call it on the figures
their runs measured: the thresholds live here once, and the claim's text names them.

The figures of a catalog lesson are a flat dict: a run's label gives its figure (bits, or an
accuracy), "unigram" the entropy of the letter frequencies of the validation text, "start" the
loss before training, for the gap lessons "gaps" and "chance" with each run's accuracy at every
gap, and for the gate lesson the loss with each gate clamped ("f=0", "f=1", "i=0", "plain").
`READS` says what each judge reads beyond the losses; `backend.lessons.ends` gathers it, from
live runs on the server and from trainers in the tests, and its `verdict` judges it.

A task's own lessons (`backend/tasks/<name>/lesson.py`) bring their judges with them: the
module's `JUDGES` maps each of its lesson ids to a `Judge`, whose checks read each run's
`RunEnd` (its last validation loss, parameter count, task score, and the answer to the one
query the judge asks the run's worker), gathered the same way.

Every check says what it checks and what it read in English and in French (`Check.to_dict`
writes the French figures with a decimal comma), so the page says it in the class's language.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.errors import NotFound
from backend.lessons.catalog import run_name
from backend.tasks.registry import lesson_modules

RECALL = 0.9  # "recalls the key at least 90% of the time"
NEAR_CHANCE = 0.15  # "within 15 points of chance"
LONG_GAPS = (40, 50, 60)  # "at gaps of 40 to 60", the gap view's longest third
WINDOW = 8  # the width of the memory lessons' window


@dataclass(frozen=True)
class Check:
    """One part of a claim: what it says, the figures it read, whether they bear it out."""

    says: str
    measured: str
    held: bool
    says_fr: str = ""  # in French, numbers written the French way ("0,2 bit", "90 %")
    measured_fr: str = ""  # in French, numbers as in English: `to_dict` writes them the French way

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in every language of the page (French numbers in French)."""
        return {
            "held": self.held,
            "says": {"en": self.says, "fr": self.says_fr or self.says},
            "measured": {"en": self.measured, "fr": french(self.measured_fr or self.measured)},
        }


@dataclass(frozen=True)
class Verdict:
    """Every part of a lesson's claim, checked on the figures its runs ended on."""

    lesson: str
    checks: tuple[Check, ...]

    @property
    def held(self) -> bool:
        return all(check.held for check in self.checks)

    def __str__(self) -> str:
        marks = (f"{'ok' if c.held else 'MISSED'}: {c.says} ({c.measured})" for c in self.checks)
        return f"{self.lesson}: " + "; ".join(marks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: whether the claim held, and each part with the figures it read."""
        return {
            "lesson": self.lesson,
            "held": self.held,
            "checks": [c.to_dict() for c in self.checks],
        }


Figures = Mapping[str, Any]


@dataclass(frozen=True)
class RunEnd:
    """What one run of a task's lesson ended its budget on: the figures its judge reads."""

    val: float  # the last validation loss, in the task's unit (NaN: diverged)
    params: int
    score: float | None = None  # the task's score (`Task.score`) last measured, if it has one
    answer: Mapping[str, Any] | None = None  # the run's answer to its judge's `ask`


@dataclass(frozen=True)
class Judge:
    """How a task's lesson is judged: its checks on every run's end, and what to ask each run."""

    checks: Callable[[Mapping[str, RunEnd]], list[Check]]
    ask: str | None = None  # a query of the task's (`TaskSpec.queries`) each run answers, no fields


def french(text: str) -> str:
    """Figures written in English ("48,500", "0.25", "90%") as a French reader writes them."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "\u202f", text)  # thousands: a narrow space
    text = re.sub(r"(?<=\d)\.(?=\d)", ",", text)  # the decimal comma
    return re.sub(r"(?<=\d)%", "\u202f%", text)


def bits(value: float) -> str:
    """A loss as the checks write it: two decimals, or NaN for a run that diverged."""
    return f"{value:.2f}" if math.isfinite(value) else "NaN"


def _at(figures: Figures, label: str, gaps: Sequence[int]) -> list[float]:
    """`label`'s accuracy at each of `gaps`, read from the gap view's figures."""
    by_gap = dict(zip(figures["gaps"], figures[label], strict=True))
    return [by_gap[g] for g in gaps]


def _shown(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.0%}" for v in values)


def _fr(label: str) -> str:
    """A run's French name (the catalog's), for the figures a French check quotes."""
    return run_name(label, "fr")


# A run named as the subject of a French sentence: "le LSTM retrouve la clé".
SUBJECTS_FR = {
    "LSTM": "le LSTM",
    "bag of characters": "le sac de caractères",
    "window 8": "la fenêtre 8",
    "tanh RNN": "le RNN tanh",
    "ReLU + identity": "ReLU + identité",
}


def _next_character(f: Figures) -> list[Check]:
    lstm, unigram = bits(f["LSTM"]), bits(f["unigram"])
    return [
        Check(
            "the LSTM's validation loss is below the letter-frequency entropy",
            f"LSTM {lstm}, entropy {unigram} bits",
            f["LSTM"] < f["unigram"],
            "la perte de validation du LSTM est sous l'entropie des fréquences des lettres",
            f"LSTM : {lstm} ; entropie : {unigram} bits",
        )
    ]


def _window_vs_rnn(f: Figures) -> list[Check]:
    w1, w8, bag, unigram = f["window 1"], f["window 8"], f["bag of characters"], f["unigram"]
    return [
        Check(
            "window 8 is at least 0.4 bits better than window 1",
            f"window 8 {bits(w8)}, window 1 {bits(w1)}",
            w8 < w1 - 0.4,
            "la fenêtre de 8 caractères fait au moins 0,4 bit de mieux que celle d'un caractère",
            f"{_fr('window 8')} : {bits(w8)} ; {_fr('window 1')} : {bits(w1)}",
        ),
        Check(
            "the bag is within 0.2 bits of the letter-frequency entropy",
            f"bag {bits(bag)}, entropy {bits(unigram)}",
            abs(bag - unigram) < 0.2,
            "le sac reste à moins de 0,2 bit de l'entropie des fréquences des lettres",
            f"sac : {bits(bag)} ; entropie : {bits(unigram)}",
        ),
    ]


def _order_matters(f: Figures) -> list[Check]:
    bag, lstm = f["bag of characters"], f["LSTM"]
    return [
        Check(
            "the bag is right on exactly half the pairs",
            f"bag {bag:.0%}",
            bag == 0.5,
            "le sac a raison sur exactement la moitié des paires",
            f"sac : {bag:.0%}",
        ),
        Check(
            "the LSTM is right on at least 80% of them",
            f"LSTM {lstm:.0%}",
            lstm >= 0.8,
            "le LSTM a raison sur au moins 80 % d'entre elles",
            f"LSTM : {lstm:.0%}",
        ),
    ]


def _window_blind(f: Figures) -> Check:
    inside = [g for g in f["gaps"] if g <= WINDOW]
    outside = [g for g in f["gaps"] if g > WINDOW]
    acc_in, acc_out = _at(f, "window 8", inside), _at(f, "window 8", outside)
    return Check(
        "the window is right at least 90% up to its width, within 15 points of chance beyond",
        f"inside {_shown(acc_in)}; beyond {_shown(acc_out)}",
        min(acc_in) >= RECALL and all(abs(a - f["chance"]) <= NEAR_CHANCE for a in acc_out),
        "la fenêtre a raison au moins 90 % du temps jusqu'à sa largeur et reste à moins de "
        "15 points du hasard au-delà",
        f"jusqu'à sa largeur : {_shown(acc_in)} ; au-delà : {_shown(acc_out)}",
    )


def _recalls(f: Figures, label: str, gaps: Sequence[int] = LONG_GAPS) -> Check:
    accuracy = _at(f, label, gaps)
    at = f"gaps {gaps[0]} to {gaps[-1]}" if len(gaps) > 1 else f"a gap of {gaps[0]}"
    at_fr = f"des écarts de {gaps[0]} à {gaps[-1]}" if len(gaps) > 1 else f"un écart de {gaps[0]}"
    return Check(
        f"{label} recalls the key at least 90% of the time at {at}",
        f"{label} {_shown(accuracy)}",
        min(accuracy) >= RECALL,
        f"{SUBJECTS_FR[label]} retrouve la clé au moins 90 % du temps pour {at_fr}",
        f"{_fr(label)} : {_shown(accuracy)}",
    )


def _near_chance(f: Figures, label: str, gaps: Sequence[int]) -> Check:
    accuracy = _at(f, label, gaps)
    return Check(
        f"{label} stays within 15 points of chance at a gap of {gaps[0]}",
        f"{label} {_shown(accuracy)}, chance {f['chance']:.0%}",
        all(abs(a - f["chance"]) <= NEAR_CHANCE for a in accuracy),
        f"{SUBJECTS_FR[label]} reste à moins de 15 points du hasard à un écart de {gaps[0]}",
        f"{_fr(label)} : {_shown(accuracy)} ; hasard : {f['chance']:.0%}",
    )


def _long_range(f: Figures) -> list[Check]:
    return [_window_blind(f), _recalls(f, "LSTM")]


def _sequence_criteria(f: Figures) -> list[Check]:
    at_40 = (40,)
    return [
        _recalls(f, "LSTM", at_40),
        _recalls(f, "bag of characters", at_40),
        _near_chance(f, "window 8", at_40),
        _near_chance(f, "tanh RNN", at_40),
    ]


def _vanishing(f: Figures) -> list[Check]:
    return [_recalls(f, "ReLU + identity")]


def _exploding(f: Figures) -> list[Check]:
    start, free, clipped = f["start"], f["no clipping"], f["clipping at 1"]
    return [
        Check(
            "without clipping the loss is NaN or more than 1 bit above its start",
            f"{bits(free)} from {bits(start)}",
            not math.isfinite(free) or free > start + 1,
            "sans écrêtage, la perte est NaN ou plus d'un bit au-dessus de son départ",
            f"{bits(free)} contre {bits(start)} au départ",
        ),
        Check(
            "with clipping at 1 the loss is more than 1.5 bits below its start",
            f"{bits(clipped)} from {bits(start)}",
            clipped < start - 1.5,
            "la perte avec un écrêtage à 1 est plus de 1,5 bit sous son départ",
            f"{bits(clipped)} contre {bits(start)} au départ",
        ),
    ]


# What clamping each gate must cost at least, in bits, as the claim says it in each language.
CLAMP_COSTS = (
    ("f=0", 0.2, "every forget gate at 0", "0.2 bits", "toutes les portes d'oubli à 0", "0,2 bit"),
    ("f=1", 1.0, "every forget gate at 1", "1 bit", "toutes les portes d'oubli à 1", "1 bit"),
    ("i=0", 2.0, "every input gate at 0", "2 bits", "toutes les portes d'entrée à 0", "2 bits"),
)


def _lstm_gates(f: Figures) -> list[Check]:
    plain = f["plain"]
    return [
        Check(
            f"clamping {gates} costs at least {cost_en}",
            f"{bits(f[key])} against {bits(plain)}",
            f[key] > plain + cost,
            f"bloquer {gates_fr} coûte au moins {cost_fr}",
            f"{bits(f[key])} contre {bits(plain)}",
        )
        for key, cost, gates, cost_en, gates_fr, cost_fr in CLAMP_COSTS
    ]


# The catalog's lessons; a task's own lessons bring their judges (`task_judges`).
JUDGES: dict[str, Callable[[Figures], list[Check]]] = {
    "next-character": _next_character,
    "window-vs-rnn": _window_vs_rnn,
    "order-matters": _order_matters,
    "long-range": _long_range,
    "sequence-criteria": _sequence_criteria,
    "exploding-gradients": _exploding,
    "vanishing-gradients": _vanishing,
    "lstm-gates": _lstm_gates,
}
# What a catalog judge reads beyond each run's last loss (`backend.lessons.ends.figures`).
READS = {
    "order-matters": "pairs",
    "long-range": "gaps",
    "sequence-criteria": "gaps",
    "vanishing-gradients": "gaps",
    "lstm-gates": "clamps",
}


@functools.cache
def task_judges() -> dict[str, Judge]:
    """The judges the tasks' own lessons declare beside them (each lesson module's `JUDGES`)."""
    merged: dict[str, Judge] = {}
    for module in lesson_modules():
        merged.update(getattr(module, "JUDGES", {}))
    return merged


def judge(lesson_id: str, figures: Figures) -> Verdict:
    """Each part of `lesson_id`'s claim, checked on the figures its runs ended on."""
    if lesson_id in JUDGES:
        return Verdict(lesson_id, tuple(JUDGES[lesson_id](figures)))
    if lesson_id in task_judges():
        return Verdict(lesson_id, tuple(task_judges()[lesson_id].checks(figures)))
    raise NotFound(f"lesson {lesson_id!r} has no verdict here", field="lesson")
