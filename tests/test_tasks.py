"""Tasks generated in code: long-range examples at an exact gap, and the sentiment set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import torch

from backend.config import TrainConfig
from backend.core.data import Vocab
from backend.core.models import build_model
from backend.tasks import sentiment
from backend.tasks.long_range import (
    BRACKETS,
    COPY_MARK,
    COUNTRIES,
    SEPARATOR,
    accuracy,
    accuracy_vs_gap,
    make_task,
)
from backend.tasks.sentiment import SentimentClassifier, running_prediction


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ long range

TASKS = [
    ("country", {"lang": "en"}),
    ("country", {"lang": "fr"}),
    ("brackets", {"lang": "en"}),
    ("brackets", {"lang": "fr"}),
    ("copy", {"symbols": "abcd", "length": 3}),
]


@pytest.mark.parametrize(("name", "params"), TASKS)
def test_every_example_has_its_dependent_character_exactly_gap_after_the_cue(name, params):
    task = make_task(name, **params)
    for gap in (task.min_gap, task.min_gap + 1, task.min_gap + 7, 60):
        for ex in task.examples(gap, 20):
            assert ex.gap == gap and ex.target in task.targets
            assert SEPARATOR not in ex.text
            if name == "country":
                # The cue is the country; its last letter sits `gap` before the target.
                country, language = next(
                    (c, lang) for c, lang in COUNTRIES[params["lang"]] if lang[0] == ex.target
                )
                assert ex.prefix.index(country) + len(country) - 1 == len(ex.prefix) - gap
                assert ex.text.endswith(language + ".")
            elif name == "brackets":
                assert len(ex.prefix) == gap and dict(BRACKETS)[ex.prefix[0]] == ex.target
                assert ex.prefix.count(".") == 1 and ex.prefix.endswith(".")  # "." says close
            else:
                key = ex.prefix[:3]
                assert ex.prefix.endswith(COPY_MARK) and ex.target + ex.suffix == key
                assert len(ex.prefix) == gap  # from the key's first letter to its copy's


@pytest.mark.parametrize(("name", "params"), TASKS)
def test_examples_are_seeded_and_a_training_text_mixes_gaps(name, params):
    task = make_task(name, **params)
    gap = task.min_gap + 10
    assert task.examples(gap, 5, seed=1) == task.examples(gap, 5, seed=1)
    assert task.examples(gap, 5, seed=1) != task.examples(gap, 5, seed=2)
    text = task.text(range(task.min_gap, 61), 200, seed=0)
    assert text == task.text(range(task.min_gap, 61), 200, seed=0)
    lines = text.split(SEPARATOR)[:-1]
    assert len(lines) == 200 and len({len(line) for line in lines}) > 10
    with pytest.raises(ValueError):
        task.examples(task.min_gap - 1, 1)


def test_unknown_tasks_and_parameters_are_refused():
    for name, params in [
        ("sudoku", {}),
        ("copy", {"colour": "red"}),
        ("copy", {"symbols": "ab", "noise": "b-"}),
        ("country", {"lang": "de"}),
    ]:
        with pytest.raises(ValueError):
            make_task(name, **params)


def test_country_filler_names_no_country_and_no_language():
    for lang in ("en", "fr"):
        for ex in make_task("country", lang=lang).examples(80, 50):
            names = [w for pair in COUNTRIES[lang] for w in pair]
            middle = ex.prefix.split(". ", 1)[1]
            assert not any(name in middle for name in names), middle


def test_accuracy_vs_gap_reports_one_curve_per_model_and_the_chance_level():
    task = make_task("copy", symbols="abcd")
    vocab = Vocab(task.text(range(3, 20), 100))
    models = {
        kind: (build_model(TrainConfig(model=kind, hidden_size=8, num_layers=1), vocab.size), vocab)
        for kind in ("window", "lstm")
    }
    curves = accuracy_vs_gap(models, task, [3, 7, 15], n=20)
    assert curves.gaps == [3, 7, 15] and curves.chance == 0.25
    assert set(curves.accuracy) == {"window", "lstm"}
    assert all(0.0 <= a <= 1.0 for accs in curves.accuracy.values() for a in accs)
    assert curves.at("lstm", 7) == curves.accuracy["lstm"][1]
    assert curves.to_dict()["task"]["symbols"] == "abcd"


def test_accuracy_counts_the_argmax_after_each_prefix():
    task = make_task("copy", symbols="ab")
    vocab = Vocab(task.text(range(3, 10), 50))

    class Oracle(torch.nn.Module):
        """Predicts the first letter of its input (after the separator): perfect recall."""

        def forward(self, x, state=None):
            return torch.nn.functional.one_hot(x[:, 1:2], vocab.size).float().repeat(
                1, x.shape[1], 1
            ), None

    oracle = Oracle()
    oracle.register_parameter("w", torch.nn.Parameter(torch.zeros(1)))  # for its device
    assert accuracy(oracle, vocab, task.examples(9, 30)) == 1.0


# ------------------------------------------------------------------ sentiment


def test_sentiment_set_is_small_bilingual_and_has_the_flipped_pairs():
    data = sentiment.sentences()
    by_lang = Counter(s.lang for s in data)
    assert 200 <= by_lang["en"] <= 600 and 200 <= by_lang["fr"] <= 600
    texts = {s.text: s.label for s in data}
    assert texts["The food was good, not bad at all."] == sentiment.POSITIVE
    assert texts["The food was bad, not good at all."] == sentiment.NEGATIVE
    assert texts["Le repas était bon, pas mauvais du tout."] == sentiment.POSITIVE
    assert texts["Le repas était mauvais, pas bon du tout."] == sentiment.NEGATIVE
    assert texts["La soupe était mauvaise, pas excellente du tout."] == sentiment.NEGATIVE
    feminine = "Au début, la soupe semblait mauvaise, mais au final elle était bonne."
    assert texts[feminine] == sentiment.POSITIVE
    assert len(texts) == len(data)  # no sentence twice


def test_every_flipped_pair_is_an_anagram_with_opposite_labels():
    pairs: dict[int, list[sentiment.Sentence]] = {}
    for s in sentiment.flipped_pairs(sentiment.sentences()):
        pairs.setdefault(s.pair, []).append(s)
    assert len(pairs) >= 200
    for a, b in pairs.values():
        assert sorted(a.text) == sorted(b.text) and a.text != b.text
        assert {a.label, b.label} == {sentiment.POSITIVE, sentiment.NEGATIVE}


def test_test_split_is_about_subjects_training_never_sees():
    train, test = sentiment.split()
    assert {s.about for s in train}.isdisjoint({s.about for s in test})
    assert len(sentiment.flipped_pairs(test)) >= 64
    assert {s.lang for s in test} == {"en", "fr"}


def test_a_bag_gives_both_sentences_of_a_pair_the_same_answer_by_construction():
    vocab = sentiment.vocabulary()
    bag = SentimentClassifier("bag", vocab, hidden_size=8, seed=3)
    pairs = sentiment.flipped_pairs(sentiment.sentences())[:40]
    x, lengths = bag.encode([s.text for s in pairs])
    p = bag(x, lengths).softmax(dim=-1)  # (40, 2)
    torch.testing.assert_close(p[0::2], p[1::2])  # rows 2k and 2k+1 are one pair
    assert sentiment.accuracy(bag, pairs) == 0.5


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "window", "bag"])
def test_classifier_reads_the_last_real_character_of_each_padded_sentence(kind):
    model = SentimentClassifier(kind, sentiment.vocabulary(), hidden_size=8, window=4)
    texts = ["The food was good.", "Le film était nul, pas génial du tout."]
    x, lengths = model.encode(texts)
    batched = model(x, lengths)  # (2, 2)
    for row, text in enumerate(texts):
        alone = model.running(model.encode([text])[0])[0, -1]
        torch.testing.assert_close(batched[row], alone)


def test_running_prediction_gives_one_probability_per_typed_character():
    model = SentimentClassifier("lstm", sentiment.vocabulary(), hidden_size=8)
    text = "The food was good ✓"  # ✓ is not in the set: skipped, the value holds
    p = running_prediction(model, text)
    assert len(p) == len(text) and all(0.0 < q < 1.0 for q in p)
    assert p[-1] == p[-2]
    x = model.encode(["The food was good "])[0]
    expected = model.running(x).softmax(dim=-1)[0, :, sentiment.POSITIVE]
    torch.testing.assert_close(torch.tensor(p[:-1]), expected)
    assert running_prediction(model, "") == []


def test_train_classifier_uses_the_settings_and_fits_plain_sentences():
    model = SentimentClassifier("lstm", sentiment.vocabulary(), hidden_size=16, seed=1)
    plain = [s for s in sentiment.sentences("en") if s.pair < 0]
    losses = sentiment.train_classifier(model, plain, steps=60)
    assert len(losses) == 60 and sum(losses[-10:]) < sum(losses[:10])
    again = SentimentClassifier("lstm", sentiment.vocabulary(), hidden_size=16, seed=1)
    assert sentiment.train_classifier(again, plain, steps=60) == losses  # seeded
