"""A toy English grammar for the `grammar` corpus: few words, deep nesting, brackets to close.

One sentence per line. The vocabulary is tiny, so a model spells it correctly within seconds;
what stays hard is long-range structure. A subject and its verb agree across relative clauses
("the dogs that the cat sees sleep"), and a bracket or quote opened early in a line has to
be closed, in the right order, before the final full stop. Depth is bounded so lines stay
short enough for a small sequence length.
"""

from __future__ import annotations

import random

SEED = 0
TARGET_CHARS = 100_000
MAX_DEPTH = 3

NAMES = ("Anna", "Tom", "Lucy", "Walter", "Grace", "Sam")
DETS_SINGULAR = ("the", "a", "every", "one")
DETS_PLURAL = ("the", "some", "two", "many", "all the")
ADJECTIVES = ("small", "old", "red", "quiet", "happy", "tired", "green", "clever", "brave")
# (singular, plural) pairs: the model has to learn both forms and when each one is used.
NOUNS = (
    ("cat", "cats"),
    ("dog", "dogs"),
    ("bird", "birds"),
    ("child", "children"),
    ("teacher", "teachers"),
    ("fisherman", "fishermen"),
    ("baker", "bakers"),
    ("boat", "boats"),
    ("house", "houses"),
)
INTRANSITIVE = (("sleeps", "sleep"), ("sings", "sing"), ("waits", "wait"), ("laughs", "laugh"))
TRANSITIVE = (
    ("sees", "see"),
    ("follows", "follow"),
    ("likes", "like"),
    ("finds", "find"),
    ("watches", "watch"),
    ("helps", "help"),
)
SAYING = (("says", "say"), ("thinks", "think"), ("knows", "know"), ("hopes", "hope"))
PREPOSITIONS = ("near", "behind", "under", "with", "beside")
CONJUNCTIONS = ("and", "but", "because", "while")
BRACKETS = (("(", ")"), ("[", "]"))


def _enclose(words: list[str], left: str, right: str) -> list[str]:
    """Attach `left` to the first word and `right` to the last: ['(near', 'the', 'dog)']."""
    if len(words) == 1:
        return [left + words[0] + right]
    return [left + words[0], *words[1:-1], words[-1] + right]


class _Grammar:
    """Recursive-descent generator; each method returns words, `depth` limits recursion."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chance(self, p: float, depth: int) -> bool:
        """True with probability p, halved for every level of nesting, never past MAX_DEPTH."""
        return depth < MAX_DEPTH and self.rng.random() < p / 2**depth

    def bracketed(self, words: list[str]) -> list[str]:
        """Wrap a phrase in brackets some of the time, so nesting shows up as characters."""
        if self.rng.random() < 0.3:
            return _enclose(words, *self.rng.choice(BRACKETS))
        return words

    def noun_phrase(self, depth: int, quoted: bool) -> tuple[list[str], bool]:
        """Return (words, is_plural)."""
        if self.rng.random() < 0.15:
            return [self.rng.choice(NAMES)], False
        plural = self.rng.random() < 0.35
        words = [self.rng.choice(DETS_PLURAL if plural else DETS_SINGULAR)]
        if self.rng.random() < 0.4:
            words.append(self.rng.choice(ADJECTIVES))
        words.append(self.rng.choice(NOUNS)[plural])
        if self.chance(0.5, depth):
            words += self.bracketed(self.relative_clause(plural, depth + 1, quoted))
        elif self.chance(0.3, depth):
            words += self.bracketed(self.prepositional_phrase(depth + 1, quoted))
        return words, plural

    def relative_clause(self, plural: bool, depth: int, quoted: bool) -> list[str]:
        """'that sleeps' (subject gap) or 'that the cat sees' (object gap)."""
        if self.rng.random() < 0.5:
            return ["that", *self.verb_phrase(plural, depth, quoted)]
        subject, subject_plural = self.noun_phrase(depth, quoted)
        return ["that", *subject, self.rng.choice(TRANSITIVE)[subject_plural]]

    def prepositional_phrase(self, depth: int, quoted: bool) -> list[str]:
        words, _ = self.noun_phrase(depth, quoted)
        return [self.rng.choice(PREPOSITIONS), *words]

    def verb_phrase(self, plural: bool, depth: int, quoted: bool) -> list[str]:
        """The verb agrees with `plural`; the rest may nest another clause."""
        singular_or_plural = int(plural)
        roll = self.rng.random()
        if roll < 0.2 and depth < MAX_DEPTH:
            verb = self.rng.choice(SAYING)[singular_or_plural]
            # Quotes never nest: the same character opens and closes them.
            if not quoted and self.rng.random() < 0.5:
                return [verb, *_enclose(self.clause(depth + 1, quoted=True), '"', '"')]
            return [verb, "that", *self.clause(depth + 1, quoted)]
        if roll < 0.6:
            obj, _ = self.noun_phrase(depth + 1, quoted)
            return [self.rng.choice(TRANSITIVE)[singular_or_plural], *obj]
        words = [self.rng.choice(INTRANSITIVE)[singular_or_plural]]
        if self.chance(0.4, depth):
            words += self.bracketed(self.prepositional_phrase(depth + 1, quoted))
        return words

    def clause(self, depth: int, quoted: bool) -> list[str]:
        subject, plural = self.noun_phrase(depth, quoted)
        return [*subject, *self.verb_phrase(plural, depth, quoted)]

    def sentence(self) -> str:
        words = self.clause(0, quoted=False)
        if self.rng.random() < 0.25:
            words[-1] += ","
            words += [self.rng.choice(CONJUNCTIONS), *self.clause(1, quoted=False)]
        text = " ".join(words) + "."
        return text[0].upper() + text[1:] if text[0].isalpha() else text


def generate(target_chars: int = TARGET_CHARS, seed: int = SEED) -> str:
    """About `target_chars` of sentences, one per line; the same text for the same seed."""
    grammar = _Grammar(random.Random(seed))
    lines: list[str] = []
    total = 0
    while total < target_chars:
        line = grammar.sentence()
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"
