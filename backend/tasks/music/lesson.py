"""Many to many: a model that writes music.

One LSTM reads O'Neill's jigs one character at a time (header and notes alike) and writes
tunes of its own. The ear hears it learn in stages: noise, then ABC's shape (the header,
bar lines, notes of the right length), then tunes that hold their key and their meter. The
checker (`checker.py`) turns what the ear hears into a number: the share of valid tunes,
drawn beside the loss.

Declared as data in the format of `backend.lessons.catalog`, which finds it through the task
registry (`lesson_modules`); the claim's numbers are measured by
`tests/test_music.py::test_the_valid_tune_share_rises_from_near_zero_to_most_tunes`
(seeds 0 and 1, 16 tunes at temperature 0.8).
"""

from __future__ import annotations

from backend.lessons.catalog import Data, Lesson, Run, Text
from backend.tasks.music.tunes import DEFAULT_COLLECTION

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
        "a jig (a header, bars of six eighths, notes in the key) but its phrases wander. By step "
        "5,000 nearly nine tunes in ten are valid, yet the validation loss has been climbing "
        "since about step 1,000: on 209 jigs the model learns these tunes by heart more than "
        "jigs in general; play a real jig to compare.",
        "Appuyez sur lecture sous l'air qu'il écrit. Vers le pas 100, c'est du bruit, des lettres "
        "et quelques barres de mesure sans en-tête qu'un musicien puisse lire. Vers le pas 1 000, "
        "il a l'allure d'une gigue (un en-tête, des mesures de six croches, des notes dans la "
        "tonalité) mais ses phrases errent. Vers le pas 5 000, près de neuf airs sur dix sont "
        "valides, mais la perte de validation remonte depuis le pas 1 000 environ : sur 209 "
        "gigues, le modèle apprend ces airs par cœur plus que les gigues en général ; écoutez "
        "une vraie gigue pour comparer.",
    ),
    claim=Text(
        "A tune is valid when music21 reads it, it has its meter, note length and key, at least "
        "4 bars, and three quarters of its inner bars last what the meter says. Of 16 tunes "
        "written at temperature 0.8, at most 20% are valid after 50 steps, and at least half "
        "after 1,000 steps (seeds 0 and 1).",
        "Un air est valide quand music21 sait le lire, qu'il a sa mesure, sa durée de note et sa "
        "tonalité, au moins 4 mesures, et que les trois quarts de ses mesures intérieures ont la "
        "durée que dit la mesure. Sur 16 airs écrits à la température 0,8, au plus 20 % sont "
        "valides après 50 pas, et au moins la moitié après 1 000 pas (graines 0 et 1).",
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
    steps=5000,
)

LESSONS = (WRITES_MUSIC,)  # what the catalog adds to the course (backend/tasks/registry.py)
