"""A lesson's verdict is a pure function of its end figures, and it misses when they miss.

The runs themselves are trained in tests/test_lessons.py, which judges every catalog lesson
at the end of its budget with `verdicts.judge`, and in the tasks' own test files (words,
music, translate) for the tasks' lessons; here the judge is checked on figures made by hand,
on either side of each threshold its lesson's claim names, in both languages. Then tiny runs
of the catalog lessons are read as the server reads live runs (`ends.verdict`): the figures
gathered are the ones the gap, sentiment and gate views measure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import torch

from backend.core.data import TextDataset
from backend.core.training import Trainer
from backend.errors import InvalidInput, NotFound
from backend.lessons import catalog as lessons
from backend.lessons import ends, verdicts
from backend.lessons.verdicts import RunEnd
from backend.tasks.text.task import TextTask
from tests.lesson_ends import read_at_budget

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


# ------------------------------------------------------------------ a task's own lessons

WORDS = {  # bits per word at step 600, seed 0 (the lesson module's measurements)
    "bag of words": RunEnd(6.40, 32_500),
    "2-word window": RunEnd(5.38, 48_500),
    "5-word window": RunEnd(5.73, 96_500),
    "RNN": RunEnd(5.41, 33_588),
}


def accuracy(lengths: dict[int, tuple[int, int]]) -> dict:
    """The translate task's `accuracy` answer: (right, total) per 10-character bucket."""
    return {
        "bucket": 10,
        "lengths": list(lengths),
        "correct": [r for r, _ in lengths.values()],
        "total": [t for _, t in lengths.values()],
    }


TRANSLATE = {  # seed 0 at step 600: 13% and 100% overall
    "without attention": RunEnd(
        0.14, 39_328, answer=accuracy({0: (3, 5), 10: (2, 7), 20: (8, 79), 30: (0, 9)})
    ),
    "with attention": RunEnd(
        0.02, 51_000, answer=accuracy({0: (5, 5), 10: (7, 7), 20: (79, 79), 30: (9, 9)})
    ),
}

MUSIC = {"LSTM": RunEnd(2.34, 30_000, score=0.75)}  # seed 0 at step 1,000: 6 of 8 valid

TASK_HOLDS = {"next-word": WORDS, "many-to-many-music": MUSIC, "translate-attention": TRANSLATE}
TASK_MISSES = {
    "next-word": [
        {"bag of words": RunEnd(6.10, 32_500)},
        {"5-word window": RunEnd(5.50, 96_500)},
        {"RNN": RunEnd(5.70, 33_588)},
    ],
    "many-to-many-music": [{"LSTM": RunEnd(2.34, 30_000, score=0.25)}],
    "translate-attention": [
        {  # short 42%, long 50%: no longer falls with length
            "without attention": RunEnd(
                0.1, 39_328, answer=accuracy({0: (3, 5), 10: (2, 7), 20: (40, 79), 30: (4, 9)})
            )
        },
        {  # long 32% with attention against 9% without: 23 points
            "with attention": RunEnd(
                0.1, 51_000, answer=accuracy({0: (5, 5), 10: (7, 7), 20: (25, 79), 30: (3, 9)})
            )
        },
    ],
}


def test_every_task_lesson_brings_its_judge():
    catalog_ids = {lesson.id for lesson in lessons.LESSONS}
    task_ids = {lesson.id for lesson in lessons.list_lessons()} - catalog_ids
    assert set(verdicts.task_judges()) == task_ids == set(TASK_HOLDS) == set(TASK_MISSES)


@pytest.mark.parametrize("lesson_id", sorted(TASK_HOLDS))
def test_a_task_lesson_verdict_holds_on_measured_figures_and_misses_past_each_threshold(
    lesson_id: str,
):
    verdict = verdicts.judge(lesson_id, TASK_HOLDS[lesson_id])
    assert verdict.held and verdict.checks, str(verdict)
    for change in TASK_MISSES[lesson_id]:
        missed = verdicts.judge(lesson_id, {**TASK_HOLDS[lesson_id], **change})
        assert sum(not c.held for c in missed.checks) == 1, (change, str(missed))
        assert not missed.to_dict()["held"]


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:[.,]\d+)?", text))


@pytest.mark.parametrize("lesson_id", sorted(TASK_HOLDS) + sorted(HOLDS))
def test_the_claim_names_every_threshold_its_judge_checks_in_both_languages(lesson_id: str):
    lesson = lessons.get(lesson_id)
    for check in verdicts.judge(lesson_id, {**HOLDS, **TASK_HOLDS}[lesson_id]).checks:
        assert numbers(check.says) <= numbers(lesson.claim.en), (check.says, lesson.claim.en)
        assert numbers(check.says_fr) <= numbers(lesson.claim.fr), (check.says_fr, lesson.claim.fr)
        assert check.says_fr and check.measured_fr


def test_a_verdict_reaches_the_page_in_both_languages_with_french_numbers():
    verdict = verdicts.judge("next-word", WORDS).to_dict()
    assert verdict["held"] is True and verdict["lesson"] == "next-word"
    check = verdict["checks"][2]
    assert check["measured"]["en"] == "RNN 5.41 with 33,588 parameters"
    assert check["measured"]["fr"] == "RNN 5,41 avec 33\u202f588 paramètres"
    assert "0,25 bit" in check["says"]["fr"] and "0.25 bits" in check["says"]["en"]
    assert verdicts.french("at 90%, 1,000 steps") == "at 90\u202f%, 1\u202f000 steps"


def test_a_catalog_verdict_reaches_the_page_in_french_with_french_numbers():
    verdict = verdicts.judge("window-vs-rnn", HOLDS["window-vs-rnn"]).to_dict()
    window, bag = verdict["checks"]
    assert window["measured"]["en"] == "window 8 2.86, window 1 3.46"
    assert window["measured"]["fr"] == "fenêtre 8 : 2,86 ; fenêtre 1 : 3,46"
    assert "0,4 bit" in window["says"]["fr"] and "0.4 bits" in window["says"]["en"]
    assert bag["measured"]["fr"] == "sac : 4,32 ; entropie : 4,39"
    gaps = verdicts.judge("sequence-criteria", HOLDS["sequence-criteria"]).to_dict()["checks"]
    assert (
        gaps[0]["says"]["fr"]
        == "le LSTM retrouve la clé au moins 90 % du temps pour un écart de 40"
    )
    assert gaps[3]["measured"]["fr"] == "RNN tanh : 21\u202f% ; hasard : 25\u202f%"
    for check in (
        c for lesson_id in HOLDS for c in verdicts.judge(lesson_id, HOLDS[lesson_id]).checks
    ):
        assert check.says_fr and check.measured_fr, check


# ------------------------------------------------------------------ gathered from tiny runs
#
# Each catalog lesson's runs, shrunk to hidden 8 and sequences of 8 for a few steps, read at
# the end as the server reads live runs. Whether the claim holds after so little training
# does not matter here; what is checked is that every figure the judge reads is gathered,
# and that it is the figure the lesson's views measure.

TINY = {"hidden_size": 8, "seq_len": 8, "batch_size": 4}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(lesson_id: str, steps: int = 3) -> lessons.Lesson:
    """`lesson_id` as it is, with tiny models and a budget of `steps`."""
    lesson = lessons.get(lesson_id)
    return replace(lesson, settings={**lesson.settings, **TINY}, steps=steps)


def test_the_entropy_is_read_from_the_validation_text_the_runs_are_measured_on():
    text = lessons.training_text(lessons.get("next-character").data)
    held = ends.held_out(text)
    assert held == TextDataset.from_text(text).vocab.decode(TextDataset.from_text(text).val)
    assert ends.letter_entropy("aabb") == 1.0 and ends.letter_entropy("aaaa") == 0.0
    assert 4.3 < ends.letter_entropy(held) < 4.6  # English letters: about 4.4 bits


def test_a_loss_lesson_reads_each_runs_last_validation_and_its_first_loss():
    lesson = tiny("exploding-gradients")
    readings, text = read_at_budget(lesson)
    figures = ends.figures(lesson, readings, text)
    assert set(figures) == {"no clipping", "clipping at 1", "unigram", "start"}
    assert figures["clipping at 1"] == readings[1].val and math.isfinite(readings[1].val)
    # Both runs share the lesson's seed: the same first weights and batch, the same start.
    assert readings[0].start == readings[1].start == figures["start"] > 4
    assert figures["unigram"] == ends.letter_entropy(ends.held_out(text))
    verdict = ends.verdict(lesson, readings, text)
    assert [c.measured.endswith(f"from {figures['start']:.2f}") for c in verdict.checks] == [
        True,
        True,
    ]


def test_a_gap_lesson_reads_the_accuracies_the_gap_view_measures():
    lesson = tiny("long-range")
    readings, text = read_at_budget(lesson)
    figures = ends.figures(lesson, readings, text)
    assert figures["gaps"] == list(lesson.data.eval_gaps) and figures["chance"] == 0.25
    for r in readings:
        view = r.ask("gaps", ends.gap_query(lesson))  # what the gap view asks each run
        assert figures[r.label] == view["accuracy"]
        assert len(view["accuracy"]) == len(lesson.data.eval_gaps)
    verdict = ends.verdict(lesson, readings, text)
    assert len(verdict.checks) == 2 and "inside" in verdict.checks[0].measured


def test_the_pairs_lesson_reads_each_classifiers_accuracy_on_flipped_pairs():
    lesson = tiny("order-matters", steps=5)
    readings, text = read_at_budget(lesson)
    figures = ends.figures(lesson, readings, text)
    # A bag sees the same counts in both sentences of a pair: right on exactly half of them,
    # trained or not; that is why the claim can say "exactly".
    assert figures["bag of characters"] == 0.5
    assert 0 <= figures["LSTM"] <= 1 and figures["LSTM"] != readings[-1].val
    checks = ends.verdict(lesson, readings, text).checks
    assert checks[0].held and checks[0].measured == "bag 50%"


def test_the_gate_lesson_reads_what_clamping_each_gate_costs():
    lesson = tiny("lstm-gates", steps=20)
    readings, text = read_at_budget(lesson)
    figures = ends.figures(lesson, readings, text)
    plain, shut = figures["plain"], figures["i=0"]
    # Without surgery the trace's loss is the model's own on those characters.
    trainer = Trainer(TextTask.from_text(text), lesson.config("LSTM"))
    for _ in range(lesson.steps):
        trainer.step()
    ids = trainer.dataset.val[: ends.CLAMP_CHARS].long()
    with torch.no_grad():
        logits, _ = trainer.model(ids[None])  # (1, T, V)
    direct = torch.nn.functional.cross_entropy(logits[0, :-1], ids[1:]).item() / math.log(2)
    assert plain == pytest.approx(direct, abs=1e-4)
    # Closing every input gate writes nothing: c_t = 0, h_t = 0, one prediction throughout.
    assert shut > plain and figures["f=0"] != plain != figures["f=1"]
    assert len(ends.verdict(lesson, readings, text).checks) == 3


def test_clamps_are_refused_for_a_model_without_gates_or_too_few_characters():
    lesson = tiny("window-vs-rnn", steps=1)
    task = TextTask.from_text(lessons.training_text(lesson.data))
    window, lstm = (Trainer(task, lesson.config(label)) for label in ("window 8", "LSTM"))
    with pytest.raises(InvalidInput, match="no gates"):
        window.answer("clamps", {"surgeries": ends.CLAMPS, "chars": 100})
    with pytest.raises(InvalidInput, match="chars"):
        lstm.answer("clamps", {"surgeries": ends.CLAMPS, "chars": 1})
    with pytest.raises(InvalidInput, match="gates are"):
        lstm.answer(
            "clamps",
            {"surgeries": {"x": {"clamps": [{"layer": 0, "gate": "q", "value": 0}]}}, "chars": 9},
        )
