"""The course's running example as a lesson: "This morning I took my cat for a ___".

Four models guess the next word of the same stories: a bag of words (which words
came before, in any order), a fixed window of the last two words (their one-hot
vectors concatenated, as on the slide), a bigger window of five words, and an RNN
that reads the whole text with the same weights at every step. The point is the
parameter count beside the bits per word: a window pays V x H weights for every
word of width, the RNN pays nothing for reading further back.

Declared as data in the format of `backend.lessons.catalog`, which finds it through the task
registry (`lesson_modules`) and starts its runs as words sessions; its judge (`JUDGES`) checks
the claim on each run's last validation loss and parameter count, on the page at the end of
the budget and in `tests/test_task_lesson_verdicts.py`. The claim's numbers are measured by
`tests/test_words.py::test_the_running_example_claim` (seeds 0 to 4, in English and in French).
Measured again with `Trainer` as the worker runs it (one torch thread), bits per word at step
600 (bag, 2-word window, 5-word window, RNN):

    seed 0   6.40  5.38  5.73  5.41   bag - w2 1.02, w5 - w2 0.35, RNN - w2 0.03
    seed 1   6.37  5.37  5.81  5.43   bag - w2 1.01, w5 - w2 0.44, RNN - w2 0.06
    seed 2   6.43  5.39  5.79  5.42   bag - w2 1.04, w5 - w2 0.40, RNN - w2 0.03
"""

from __future__ import annotations

from collections.abc import Mapping

from backend.lessons.catalog import STORIES, Data, Lesson, Run, Text
from backend.lessons.verdicts import Check, Judge, RunEnd, bits, french

MAX_VOCAB = 500  # the stories' 500 commonest words; about 14% of held-out words are <unk>
HIDDEN = 32
STEPS = 600
# The claim's margins, in bits per word behind the 2-word window at the end of STEPS.
BAG_BEHIND = 0.8  # the bag is more than this behind
WIDE_BEHIND = 0.2  # the 5-word window is at least this behind
RNN_WITHIN = 0.25  # the RNN is less than this behind
PROMPT = Text("This morning I took my cat for a", "Ce matin, j'ai emmené mon chat faire une")

# Run labels in French, for the catalog's RUN_NAMES_FR.
RUN_NAMES_FR = {
    "bag of words": "sac de mots",
    "2-word window": "fenêtre de 2 mots",
    "5-word window": "fenêtre de 5 mots",
}

RUNNING_EXAMPLE = Lesson(
    id="next-word",
    title=Text("This morning I took my cat for a…", "Ce matin, j'ai emmené mon chat faire une…"),
    summary=Text(
        "To guess the next word, a fixed-window model looks at the last two words only, each "
        "one a one-hot vector of the vocabulary, concatenated; a bigger window looks at five. A "
        "bag of words knows which words came before but not in which order. An RNN reads the "
        "whole text, one word at a time, with the same weights at every step. All four train "
        "on the same stories, with a vocabulary of their 500 commonest words.",
        "Pour deviner le mot suivant, un modèle à fenêtre fixe ne regarde que les deux derniers "
        "mots, chacun un vecteur one-hot du vocabulaire, mis bout à bout ; une fenêtre plus "
        "grande en regarde cinq. Un sac de mots sait quels mots sont venus avant, mais pas dans "
        "quel ordre. Un RNN lit tout le texte, mot après mot, avec les mêmes poids à chaque pas. "
        "Les quatre s'entraînent sur les mêmes histoires, avec un vocabulaire de leurs 500 mots "
        "les plus courants.",
    ),
    look_for=Text(
        "Compare the parameter counts: every extra word of window adds V×H weights, while the "
        "RNN's count does not depend on how far back it reads. Then the bits per word: the bag, "
        "blind to order, stays far behind, and the bigger window, with twice the weights, does "
        'worse on this small text. Type "This morning I took my cat for a" in the next-word box '
        "to see each model's likeliest next words; (unknown) often comes first, since most nouns "
        "are rarer than the 500 words the model knows.",
        "Comparez les nombres de paramètres : chaque mot de fenêtre en plus ajoute V×H poids, "
        "alors que celui du RNN ne dépend pas de la distance à laquelle il lit. Puis les bits par "
        "mot : le sac, aveugle à l'ordre, reste loin derrière, et la grande fenêtre, avec deux "
        "fois plus de poids, fait moins bien sur ce petit texte. Tapez « Ce matin, j'ai emmené "
        "mon chat faire une » dans la case du mot suivant pour voir les mots les plus probables "
        "de chaque modèle ; (inconnu) vient souvent en tête, car la plupart des noms sont plus "
        "rares que les 500 mots que le modèle connaît.",
    ),
    claim=Text(
        "The 2-word window has 48,500 parameters and the 5-word window 96,500: each extra word "
        f"adds V×H = 16,000. The RNN has 33,588, however long the text it reads. After {STEPS:,} "
        f"steps the bag of words is more than {BAG_BEHIND} bits per word behind the 2-word "
        f"window; the 5-word window, with twice its parameters, is at least {WIDE_BEHIND} bits "
        f"behind it; and the RNN, with fewer parameters than either window, is within "
        f"{RNN_WITHIN} bits of it.",
        "La fenêtre de 2 mots a 48 500 paramètres et celle de 5 mots 96 500 : chaque mot en plus "
        "ajoute V×H = 16 000. Le RNN en a 33 588, quelle que soit la longueur du texte qu'il lit. "
        f"Après {french(f'{STEPS:,}')} pas, le sac de mots a plus de {french(str(BAG_BEHIND))} "
        "bit par mot de retard sur la fenêtre de 2 mots ; la fenêtre de 5 mots, avec deux fois "
        f"plus de paramètres, a au moins {french(str(WIDE_BEHIND))} bit de retard sur elle ; et "
        "le RNN, avec moins de paramètres que les deux fenêtres, est à moins de "
        f"{french(str(RNN_WITHIN))} bit d'elle.",
    ),
    data=Data(corpus=STORIES, task="words", params={"max_vocab": MAX_VOCAB}),
    settings={
        "hidden_size": HIDDEN,
        "num_layers": 1,
        "seq_len": 16,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "seed": 0,
    },
    runs=(
        Run("bag of words", {"model": "bag"}),
        Run("2-word window", {"model": "window", "window": 2}),
        Run("5-word window", {"model": "window", "window": 5}),
        Run("RNN", {"model": "rnn"}),
    ),
    views=("compare", "loss", "words"),
    steps=STEPS,
    opens="RNN",  # the model that reads the whole sentence, the one the course builds up to
)


def judge(ends: Mapping[str, RunEnd]) -> list[Check]:
    """The claim, part by part, on each run's last bits per word and its parameter count."""
    bag, w2, w5, rnn = (ends[k] for k in ("bag of words", "2-word window", "5-word window", "RNN"))
    return [
        Check(
            f"the bag of words is more than {BAG_BEHIND} bits per word behind the 2-word window",
            f"bag {bits(bag.val)}, 2-word window {bits(w2.val)} bits per word",
            bag.val > w2.val + BAG_BEHIND,
            f"le sac de mots a plus de {french(str(BAG_BEHIND))} bit par mot de retard sur la "
            "fenêtre de 2 mots",
            f"sac {bits(bag.val)}, fenêtre de 2 mots {bits(w2.val)} bits par mot",
        ),
        Check(
            f"the 5-word window, with more parameters, is at least {WIDE_BEHIND} bits behind it",
            f"5-word window {bits(w5.val)} with {w5.params:,} parameters, "
            f"2-word window {bits(w2.val)} with {w2.params:,}",
            w5.val >= w2.val + WIDE_BEHIND and w5.params > w2.params,
            "la fenêtre de 5 mots, avec plus de paramètres, a au moins "
            f"{french(str(WIDE_BEHIND))} bit de retard sur elle",
            f"fenêtre de 5 mots {bits(w5.val)} avec {w5.params:,} paramètres, "
            f"fenêtre de 2 mots {bits(w2.val)} avec {w2.params:,}",
        ),
        Check(
            f"the RNN, with fewer parameters than either window, is within {RNN_WITHIN} bits of it",
            f"RNN {bits(rnn.val)} with {rnn.params:,} parameters",
            rnn.val < w2.val + RNN_WITHIN and rnn.params < min(w2.params, w5.params),
            "le RNN, avec moins de paramètres que les deux fenêtres, est à moins de "
            f"{french(str(RNN_WITHIN))} bit d'elle",
            f"RNN {bits(rnn.val)} avec {rnn.params:,} paramètres",
        ),
    ]


JUDGES = {RUNNING_EXAMPLE.id: Judge(judge)}  # found by backend.lessons.verdicts
LESSONS = (RUNNING_EXAMPLE,)  # what the catalog adds to the course (backend/tasks/registry.py)
