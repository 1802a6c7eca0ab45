"""Many to many: a model that writes music.

One LSTM reads O'Neill's jigs one character at a time (header and notes alike) and writes
tunes of its own. The ear hears it learn in stages: noise, then ABC's shape (the header,
bar lines, notes of the right length), then tunes that hold their key and their meter. The
checker (`checker.py`) turns what the ear hears into a number: the share of valid tunes,
drawn beside the loss.

Declared as data in the format of `backend.lessons.catalog`, which finds it through the task
registry (`lesson_modules`); its judge (`JUDGES`) reads the valid share the run ends on, on
the page at the end of the budget. `tests/test_music.py` checks both the 16-tune numbers and
that judge at the budget (`test_the_valid_tune_share_rises_from_near_zero_to_most_tunes`).

The budget is near where the validation loss is lowest. Measured from this preset (one torch
thread, `Trainer` as the worker runs it), valid tunes of the 8 scored (of 16 at seed 7) and
validation bits per character:

    step      seed 0            seed 1            seed 2
    50        0 (0/16)  4.51    0 (0/16)  4.35    0 (0/16)  4.49
    500       4 (6/16)  2.38    4 (11/16) 2.39    3 (9/16)  2.38
    1000      6 (12/16) 2.34    7 (13/16) 2.37    4 (11/16) 2.37
    1500      5 (11/16) 2.43    5 (11/16) 2.47    7 (9/16)  2.45
    4000      6 (14/16) 3.07

So at 1,000 steps at least 4 of 8 are valid on every seed (the claim says 3: one tune of
margin, and the score beside the loss may be a few seconds older than the end), and past it
the validation loss climbs while the tunes stay valid: the model learns these 209 tunes by heart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from backend.lessons.catalog import Data, Lesson, Run, Text
from backend.lessons.verdicts import Check, Judge, RunEnd, bits, french
from backend.tasks.music.tunes import DEFAULT_COLLECTION

STEPS = 1000  # the budget: where the validation loss is near its lowest (it climbs after)
SCORED = 8  # tunes in the valid share drawn beside the loss (the task's SCORE_TUNES)
MIN_VALID = 3  # the claim: at least this many of them are valid at the end

WRITES_MUSIC = Lesson(
    id="many-to-many-music",
    title=Text(
        "Many to many: a model that writes music",
        "Plusieurs vers plusieurs : un modèle qui écrit de la musique",
    ),
    summary=Text(
        "An LSTM reads 209 Irish jigs from O'Neill's 1850 collection, written in ABC notation, "
        "one character at a time: the header (meter, note length, key) and then the notes. It "
        "reads a sequence and writes one back, character after character: many to many. Each "
        "tune it writes is drawn as sheet music, can be played, and is checked.",
        "Un LSTM lit 209 gigues irlandaises du recueil d'O'Neill (1850), écrites en notation "
        "ABC, un caractère à la fois : l'en-tête (mesure, durée de note, tonalité) puis les "
        "notes. Il lit une séquence et en écrit une autre, caractère après caractère : plusieurs "
        "vers plusieurs. Chaque air qu'il écrit est affiché en partition, peut être joué, et est "
        "vérifié.",
    ),
    look_for=Text(
        "Press play on the tune it writes. Near step 100 it is noise, letters and a few bar "
        "lines with no header that a musician could read. Near step 1,000 it has the shape of "
        "a jig (a header, bars of six eighths, notes in the key) but its phrases wander. The "
        "lesson stops there, where the validation loss is near its lowest; run on, and nearly "
        "every tune becomes valid while the validation loss climbs (seed 0: 0.7 bits above its "
        "best by step 4,000): on 209 jigs the model learns these tunes by heart more than jigs "
        "in general; play a real jig to compare.",
        "Appuyez sur lecture sous l'air qu'il écrit. Vers le pas 100, c'est du bruit, des lettres "
        "et quelques barres de mesure sans en-tête qu'un musicien puisse lire. Vers le pas 1 000, "
        "il a l'allure d'une gigue (un en-tête, des mesures de six croches, des notes dans la "
        "tonalité) mais ses phrases errent. La leçon s'arrête là, quand la perte de validation "
        "est proche de son minimum ; si vous continuez, presque tous les airs deviennent valides, "
        "mais la perte de validation remonte (de 0,7 bit au-dessus de son minimum au pas 4 000 "
        "pour la graine 0) : "
        "sur 209 gigues, le modèle apprend ces airs par cœur plus que les gigues en général ; "
        "écoutez une vraie gigue pour comparer.",
    ),
    claim=Text(
        "A tune is valid when music21 reads it, it has its meter, note length and key, at least "
        "4 bars, and three quarters of its inner bars last what the meter says. Of 16 tunes "
        "written at temperature 0.8, at most 20% are valid after 50 steps and at least half "
        f"after {STEPS:,} (seeds 0 to 2: none, then 69 to 81%); at the end, at least {MIN_VALID} "
        f"of the {SCORED} tunes of the valid share drawn beside the loss are valid (4 to 7).",
        "Un air est valide quand music21 sait le lire, qu'il a sa mesure, sa durée de note et sa "
        "tonalité, au moins 4 mesures, et que les trois quarts de ses mesures intérieures ont la "
        "durée que dit la mesure. Sur 16 airs écrits à la température 0,8, au plus 20 % sont "
        f"valides après 50 pas et au moins la moitié après {french(f'{STEPS:,}')} (graines 0 à "
        "2 : aucun, puis 69 à 81 %) ; à la fin, au moins "
        f"{MIN_VALID} des {SCORED} airs de la part de valides tracée à côté de la perte sont "
        "valides (4 à 7).",
    ),
    data=Data(task="music", params={"collection": DEFAULT_COLLECTION}),
    settings={
        "hidden_size": 64,
        "num_layers": 1,
        "seq_len": 64,
        "batch_size": 32,
        "learning_rate": 0.01,
        "seed": 0,
    },
    runs=(Run("LSTM", {"model": "lstm"}),),
    views=("loss", "samples"),
    steps=STEPS,
)


def judge(ends: Mapping[str, RunEnd]) -> list[Check]:
    """The claim on the valid share the run ends on (the score beside the loss)."""
    lstm = ends["LSTM"]
    share = math.nan if lstm.score is None else lstm.score
    valid = round(share * SCORED) if math.isfinite(share) else 0
    return [
        Check(
            f"at least {MIN_VALID} of the {SCORED} tunes it writes are valid",
            f"{valid} of {SCORED} valid, validation loss {bits(lstm.val)} bits per character",
            valid >= MIN_VALID,
            f"au moins {MIN_VALID} des {SCORED} airs qu'il écrit sont valides",
            f"{valid} sur {SCORED} valides, perte de validation {bits(lstm.val)} bits par "
            "caractère",
        )
    ]


JUDGES = {WRITES_MUSIC.id: Judge(judge)}  # found by backend.lessons.verdicts
LESSONS = (WRITES_MUSIC,)  # what the catalog adds to the course (backend/tasks/registry.py)
