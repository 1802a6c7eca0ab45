"""The translation lesson: accuracy against input length, without and with attention.

Two encoder-decoders (GRU, same size, same seed, same pairs) learn English number words to
French. One has only the encoder's last state to start from; the other may look back at every
encoder state (attention, beyond the course). Both are judged on the same held-out numbers,
never seen in training, by the length of the English input.

Declared as data in the format of `backend.lessons.catalog`, which finds it through the task
registry; its judge (`JUDGES`) reads each run's answer to the task's `accuracy` query at the
end of the budget, on the page and in `tests/test_translate.py::test_the_attention_lesson_claim`
(seeds 0 and 1).
Measured after 600 steps, on the 100 held-out numbers by English length (0-9 / 10-19 / 20-29 /
30+ characters):

    seed 0  without attention   3/5   2/7   8/79   0/9     short 42%, long  9%
            with attention      5/5   7/7  79/79   9/9                long 100%
    seed 1  without attention   0/4   3/7   8/81   1/8     short 27%, long 10%
            with attention      3/4   7/7  80/81   8/8                long 99%
    seed 2  without attention   0/2  7/11  33/83   0/4     short 54%, long 38%
            with attention      0/2  9/11  83/83   4/4                long 100%

Short inputs lead long ones by 33, 17 and 16 points without attention: the claim says 10, since
the short buckets hold only 11-13 numbers; attention adds 91, 89 and 62 points on long ones
(the claim says 25). After 200 and 400 steps (seed 0): 6% and 8% without attention, 90% and
97% with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.lessons.catalog import Data, Lesson, Run, Text
from backend.lessons.verdicts import Check, Judge, RunEnd

RANGE = 999  # numbers 0 ... 999: inputs from 3 ("one") to 31 characters
LONG = 20  # characters: the English inputs the claim calls long
STEPS = 600
# The claim's margins, in points of exact-match accuracy on the held-out numbers.
SHORT_AHEAD = 10  # without attention, short inputs beat long ones by at least this
ATTENTION_AHEAD = 25  # on long inputs, attention beats its absence by at least this
SETTINGS = {
    "model": "gru",
    "hidden_size": 64,
    "num_layers": 1,
    "batch_size": 64,
    "learning_rate": 1e-2,
    "seed": 0,
}

# Run labels in French, for the catalog's RUN_NAMES_FR.
RUN_NAMES_FR = {"without attention": "sans attention", "with attention": "avec attention"}

ATTENTION_LESSON = Lesson(
    id="translate-attention",
    title=Text(
        "Many to many: a translator, with and without attention",
        "Plusieurs vers plusieurs : un traducteur, avec et sans attention",
    ),
    summary=Text(
        "An encoder reads an English number, three hundred and twenty-one, one character at a "
        "time; its last state is the only thing a decoder gets to write the French, trois cent "
        "vingt et un, one character at a time. A second translator, the same size, may also look "
        "back at every state of the encoder at each step: attention, which goes beyond the "
        "course. Both learn from the same numbers and are tested on numbers they never saw.",
        "Un encodeur lit un nombre en anglais, three hundred and twenty-one, caractère par "
        "caractère ; son dernier état est tout ce qu'un décodeur reçoit pour écrire le français, "
        "trois cent vingt et un, caractère par caractère. Un second traducteur, de même taille, "
        "peut aussi regarder à chaque pas tous les états de l'encodeur : c'est l'attention, qui "
        "va au-delà du cours. Les deux apprennent sur les mêmes nombres et sont testés sur des "
        "nombres qu'ils n'ont jamais vus.",
    ),
    look_for=Text(
        "In the translation panel, type a long number (seven hundred and seventy-seven) and a "
        "short one (twelve) in each run. Held-out accuracy by input length shows where the "
        "model without attention goes wrong: a whole sentence squeezed into one vector of 64 "
        "numbers. With attention, Look inside shows each French character looking at the "
        "English word it translates: the alignment matrix.",
        "Dans le panneau de traduction, tapez un nombre long (seven hundred and seventy-seven) "
        "et un court (twelve) dans chaque run. La justesse sur les nombres mis de côté, selon "
        "la longueur de l'entrée, montre où le modèle sans attention se trompe : toute une "
        "phrase tassée dans un seul vecteur de 64 nombres. Avec l'attention, « Voir à "
        "l'intérieur » montre chaque caractère français regardant le mot anglais qu'il "
        "traduit : la matrice d'alignement.",
    ),
    claim=Text(
        f"After {STEPS} steps, without attention, held-out numbers under {LONG} English "
        f"characters come out exactly right at least {SHORT_AHEAD} points more often than longer "
        f"ones; with attention, the longer ones are right at least {ATTENTION_AHEAD} points more "
        "often than without it (seeds 0 to 2: 9 to 38% without attention, 99 to 100% with it).",
        f"Après {STEPS} pas, sans attention, les nombres mis de côté de moins de {LONG} "
        f"caractères anglais sont traduits exactement au moins {SHORT_AHEAD} points plus souvent "
        f"que les plus longs ; avec attention, les plus longs sont justes au moins "
        f"{ATTENTION_AHEAD} points plus souvent que sans (graines 0 à 2 : de 9 à 38 % sans "
        "attention, de 99 à 100 % avec).",
    ),
    data=Data(task="translate", params={"range": RANGE}),
    settings=SETTINGS,
    runs=(
        Run("without attention", {}, source={"attention": "none"}),
        Run("with attention", {}, source={"attention": "general"}),
    ),
    views=("compare", "loss"),
    steps=STEPS,
    opens="without attention",  # the course's model first; attention is the step beyond
)


def _exact(answer: Mapping[str, Any], long: bool) -> float:
    """Exact-match share of the held-out numbers of `answer` (the task's `accuracy` query) whose
    English is at least LONG characters (or, with `long` false, shorter)."""
    kept = [
        (right, total)
        for start, right, total in zip(
            answer["lengths"], answer["correct"], answer["total"], strict=True
        )
        if (start >= LONG) == long
    ]
    total = sum(t for _, t in kept)
    return sum(r for r, _ in kept) / total if total else 0.0


def judge(ends: Mapping[str, RunEnd]) -> list[Check]:
    """The claim, part by part, on each run's held-out accuracy by input length."""
    plain, attending = ends["without attention"].answer, ends["with attention"].answer
    short, long = _exact(plain, long=False), _exact(plain, long=True)
    long_attending = _exact(attending, long=True)
    return [
        Check(
            f"without attention, inputs under {LONG} characters are right at least "
            f"{SHORT_AHEAD} points more often than longer ones",
            f"{short:.0%} under {LONG} characters, {long:.0%} from {LONG} on",
            short - long >= SHORT_AHEAD / 100,
            f"sans attention, les entrées de moins de {LONG} caractères sont justes au moins "
            f"{SHORT_AHEAD} points plus souvent que les plus longues",
            f"{short:.0%} sous {LONG} caractères, {long:.0%} à partir de {LONG}",
        ),
        Check(
            f"with attention, the longer ones are right at least {ATTENTION_AHEAD} points more "
            "often than without it",
            f"{long_attending:.0%} with attention, {long:.0%} without",
            long_attending - long >= ATTENTION_AHEAD / 100,
            f"avec attention, les plus longues sont justes au moins {ATTENTION_AHEAD} points "
            "plus souvent que sans",
            f"{long_attending:.0%} avec attention, {long:.0%} sans",
        ),
    ]


# Found by backend.lessons.verdicts; each run's worker answers `accuracy` at the end.
JUDGES = {ATTENTION_LESSON.id: Judge(judge, ask="accuracy")}
LESSONS = (ATTENTION_LESSON,)  # what the catalog adds to the course (backend/tasks/registry.py)
