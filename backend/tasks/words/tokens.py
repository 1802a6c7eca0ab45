"""Words as the steps of a sequence: a tokenizer and a capped vocabulary, torch-free.

A text becomes a list of tokens: lower-case words and every punctuation mark on
its own, in English and French alike.

    "This morning, I took my cat." -> this morning , i took my cat .
    "L'homme qu'il voit."          -> l' homme qu' il voit .

A word may hold apostrophes and hyphens inside it ("don't", "aujourd'hui",
"peut-être"); a French elided article or pronoun (l', d', qu', j', ...) is a token
of its own, so "l'homme" and "l'eau" share "l'" with every other "l'".

The vocabulary keeps the `max_vocab - 1` most frequent tokens of the training text
(ties in alphabetical order, so the same text always gives the same ids) and gives
every other token the id of `<unk>`, the unknown word: a model cannot have an
output for a word it has never seen, and rare words cost parameters (one column of
W_xh and one row of W_hy each) for almost no training signal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

UNK = "<unk>"
MIN_TOKENS = 200  # enough for a training window and a validation split
VAL_FRACTION = 0.1  # the last tenth of a text is held out

# 1. French elision: a short word ending in an apostrophe, glued to the next word.
_ELISION = r"(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst])'(?=[^\W\d_])"
# 2. A word: letters and digits, with apostrophes or hyphens inside it.
_WORD = r"\w+(?:['-]\w+)*"
# 3. Anything else that is not a space is punctuation, one character per token.
_TOKEN = re.compile(rf"{_ELISION}|{_WORD}|[^\w\s]")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})
# Punctuation written against the word before it, and against the word after it.
_NO_SPACE_BEFORE = set(".,;:!?)]}»…") | {"'s"}
_NO_SPACE_AFTER = set("([{«")


def tokenize(text: str) -> list[str]:
    """The lower-case word and punctuation tokens of `text`, in order."""
    return _TOKEN.findall(text.translate(_APOSTROPHES).lower())


def detokenize(tokens: Iterable[str]) -> str:
    """Tokens joined back into readable text: a space between words, none before a full stop."""
    out: list[str] = []
    for token in tokens:
        glue = not out or token in _NO_SPACE_BEFORE or out[-1][-1:] in _NO_SPACE_AFTER
        glue = glue or out[-1].endswith("'")  # l' homme -> l'homme
        out.append(token if glue else " " + token)
    return "".join(out)


class WordVocab:
    """The most frequent tokens of a text, `<unk>` first (id 0), then by falling frequency."""

    def __init__(self, words: list[str]) -> None:
        if not words or words[0] != UNK or len(set(words)) != len(words):
            raise ValueError("a word vocabulary starts with <unk> and lists each word once")
        self.words = words
        self.stoi = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], max_vocab: int) -> WordVocab:
        """Keep the `max_vocab - 1` most frequent tokens; ties go in alphabetical order."""
        if max_vocab < 2:
            raise ValueError(f"max_vocab must be at least 2 (got {max_vocab})")
        counts = Counter(t for t in tokens if t != UNK)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls([UNK, *ranked[: max_vocab - 1]])

    @property
    def size(self) -> int:
        return len(self.words)

    def index(self, token: str) -> int | None:
        """The id of `token`, or None if it is not in the vocabulary."""
        return self.stoi.get(token)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The id of every token; a token outside the vocabulary gets `<unk>`'s id, 0."""
        return [self.stoi.get(t, 0) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens with these ids."""
        return [self.words[i] for i in ids]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens that the vocabulary does not have, each once, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.stoi))

    def to_list(self) -> list[str]:
        return list(self.words)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"WordVocab(size={self.size})"


def split_vocab(
    tokens: list[str], max_vocab: int, val_fraction: float = VAL_FRACTION
) -> tuple[WordVocab, int]:
    """The vocabulary of the training part of `tokens`, and how many last tokens are held out.

    Built from the training part only, so a word first met in the held-out part is
    `<unk>` there, as a word the model never saw is for a user: the validation loss
    is honest about it.
    """
    n_val = max(2, int(len(tokens) * val_fraction))
    return WordVocab.from_tokens(tokens[:-n_val], max_vocab), n_val
