"""Every lesson is a valid preset in both languages, and its claim holds when trained from it.

The claim tests train exactly what the lesson's one click trains (its data, its runs'
settings) on one CPU thread per process, over several seeds, within the lesson's budget of
steps; how they are made to hold on any machine is written below and in docs/lessons.md.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from backend import config
from backend.config import LIMITS
from backend.core.data import TextDataset
from backend.core.internals import gradient_through_time
from backend.core.models import build_model
from backend.core.training import Trainer
from backend.errors import InvalidInput, NotFound
from backend.lessons import catalog as lessons
from backend.lessons import ends, verdicts
from backend.lessons.catalog import Lesson
from backend.tasks import sentiment
from backend.tasks.long_range import make_task
from backend.tasks.registry import TASKS
from backend.tasks.text.task import TextTask
from tests.lesson_ends import judged_at_budget

LONG_GAPS = (40, 50, 60)
WINDOW_GAPS = (3, 5, 8, 10, 20, 40, 60)  # the window lesson: three inside its width, four out


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ the presets


def test_lessons_have_unique_ids_and_can_be_looked_up():
    ids = [lesson.id for lesson in lessons.list_lessons()]
    assert len(ids) == len(set(ids)) >= 7
    assert lessons.get("long-range").id == "long-range"
    with pytest.raises(NotFound):
        lessons.get("no-such-lesson")


@pytest.mark.parametrize("lesson", lessons.list_lessons(), ids=lambda lesson: lesson.id)
def test_every_run_parses_and_every_view_exists(lesson: Lesson):
    assert lesson.runs and lesson.steps > 0
    for run in lesson.runs:
        cfg = config.parse({**lesson.settings, **run.settings})
        assert cfg == lesson.config(run.label)
    assert set(lesson.views) <= set(lessons.VIEWS)
    for run in lesson.runs:  # a label in words has a French name; RNN, LSTM, GRU are the same
        assert lessons.run_name(run.label, "fr") != run.label or run.label.isupper(), run.label
    assert lesson.opening in [run.label for run in lesson.runs]
    with pytest.raises(NotFound):
        lesson.config("no such run")


@pytest.mark.parametrize("lesson", lessons.list_lessons(), ids=lambda lesson: lesson.id)
@pytest.mark.parametrize("lang", lessons.LANGS)
def test_every_lesson_speaks_english_and_french(lesson: Lesson, lang: str):
    out = lesson.to_dict(lang)
    assert out["id"] == lesson.id and lesson.id in out["link"]
    for key in ("summary", "look_for", "claim"):
        sentences = out[key].count(". ") + out[key].count(": ") + 1
        assert 1 <= sentences <= 6, (key, out[key])
    assert out["title"]
    other = lesson.to_dict("fr" if lang == "en" else "en")
    assert all(out[k] != other[k] for k in ("title", "summary", "look_for", "claim"))
    if lesson.data.corpus is None and lesson.data.task in TASKS:
        return  # a task that generates its own data (number pairs): there is no text to read
    text = lessons.training_text(lesson.data, lang)
    assert len(text) >= LIMITS.min_text_chars
    assert len(set(text)) <= LIMITS.max_vocab


def test_unknown_language_is_refused():
    with pytest.raises(InvalidInput):
        lessons.get("lstm-gates").to_dict("de")
    assert len(lessons.describe("fr")) == len(lessons.list_lessons())


# ------------------------------------------------------------------ how a claim is tested
#
# A claim must hold on any machine. CPUs round differently in their kernels, so a run
# that just clears a threshold at a fixed step on one processor can land on the other
# side of it on another (issue 11: three claims failed on an AMD EPYC that passed on an
# Intel Xeon). Every claim test here therefore
#   1. trains until the claim is reached, checking every CHECK_EVERY steps, up to the
#      lesson's budget (`lesson.steps`), instead of judging one fixed step;
#   2. uses settings where the effect is large, with thresholds far from the figures
#      measured (the measured figures are written next to each threshold);
#   3. holds on at least NEED of SEEDS, and prints every seed's figures when it fails.
# Seeds are tried in order and the test stops as soon as the verdict is known.

SEEDS = (0, 1, 2, 3, 4)
NEED = 4
CHECK_EVERY = 125


def over_seeds(claim: Callable[[int], tuple[bool, str]]) -> None:
    """Assert that `claim(seed)` holds on at least NEED of SEEDS, with every figure on failure."""
    results: list[tuple[int, bool, str]] = []
    for seed in SEEDS:
        results.append((seed, *claim(seed)))
        passed = sum(ok for _, ok, _ in results)
        if passed >= NEED or len(results) - passed > len(SEEDS) - NEED:
            break
    report = "\n".join(f"seed {s}: {'ok' if ok else 'MISSED'} - {why}" for s, ok, why in results)
    assert passed >= NEED, f"the claim held on {passed} of {len(results)} seeds:\n{report}"


@dataclass
class RaceRun:
    """One run of a memory lesson with its accuracies at each gap, measured every CHECK_EVERY."""

    lesson: Lesson
    trainer: Trainer
    gaps: tuple[int, ...]
    checks: dict[int, list[float]] = field(default_factory=dict)

    def at(self, step: int) -> list[float]:
        """Accuracy at each of `gaps` after `step` steps (trains on as far as needed)."""
        if step not in self.checks:
            assert self.trainer.step_count <= step, f"step {step} was passed unmeasured"
            while self.trainer.step_count < step:
                self.trainer.step()
            self.checks[step] = gap_accuracy(self.lesson, self.trainer, self.gaps)
        return self.checks[step]


def race_run(lesson: Lesson, label: str, seed: int) -> RaceRun:
    """A fresh run of `label` of `lesson` with `seed`."""
    cfg = lesson.config(label).replace(seed=seed)
    text = lessons.training_text(lesson.data)
    gaps = WINDOW_GAPS if cfg.model == "window" else LONG_GAPS
    return RaceRun(lesson, Trainer(TextTask.from_text(text), cfg), gaps)


def memory_figures(seed: int) -> dict[str, Any]:
    """Every memory claim's figures for one seed (runs in a worker process, see `measure`).

    Each run trains until it recalls the key at least 90% of the time at every gap it
    is judged on, checked every CHECK_EVERY steps up to its lesson's budget; the tanh
    RNN trains alongside and is measured at the same steps.
    """
    torch.set_num_threads(1)
    long_range, vanishing = lessons.get("long-range"), lessons.get("vanishing-gradients")
    tanh = race_run(long_range, "tanh RNN", seed)
    out: dict[str, Any] = {}
    for lesson, label, judged in (
        (long_range, "window 8", slice(0, 3)),  # gaps 3, 5 and 8: inside its width
        (vanishing, "ReLU + identity", slice(None)),
        (long_range, "LSTM", slice(None)),
    ):
        run, step = race_run(lesson, label, seed), None
        for at in range(CHECK_EVERY, lesson.steps + 1, CHECK_EVERY):
            if label != "window 8":
                tanh.at(at)  # every checkpoint, in order, so any step can be compared
            if min(run.at(at)[judged]) >= 0.9:
                step = at
                break
        out[label] = {"step": step, "accuracy": run.at(step or lesson.steps)}
        if label != "window 8" and step is not None:
            out[label]["tanh"] = tanh.at(step)
    return out


def stories_figures(seed: int) -> dict[str, float]:
    """The next-character, window-vs-rnn and lstm-gates claims' figures for one seed."""
    torch.set_num_threads(1)
    lstm = train(lessons.get("next-character"), "LSTM", seed)
    # What clamping each gate costs, asked as the live lesson's verdict asks it.
    clamps = lstm.answer("clamps", {"surgeries": ends.CLAMPS, "chars": ends.CLAMP_CHARS})
    window = lessons.get("window-vs-rnn")
    runs = {k: train(window, k, seed) for k in ("window 1", "window 8", "bag of characters")}
    return {
        "LSTM": lstm.evaluate(),
        "unigram": unigram_bits(lstm),
        **clamps["bits"],
        **{k: run.evaluate() for k, run in runs.items()},
    }


def sentiment_figures(seed: int) -> dict[str, float]:
    """The order-matters claim's figures for one seed: accuracy on order-flipped pairs."""
    torch.set_num_threads(1)
    lesson = lessons.get("order-matters")
    train_set, test_set = sentiment.split()
    pairs = sentiment.flipped_pairs(test_set)
    scores = {}
    for label in ("bag of characters", "LSTM"):
        cfg = lesson.config(label).replace(seed=seed)
        model = sentiment.SentimentClassifier.from_config(cfg, sentiment.vocabulary())
        sentiment.train_classifier(model, train_set, steps=lesson.steps)
        scores[label] = sentiment.accuracy(model, pairs)
    return scores


FIGURES: dict[str, Callable[[int], dict[str, Any]]] = {
    "memory": memory_figures,
    "stories": stories_figures,
    "sentiment": sentiment_figures,
}
_measured: dict[tuple[str, int], dict[str, Any]] = {}


def measure(family: str, seed: int) -> dict[str, Any]:
    """`FIGURES[family](seed)`, computed with the first NEED seeds on both cores at once.

    pytest runs one test at a time, so the second core would idle; these runs are the
    suite's longest training, and two processes halve their wall time.
    """
    if (family, seed) not in _measured:
        batch = [s for s in SEEDS[:NEED] if (family, s) not in _measured] if seed < NEED else [seed]
        spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            for s, figures in zip(batch, pool.map(FIGURES[family], batch), strict=True):
                _measured[family, s] = figures
    return _measured[family, seed]


def race(label: str, seed: int) -> tuple[bool, str]:
    """Did `label` recall the key >= 90% at gaps 40-60 within budget, with tanh still < 70%?"""
    fig = measure("memory", seed)[label]
    if fig["step"] is None:
        return False, f"{label} stayed below 90% within its budget: {fig['accuracy']}"
    why = f"{label} {fig['accuracy']} at step {fig['step']}, tanh RNN {fig['tanh']} then"
    return max(fig["tanh"]) < 0.7, why


# ------------------------------------------------------------------ the claims


def train(lesson: Lesson, label: str, seed: int) -> Trainer:
    """Run `label` of `lesson` with `seed`, after the lesson's `steps` steps."""
    cfg = lesson.config(label).replace(seed=seed)
    trainer = Trainer(TextTask.from_text(lessons.training_text(lesson.data)), cfg)
    for _ in range(lesson.steps):
        trainer.step()
    return trainer


def unigram_bits(trainer: Trainer) -> float:
    """The entropy of the letter frequencies of the validation text, as the live verdict reads
    it (the training text's was 0.05 bits lower: 4.39 against 4.44 for the stories)."""
    return ends.letter_entropy(ends.held_out(trainer.dataset.text))


def gap_accuracy(lesson: Lesson, trainer: Trainer, gaps: tuple[int, ...]) -> list[float]:
    """Accuracy at each of `gaps`, asked as the gap view and the live verdict ask it."""
    return trainer.answer("gaps", {**ends.gap_query(lesson), "gaps": list(gaps)})["accuracy"]


def claim(family: str, lesson_id: str) -> None:
    """Assert that `lesson_id`'s verdict holds on `family`'s figures at the end of its budget,
    on at least NEED seeds and on the lesson's own seed, the one a class's live run uses."""

    def one(seed: int) -> tuple[bool, str]:
        verdict = verdicts.judge(lesson_id, measure(family, seed))
        return verdict.held, str(verdict)

    over_seeds(one)
    own = verdicts.judge(lesson_id, measure(family, lessons.get(lesson_id).settings["seed"]))
    assert own.held, f"the lesson's own seed: {own}"


def test_next_character_beats_letter_frequencies():
    claim("stories", "next-character")  # measured: LSTM 2.93-3.01 against 4.44


def test_window_parameters_grow_with_width_and_context_helps():
    lesson = lessons.get("window-vs-rnn")
    V = len(set(lessons.training_text(lesson.data)))
    H = lesson.settings["hidden_size"]
    widths = {n: build_model(lesson.config(f"window {n}"), V).num_params() for n in (1, 4, 8, 16)}
    assert all(widths[n] - widths[1] == (n - 1) * V * H for n in widths)
    rnn = lesson.config("RNN")
    counts = {build_model(rnn.replace(seq_len=T), V).num_params() for T in (16, 64, 256)}
    assert len(counts) == 1
    # measured: window 8 at 2.86 against 3.46 for window 1; the bag 4.32 against 4.44
    claim("stories", "window-vs-rnn")


def test_order_flipped_pairs_defeat_the_bag_but_not_the_lstm():
    # exactly 0.5 for the bag: the two sentences of a pair have the same counts
    claim("sentiment", "order-matters")  # measured: the LSTM at 1.00


def test_long_range_window_is_blind_past_its_width():
    lesson = lessons.get("long-range")
    chance = make_task(lesson.data.task, **lesson.data.params).chance

    def window(seed: int) -> tuple[bool, str]:
        fig = measure("memory", seed)["window 8"]
        outside = fig["accuracy"][3:]  # gaps 10 to 60
        ok = fig["step"] is not None and all(abs(a - chance) <= 0.15 for a in outside)
        return ok, f"step {fig['step']}: {dict(zip(WINDOW_GAPS, fig['accuracy'], strict=True))}"

    over_seeds(window)  # measured: >= 0.97 inside by step 125-250, 0.18-0.32 outside


def test_long_range_lstm_remembers_long_before_the_tanh_rnn():
    # measured: the LSTM at 1.00 by step 750-1250; the tanh RNN at 0.20-0.31 then
    over_seeds(lambda seed: race("LSTM", seed))


def test_vanishing_gradient_fixes_remember_across_long_gaps():
    # measured: ReLU + identity at >= 0.96 by step 500-750; the tanh RNN at 0.19-0.29 then
    over_seeds(lambda seed: race("ReLU + identity", seed))
    # The LSTM and tanh RNN runs are the long-range lesson's: same data, same settings.
    lesson, long_range = lessons.get("vanishing-gradients"), lessons.get("long-range")
    assert lesson.data == long_range.data
    assert all(lesson.config(k) == long_range.config(k) for k in ("LSTM", "tanh RNN"))


def test_exploding_gradients_are_tamed_by_clipping():
    lesson = lessons.get("exploding-gradients")
    data = TextDataset.from_text(lessons.training_text(lesson.data))

    def explodes(seed: int) -> tuple[bool, str]:
        free = Trainer(TextTask(data), lesson.config("no clipping").replace(seed=seed))
        start, peak, end = free.evaluate(), 0.0, None
        while free.step_count < 100 and end is None:
            norm = free.step().grad_norm
            peak = max(peak, norm if math.isfinite(norm) else math.inf)
            if peak > 1000 and free.step_count % 10 == 0:
                loss = free.evaluate()
                end = loss if not math.isfinite(loss) or loss > start + 1 else None
        clipped = Trainer(TextTask(data), lesson.config("clipping at 1").replace(seed=seed))
        for _ in range(lesson.steps):
            clipped.step()
        learnt = clipped.evaluate()
        why = (
            f"no clipping: norm {peak:.3g}, loss {start:.2f} -> {end} by step "
            f"{free.step_count}; clipping: {start:.2f} -> {learnt:.2f} bits at {lesson.steps}"
        )
        return end is not None and learnt < start - 1.5, why

    over_seeds(explodes)  # measured: norms 4e3-6e10 and NaN by step 10-40; clipped 1.9 down


def test_vanishing_gradients_at_initialisation():
    lesson = lessons.get("vanishing-gradients")
    data = TextDataset.from_text(lessons.training_text(lesson.data))
    x, y = data.val_windows(lesson.settings["seq_len"])
    # measured over seeds 0-3: tanh 3e-16-5e-13, ReLU alone 0-6e-21, identity alone
    # 3.3e-2-4.8e-2, ReLU + identity 0.41-0.48
    for seed in range(4):
        ratios = {
            label: gradient_through_time(
                build_model(lesson.config(label).replace(seed=seed), data.vocab.size),
                x[:16],
                y[:16],
            ).ratio
            for label in ("tanh RNN", "ReLU alone", "identity alone", "ReLU + identity")
        }
        assert ratios["tanh RNN"] < 1e-6, (seed, ratios)
        assert ratios["ReLU alone"] < 1e-6, (seed, ratios)
        assert ratios["identity alone"] > 1e-2, (seed, ratios)
        assert ratios["ReLU + identity"] > 1e-2, (seed, ratios)


def test_lstm_gates_matter():
    # The lesson's run is the next-character lesson's: the same settings on the same text.
    assert lessons.get("lstm-gates").config("LSTM") == lessons.get("next-character").config("LSTM")
    claim("stories", "lstm-gates")


# ------------------------------------------------------------------ the verdict at the end
#
# A class watches one run per label, with the lesson's own seed, until the budget stops it;
# the verdict then reads the figures the views show at that step. The claims above that are
# judged at the budget (the stories, the pairs) already check the lesson's own seed there;
# these tests do the same for the lessons whose claim tests stop as soon as the claim is
# reached: every run trains to the budget and the verdict is judged on its last figures.


def end_of_budget(job: tuple[str, str, tuple[int, ...]]) -> dict[int, list[float]]:
    """Accuracy at every gap the gap view sweeps, at each step of `stops`, for one run."""
    torch.set_num_threads(1)
    lesson_id, label, stops = job
    lesson = lessons.get(lesson_id)
    trainer = Trainer(TextTask.from_text(lessons.training_text(lesson.data)), lesson.config(label))
    out = {}
    for stop in stops:
        while trainer.step_count < stop:
            trainer.step()
        out[stop] = gap_accuracy(lesson, trainer, lesson.data.eval_gaps)
    return out


# The runs each memory lesson's verdict reads, with the steps they are read at; the runs
# the long-range, vanishing and criteria lessons share (same data, settings, seed and budget)
# train once.
MEMORY_RUNS = (
    ("sequence-criteria", "bag of characters", (1500,)),
    ("long-range", "window 8", (1500,)),
    ("long-range", "tanh RNN", (1500,)),
    ("long-range", "LSTM", (1500,)),
    ("vanishing-gradients", "ReLU + identity", (1500,)),
)


@functools.cache
def memory_at_the_end() -> dict[str, dict[int, list[float]]]:
    """Each memory run's accuracies at its lesson's budget, on both cores at once."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        ends = pool.map(end_of_budget, MEMORY_RUNS)
        return {label: curve for (_, label, _), curve in zip(MEMORY_RUNS, ends, strict=True)}


def gap_figures(lesson: Lesson) -> dict[str, Any]:
    """What the gap view shows when `lesson` ends: each of its runs measured here, by gap."""
    task = make_task(lesson.data.task, **lesson.data.params)
    ended = memory_at_the_end()
    shown = {
        run.label: ended[run.label][lesson.steps]
        for run in lesson.runs
        if lesson.steps in ended.get(run.label, {})
    }
    return {"gaps": list(lesson.data.eval_gaps), "chance": task.chance, **shown}


@pytest.mark.timeout(900)  # the first one trains the runs: about 40 s on a quiet machine
@pytest.mark.parametrize("lesson_id", ["long-range", "sequence-criteria", "vanishing-gradients"])
def test_a_memory_lesson_ends_on_a_verdict_that_bears_out_its_claim(lesson_id: str):
    lesson = lessons.get(lesson_id)
    for owner, label, _ in MEMORY_RUNS:  # a run trained once is the same run in every lesson
        if label in {run.label for run in lesson.runs}:
            assert lesson.data == lessons.get(owner).data
            assert lesson.config(label) == lessons.get(owner).config(label)
    verdict = verdicts.judge(lesson_id, gap_figures(lesson))
    assert verdict.held, str(verdict)


def test_the_exploding_lesson_ends_broken_without_clipping_and_learnt_with_it():
    # Read and judged as the page's verdict is (`ends.verdict`), on the lesson's own seed.
    verdict = judged_at_budget(lessons.get("exploding-gradients"))
    assert verdict.held, str(verdict)  # measured, live too: NaN unclipped; 5.89 -> 3.94 clipped


def test_every_catalog_lesson_has_a_verdict_and_an_end_test():
    ended_here = {"long-range", "sequence-criteria", "vanishing-gradients", "exploding-gradients"}
    judged_at_budget = {"next-character", "window-vs-rnn", "order-matters", "lstm-gates"}
    catalog = {lesson.id for lesson in lessons.LESSONS}
    assert catalog == set(verdicts.JUDGES) == ended_here | judged_at_budget
