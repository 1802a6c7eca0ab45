"""Invented first names for the `names` corpus, built from syllables (in the spirit of makemore).

Each name is an onset-vowel syllable or two followed by a typical ending, so a model can learn
which letters start a name, which follow each other, and how names end, one name per line.
"""

from __future__ import annotations

import random

SEED = 0
TARGET_CHARS = 24_000

ONSETS = ("b", "d", "f", "g", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
ONSETS_RARE = ("br", "cl", "dr", "fl", "gr", "st", "th", "sh", "ch", "")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "ai", "ea", "io", "y")
CODAS = ("", "", "", "", "n", "l", "r", "s")
ENDINGS = ("a", "ia", "el", "en", "in", "o", "us", "on", "ine", "ette", "ey", "is", "ra", "na")


def _name(rng: random.Random) -> str:
    syllables = []
    for _ in range(rng.choice((1, 1, 2))):
        onset = rng.choice(ONSETS if rng.random() < 0.8 else ONSETS_RARE)
        syllables.append(onset + rng.choice(VOWELS) + rng.choice(CODAS))
    return "".join(syllables) + rng.choice(ENDINGS)


def generate(target_chars: int = TARGET_CHARS, seed: int = SEED) -> str:
    """Distinct lowercase names, one per line, in generation order, until `target_chars`."""
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    total = 0
    while total < target_chars:
        name = _name(rng)
        if name not in seen:
            seen[name] = None
            total += len(name) + 1
    return "\n".join(seen) + "\n"
