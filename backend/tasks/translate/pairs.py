"""Translation pairs, generated at run time: English number words and their French.

Both sides come from `num2words` (321 -> "three hundred and twenty-one" and
"trois cent vingt et un"). The numbers 0 ... N are split once, by a seeded
permutation, into training numbers and held-out numbers, so a held-out number is
never seen in training, in either language: the split is by number, not by pair
or by string. The same (range, seed) always gives the same split.

Torch-free: the web process uses `to_number` and `english` to check queries.
"""

from __future__ import annotations

import functools
import re

import numpy as np
from num2words import num2words

from backend.errors import InvalidInput

RANGES = (99, 999, 9_999, 999_999)  # the largest number of each source range
HELD_OUT_SHARE = 0.1  # of the numbers 0 ... N, never trained on
MAX_HELD_OUT = 2000  # held-out numbers kept (validation, score and the accuracy query)
SCORE_NUMBERS = 200  # the held-out numbers the exact-match score reads at every validation
MAX_SOURCE_CHARS = 80  # the longest English input (999,999 takes 72 characters)

# The characters each side uses; fixed, so a vocabulary never depends on a sample.
ENGLISH_CHARS = " ,-abcdefghijklmnopqrstuvwxyz"
FRENCH_CHARS = " -abcdefghijklmnopqrstuvwxyzé"

UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
SCALES = {"thousand": 1_000, "million": 1_000_000}


@functools.lru_cache(maxsize=65536)
def english(n: int) -> str:
    """321 -> "three hundred and twenty-one"."""
    return num2words(n, lang="en")


@functools.lru_cache(maxsize=65536)
def french(n: int) -> str:
    """321 -> "trois cent vingt et un"."""
    return num2words(n, lang="fr")


def to_number(text: str, largest: int = RANGES[-1]) -> int:
    """The number that digits ("321", "1,204") or English number words name; InvalidInput if none.

    Words are read as people write them ("three hundred twenty one" too), then the
    translator reads the number as num2words writes it.
    """
    words = text.strip().lower()
    if not words:
        raise InvalidInput("type a number, in digits or in English words", field="text")
    if re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", words):
        n = int(words.replace(",", ""))
    else:
        n = _read_words(words)
    if n > largest:
        raise InvalidInput(f"numbers go up to {largest:,} (got {n:,})", field="text")
    return n


def _read_words(words: str) -> int:
    """English number words -> their value: units and tens add, hundred multiplies, scales close."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s,\-]+", words):
        if word in ("", "and"):
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in SCALES:
            total += max(current, 1) * SCALES[word]
            current = 0
        else:
            raise InvalidInput(f"{word!r} is not an English number word", field="text")
        seen = True
    if not seen:
        raise InvalidInput("type a number, in digits or in English words", field="text")
    return total + current


class Split:
    """The numbers 0 ... `largest`, split by a seeded permutation into training and held-out."""

    def __init__(self, largest: int, seed: int) -> None:
        self.largest = largest
        order = np.random.default_rng([seed, largest]).permutation(largest + 1)
        n_held = max(1, min(MAX_HELD_OUT, round(HELD_OUT_SHARE * (largest + 1))))
        self.held_out = np.sort(order[:n_held])  # never trained on
        self.train = order[n_held:]
        self._held = set(self.held_out.tolist())

    def is_held_out(self, n: int) -> bool:
        return n in self._held

    def score_numbers(self) -> list[int]:
        """A fixed, spread subset of the held-out numbers: the score reads these every time."""
        step = max(1, len(self.held_out) // SCORE_NUMBERS)
        return self.held_out[::step][:SCORE_NUMBERS].tolist()
