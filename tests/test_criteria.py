"""The four criteria of a sequence model, measured: what each model's prediction reads."""

from __future__ import annotations

import pytest
import torch

from backend.config import parse
from backend.core.data import Vocab
from backend.core.models import build_model
from backend.core.training import Trainer
from backend.errors import InvalidInput
from backend.lessons import catalog as lessons
from backend.lessons import criteria, reach
from backend.tasks.long_range import accuracy, make_task
from backend.tasks.text.task import TextTask

torch.set_num_threads(1)

TEXT = "b-=#~+-=#~+-#=~:"  # a key-recall line up to the repeated key
VOCAB = Vocab("abcd-=#~+:\n")
TINY = {"hidden_size": 8, "seq_len": 8, "window": 8}
SEEDS = (0, 1)


def tiny(kind: str, seed: int) -> torch.nn.Module:
    return build_model(parse({**TINY, "model": kind, "seed": seed}), VOCAB.size)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_window_ignores_everything_beyond_its_width_exactly(seed: int) -> None:
    model = tiny("window", seed)
    d = reach.read(model, VOCAB, TEXT).dependence
    assert d[:-8] == [0.0] * (len(TEXT) - 8), "bit for bit: those characters never reach it"
    assert min(d[-8:]) > 0, "every character inside the window counts"
    # The same thing read directly: an early character changed, the logits are identical.
    a = model(VOCAB.encode(TEXT)[None])[0][0, -1]
    b = model(VOCAB.encode("c" + TEXT[1:])[None])[0][0, -1]
    assert torch.equal(a, b)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "bag"])
def test_recurrent_models_and_the_bag_read_every_character(kind: str, seed: int) -> None:
    d = reach.read(tiny(kind, seed), VOCAB, TEXT).dependence
    assert len(d) == len(TEXT) and min(d) > 0, d
    a = tiny(kind, seed)(VOCAB.encode(TEXT)[None])[0][0, -1]
    b = tiny(kind, seed)(VOCAB.encode("c" + TEXT[1:])[None])[0][0, -1]
    assert not torch.equal(a, b), "the first character changes the prediction"


@pytest.mark.parametrize("seed", SEEDS)
def test_only_the_bag_is_blind_to_order(seed: int) -> None:
    assert reach.read(tiny("bag", seed), VOCAB, TEXT).order == 0.0
    for kind in ("window", "rnn", "lstm"):
        assert reach.read(tiny(kind, seed), VOCAB, TEXT).order > 0, kind  # untrained: tiny
    assert reach.read(tiny("rnn", seed), VOCAB, "----").order is None, "no swap changes it"


def test_parameters_grow_with_the_width_only_for_the_window() -> None:
    V, H = VOCAB.size, TINY["hidden_size"]
    for kind in ("rnn", "lstm", "gru", "bag"):
        small, large = reach.params_at({**TINY, "model": kind}, V, [8, 16])
        assert small == large, kind
    small, large = reach.params_at({**TINY, "model": "window"}, V, [8, 16])
    assert large - small == 8 * V * H


def test_unknown_characters_and_bad_queries_are_refused_with_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="never saw: 'z'"):
        reach.read(tiny("rnn", 0), VOCAB, "abz")
    config = {**TINY, "model": "rnn"}
    for query in (
        {"texts": ["a" * 81], "config": config},
        {"texts": ["ab"] * 33, "config": config},
        {"texts": ["ab"]},
        {"probe": {"task": "copy", "gap": 10_000, "n": 8}, "config": config},
        {"probe": {"task": "nope", "gap": 10, "n": 8}, "config": config},
        {"config": config},
    ):
        with pytest.raises(InvalidInput):
            reach.answer(tiny("rnn", 0), VOCAB, query)


def test_verdicts_follow_the_thresholds() -> None:
    base = {"beyond_width": 0.0, "long_gap_accuracy": 0.25, "order": 0.5, "params": [10, 20]}
    assert criteria.verdicts(base) == {
        "variable_length": False,
        "long_term": False,
        "order": True,
        "sharing": False,
    }
    met = {**base, "beyond_width": 1e-9, "long_gap_accuracy": 0.9, "params": [7, 7]}
    assert all(criteria.verdicts(met).values())
    assert not criteria.verdicts({**met, "order": 0.0})["order"]


def test_the_lesson_is_the_long_range_lessons_models_with_a_bag() -> None:
    lesson, long_range = lessons.get("sequence-criteria"), lessons.get("long-range")
    assert {"criteria", "reach"} <= set(lesson.views) and lesson.opening == "LSTM"
    assert lesson.data == long_range.data
    # The long-range lesson's claims (tests/test_lessons.py) measure these same runs.
    for label in ("window 8", "tanh RNN", "LSTM"):
        assert lesson.config(label) == long_range.config(label)
    assert "reach" in lessons.get("window-vs-rnn").views


def lesson_table(labels: tuple[str, ...], seed: int, steps: int) -> dict[str, dict[str, bool]]:
    """The criteria table's verdicts for `labels` of the lesson, trained `steps` with `seed`."""
    lesson = lessons.get("sequence-criteria")
    text = lessons.training_text(lesson.data)
    task = make_task(lesson.data.task, **lesson.data.params)
    probe = {"task": lesson.data.task, "params": dict(lesson.data.params), "gap": 40, "n": 8}
    table = {}
    for label in labels:
        cfg = lesson.config(label).replace(seed=seed)
        trainer = Trainer(TextTask.from_text(text), cfg)
        for _ in range(steps):
            trainer.step()
        vocab = trainer.dataset.vocab
        answer = reach.answer(trainer.model, vocab, {"probe": probe, "config": cfg.to_dict()})
        recall = accuracy(trainer.model, vocab, task.examples(criteria.LONG_GAP, 100, seed=1))
        figures = criteria.figures_of(answer, recall)
        table[label] = {**criteria.verdicts(figures), "figures": figures}
    return table


@pytest.mark.parametrize("seed", [0, 3])
def test_the_baselines_verdicts_over_seeds(seed: int) -> None:
    # The lesson's window and bag after a third of its budget (the bag recalls the key by
    # step 500; measured with seed 3 at the full 1500: window 0.25, bag 1.00 at gap 40).
    table = lesson_table(("window 8", "bag of characters"), seed, 500)
    window, bag = table["window 8"], table["bag of characters"]
    assert window["figures"]["beyond_width"] == 0.0 and not window["variable_length"]
    assert abs(window["figures"]["long_gap_accuracy"] - 0.25) <= 0.15 and not window["long_term"]
    assert window["order"] and not window["sharing"]
    assert bag["figures"]["order"] == 0.0 and not bag["order"]
    assert bag["figures"]["long_gap_accuracy"] >= 0.95 and bag["long_term"]
    assert bag["variable_length"] and bag["sharing"]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_recurrent_models_meet_the_structural_criteria(seed: int) -> None:
    # A fifth of the budget: variable length, order and sharing come with the architecture
    # (long-term recall needs the full budget: the long-range lesson's tests measure it).
    # Measured with seed 3 at the full 1500: beyond the width 0.11 (RNN) and 1.00 (LSTM).
    table = lesson_table(("tanh RNN", "LSTM"), seed, 300)
    for label, row in table.items():
        assert row["variable_length"] and row["order"] and row["sharing"], (label, row)
        assert row["figures"]["beyond_width"] >= 1e-4, (label, row)  # far above rounding
        assert row["figures"]["order"] >= 1e-4, (label, row)
