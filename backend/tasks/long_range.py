"""Texts with one character that only something far back can predict, at a gap we choose.

Each task writes examples, one per line. In every example one *dependent*
character is fixed by a *cue* earlier in the line, and everything between them
is filler that says nothing about it. The gap is the distance in characters:

  gap = index(dependent character) - index(last character of the cue)

  country      "I grew up in Spain. We had a house by the sea. I speak fluent Spanish."
               cue: the country;  dependent: the first letter of the language
  brackets     "[we had a house by the sea, it rained a lot.]"
               cue: the opening bracket or quote;  dependent: its closing partner
  copy         "ba-#=-#-==#:ba"
               cue: the random key "ba";  dependent: the first character of its copy

A model that reads the text one character at a time predicts the dependent
character right only if what it keeps about the past reaches back `gap`
characters. A fixed window of n characters sees the cue exactly when gap <= n,
so past its width it is at chance (1 / the number of possible dependent
characters). A recurrent model keeps the cue in its state h_t, but training has
to discover that through backpropagation over `gap` steps, where a tanh RNN's
gradient shrinks geometrically while an LSTM's cell state c_t carries it
(Bengio et al. 1994; Hochreiter & Schmidhuber 1997).

One training text mixes many gaps (`GapTask.text`); evaluation sweeps them
(`accuracy_vs_gap`): the accuracy of the argmax prediction of the dependent
character, after reading the line up to it, for each model at each gap.

Fillers have an exact length: random phrases are joined until they fill it, which
is always possible because the phrase pools include short words (see `_fill`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from typing import Any

import torch
from torch import nn

from backend.core.data import Vocab

SEPARATOR = "\n"  # between examples of a training text, and read before each evaluation prefix


@dataclass(frozen=True)
class Example:
    """One line of a task: `prefix`, then the dependent character `target`, then `suffix`."""

    prefix: str
    target: str
    suffix: str
    gap: int  # characters from the end of the cue to the target

    @property
    def text(self) -> str:
        return self.prefix + self.target + self.suffix


MakeExample = Callable[[int, random.Random], Example]


# ------------------------------------------------------------------- fillers

# Phrases that say nothing about any cue: no full stops, brackets or quotes.
PHRASES = {
    "en": (
        "we had a small house near the sea",
        "my father worked at the port",
        "the winters were long and grey",
        "we walked to school every morning",
        "it rained a lot",
        "the neighbours kept chickens",
        "my sister played the piano",
        "we ate soup on Sundays",
        "the bus was always late",
        "there was a bakery on the corner",
        "the garden was full of apple trees",
        "my grandmother told long stories",
        "we swam in the river in summer",
        "the church bell rang at noon",
        "my best friend lived next door",
        "we had a grey cat",
        "the road to town was narrow",
        "the market opened on Tuesdays",
        "then",
        "so",
        "well",
        "anyway",
        "and then",
        "oh",
        "yes",
        "later on",
        "of course",
    ),
    "fr": (
        "nous avions une petite maison au bord de la mer",
        "mon père travaillait au port",
        "les hivers étaient longs et gris",
        "nous allions à pied à l'école",
        "il pleuvait beaucoup",
        "les voisins avaient des poules",
        "ma sœur jouait du piano",
        "nous mangions de la soupe le dimanche",
        "le bus était toujours en retard",
        "il y avait une boulangerie au coin de la rue",
        "le jardin était plein de pommiers",
        "ma grand-mère racontait de longues histoires",
        "nous nagions dans la rivière en été",
        "la cloche sonnait à midi",
        "mon meilleur ami habitait à côté",
        "nous avions un chat gris",
        "la route du village était étroite",
        "le marché ouvrait le mardi",
        "puis",
        "bon",
        "bref",
        "enfin",
        "et puis",
        "oh",
        "oui",
        "plus tard",
        "bien sûr",
    ),
}


@cache
def _reachable(lengths: tuple[int, ...], sep: int, limit: int = 512) -> tuple[bool, ...]:
    """reachable[L]: can phrases of these lengths, joined by `sep` characters, fill exactly L?"""
    ok = [False] * (limit + 1)
    ok[0] = True
    for total in range(1, limit + 1):
        # The last phrase is either the only one, or follows a separator.
        ok[total] = any(
            n == total or (total - n - sep > 0 and ok[total - n - sep]) for n in lengths
        )
    return tuple(ok)


def _fill(length: int, phrases: Sequence[str], sep: str, rng: random.Random) -> str:
    """Random phrases joined by `sep`, exactly `length` characters long ("" for 0)."""
    ok = _reachable(tuple(sorted({len(p) for p in phrases})), len(sep))
    if length >= len(ok) or not ok[length]:
        raise ValueError(f"no filler of exactly {length} characters")
    parts: list[str] = []
    left = length
    while left > 0:
        # Choose among the phrases that end exactly here or leave a length we can still fill.
        fits = [
            p
            for p in phrases
            if len(p) == left or (left - len(p) - len(sep) > 0 and ok[left - len(p) - len(sep)])
        ]
        phrase = rng.choices(fits, weights=[len(p) for p in fits])[0]  # longer reads better
        parts.append(phrase)
        left -= len(phrase) if len(phrase) == left else len(phrase) + len(sep)
    return sep.join(parts)


def _sentences(lang: str) -> tuple[str, ...]:
    """The filler phrases as sentences: "We had a grey cat."."""
    return tuple(p[0].upper() + p[1:] + "." for p in PHRASES[lang])


def min_filler(phrases: Sequence[str], sep: str) -> int:
    """The shortest nonzero filler length from which every longer one is possible."""
    ok = _reachable(tuple(sorted({len(p) for p in phrases})), len(sep))
    last_gap = max(i for i, reachable in enumerate(ok) if not reachable)
    return last_gap + 1


# ------------------------------------------------------------------- tasks

COUNTRIES = {
    # (country, language): the first letters of the languages are all different.
    "en": (
        ("France", "French"),
        ("Germany", "German"),
        ("Spain", "Spanish"),
        ("Italy", "Italian"),
        ("Japan", "Japanese"),
        ("Russia", "Russian"),
        ("China", "Chinese"),
        ("Turkey", "Turkish"),
        ("Portugal", "Portuguese"),
        ("the Netherlands", "Dutch"),
    ),
    "fr": (
        ("en France", "français"),
        ("en Allemagne", "allemand"),
        ("en Espagne", "espagnol"),
        ("en Italie", "italien"),
        ("au Japon", "japonais"),
        ("en Russie", "russe"),
        ("en Chine", "chinois"),
        ("en Turquie", "turc"),
        ("au Portugal", "portugais"),
        ("aux Pays-Bas", "néerlandais"),
    ),
}
COUNTRY_TEMPLATES = {
    "en": ("I grew up in ", "I speak fluent "),
    "fr": ("J'ai grandi ", "Je parle couramment "),
}
# From the country's last letter to the filler: one step to the ". ", then " " before the lead.
COUNTRY_FIXED = 1 + len(". ") + len(" ")


def country_language(gap: int, rng: random.Random, lang: str = "en") -> Example:
    """An example like "I grew up in Spain. <filler> I speak fluent Spanish.", `gap` from n to S."""
    intro, lead = COUNTRY_TEMPLATES[lang]
    country, language = rng.choice(COUNTRIES[lang])
    # gap = filler + the template characters from the country's last letter to the target.
    filler = _fill(gap - COUNTRY_FIXED - len(lead), _sentences(lang), " ", rng)
    prefix = f"{intro}{country}. {filler} {lead}"
    return Example(prefix, language[0], language[1:] + ".", gap)


BRACKETS = (("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"), ('"', '"'), ("«", "»"))


def brackets(gap: int, rng: random.Random, lang: str = "en") -> Example:
    """An opening bracket or quote, `gap` - 2 characters of phrases and ".", then its partner."""
    left, right = rng.choice(BRACKETS)
    # The only full stop is the last character inside, so "." says "close now"; what is
    # left to the model is remembering *which* bracket to close.
    content = _fill(gap - 2, PHRASES[lang], ", ", rng) + "."
    return Example(left + content, right, "", gap)


COPY_SYMBOLS = "ab"  # the key's alphabet
COPY_NOISE = "-=#"  # the filler's alphabet: random, so nothing in it predicts the key
COPY_MARK = ":"  # "now copy"


def copy_delay(
    gap: int,
    rng: random.Random,
    symbols: str = COPY_SYMBOLS,
    length: int = 1,
    noise: str = COPY_NOISE,
) -> Example:
    """A random key of `length` symbols, random noise, ":" and the key again, `gap` apart."""
    key = "".join(rng.choice(symbols) for _ in range(length))
    # The copy's first character sits `gap` after the key's first: key + noise + ":" = gap.
    n_noise = gap - length - 1
    if n_noise < 0:
        raise ValueError(f"a key of {length} needs a gap of at least {length + 1}")
    filler = "".join(rng.choice(noise) for _ in range(n_noise))
    return Example(key + filler + COPY_MARK, key[0], key[1:], gap)


@dataclass(frozen=True)
class GapTask:
    """A generator of examples at any gap from `min_gap` up, with a name and its parameters."""

    name: str
    generate: MakeExample
    min_gap: int
    targets: tuple[str, ...]  # every character the dependent one can be
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def chance(self) -> float:
        """The accuracy of guessing: the targets are equally likely."""
        return 1.0 / len(self.targets)

    def examples(self, gap: int, n: int, seed: int = 0) -> list[Example]:
        """`n` examples at exactly `gap`; the same seed gives the same examples."""
        if gap < self.min_gap:
            raise ValueError(f"{self.name} needs a gap of at least {self.min_gap} (got {gap})")
        rng = random.Random(f"{self.name}:{gap}:{seed}")
        return [self.generate(gap, rng) for _ in range(n)]

    def text(self, gaps: Sequence[int], n: int, seed: int = 0) -> str:
        """A training text of `n` examples, each at a gap drawn uniformly from `gaps`."""
        rng = random.Random(f"{self.name}:text:{seed}")
        lines = [self.generate(rng.choice(gaps), rng).text for _ in range(n)]
        return SEPARATOR.join(lines) + SEPARATOR

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "min_gap": self.min_gap, "chance": self.chance, **self.params}


def _check_lang(lang: str) -> None:
    if lang not in PHRASES:
        raise ValueError(f"lang must be one of {', '.join(PHRASES)} (got {lang!r})")


def country_task(lang: str = "en") -> GapTask:
    """Which language does someone who grew up in that country speak? (`country_language`)"""
    _check_lang(lang)
    targets = tuple(sorted({language[0] for _, language in COUNTRIES[lang]}))
    lead = COUNTRY_TEMPLATES[lang][1]
    min_gap = COUNTRY_FIXED + len(lead) + min_filler(_sentences(lang), " ")
    make = partial(country_language, lang=lang)
    return GapTask("country", make, min_gap, targets, {"lang": lang})


def brackets_task(lang: str = "en") -> GapTask:
    """Which bracket or quote closes the one opened `gap` characters ago? (`brackets`)"""
    _check_lang(lang)
    closers = tuple(sorted({right for _, right in BRACKETS}))
    min_gap = 2 + min_filler(PHRASES[lang], ", ")
    return GapTask("brackets", partial(brackets, lang=lang), min_gap, closers, {"lang": lang})


def copy_task(symbols: str = COPY_SYMBOLS, length: int = 1, noise: str = COPY_NOISE) -> GapTask:
    """Repeat the key written `gap` characters ago. (`copy_delay`)"""
    special = set(COPY_MARK + SEPARATOR)
    if not symbols or not noise or set(symbols) & (set(noise) | special) or set(noise) & special:
        raise ValueError("key symbols and noise must be disjoint, without ':' or newlines")
    if length < 1:
        raise ValueError("the key needs at least one symbol")
    make = partial(copy_delay, symbols=symbols, length=length, noise=noise)
    params = {"symbols": symbols, "length": length, "noise": noise}
    return GapTask("copy", make, length + 1, tuple(sorted(set(symbols))), params)


TASK_MAKERS: dict[str, Callable[..., GapTask]] = {
    "country": country_task,
    "brackets": brackets_task,
    "copy": copy_task,
}


def make_task(name: str, **params: Any) -> GapTask:
    """The task called `name` ("country", "brackets" or "copy") made with `params`."""
    if name not in TASK_MAKERS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASK_MAKERS)}")
    try:
        return TASK_MAKERS[name](**params)
    except TypeError as err:  # an unknown parameter
        raise ValueError(f"{name}: {err}") from None


# ------------------------------------------------------------- the recall windows

# A text is a copy text when at least this share of its lines are copy lines.
COPY_TEXT_SHARE = 0.9


def recalls(text: str) -> tuple[list[int], list[int]] | None:
    """Where a copy text recalls its keys: (index of each copy's first character, its gap).

    A copy line is `key + noise + ":" + key` with one ":" (`copy_delay`); the copy's first
    character is the one step only the far past predicts. None if the text is not mostly
    copy lines (a story that happens to hold "a:a" is not a copy text).
    """
    ends: list[int] = []
    gaps: list[int] = []
    lines = 0
    start = 0
    for line in text.split(SEPARATOR):
        mark = line.find(COPY_MARK)
        key = line[mark + 1 :]
        if line:
            lines += 1
        if line and mark > 0 and key and line.count(COPY_MARK) == 1 and line.startswith(key):
            ends.append(start + mark + 1)
            gaps.append(mark + 1)  # from the key's first character to the copy's
        start += len(line) + len(SEPARATOR)
    if not lines or len(ends) < COPY_TEXT_SHARE * lines:
        return None
    return ends, gaps


def recall_windows(
    ids: torch.Tensor,
    ends: Sequence[int],
    gaps: Sequence[int],
    n: int,
    seq_len: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`n` windows (x, y) of the ids (N,) whose last target is a recalled key, for the
    gradient view: its loss at the last step is the one that needs the far past.

    The recalls are drawn from those with the longest gaps that still fit in the window (at
    least 4/5 of the longest), so the gradient has to travel across most of the window to
    reach the key, and the steps further back are the line before; None if none fits.
    """
    T = min(seq_len, len(ids) - 1)
    fits = [(e, g) for e, g in zip(ends, gaps, strict=True) if g < T and T <= e < len(ids)]
    if not fits:
        return None
    longest = max(g for _, g in fits)
    far = [e for e, g in fits if 5 * g >= 4 * longest]
    # 1. Random recalls among the far ones; each window's last target is the copy.
    pick = torch.randint(0, len(far), (n,), generator=generator)
    last = torch.tensor(far)[pick]  # (n,)
    # 2. Window k reads ids[last - T : last] and predicts ids[last - T + 1 : last + 1].
    idx = last[:, None] - T + torch.arange(T + 1)  # (n, T+1)
    chunk = ids[idx].long()
    return chunk[:, :-1], chunk[:, 1:]


# ------------------------------------------------------------------ evaluation


@torch.no_grad()
def accuracy(model: nn.Module, vocab: Vocab, examples: Sequence[Example]) -> float:
    """How often the argmax next-character prediction after SEPARATOR + prefix is the target.

    Prefixes of equal length are read as one batch, each from the zero state.
    """
    by_length: dict[int, list[Example]] = {}
    for ex in examples:
        by_length.setdefault(len(ex.prefix), []).append(ex)
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for group in by_length.values():
        x = torch.stack([vocab.encode(SEPARATOR + ex.prefix) for ex in group])  # (N, P+1)
        y = torch.tensor([vocab.stoi[ex.target] for ex in group])  # (N,)
        logits, _ = model(x.to(device))  # (N, P+1, V)
        correct += int((logits[:, -1].argmax(dim=-1).cpu() == y).sum())
    return correct / len(examples)


@dataclass(frozen=True)
class GapCurves:
    """Accuracy on the dependent character against the gap, one curve per model."""

    task: dict[str, Any]
    gaps: list[int]
    accuracy: dict[str, list[float]]  # model name -> accuracy at each gap
    chance: float

    def at(self, name: str, gap: int) -> float:
        return self.accuracy[name][self.gaps.index(gap)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy_vs_gap(
    models: Mapping[str, tuple[nn.Module, Vocab]],
    task: GapTask,
    gaps: Sequence[int],
    n: int = 100,
    seed: int = 1,
) -> GapCurves:
    """Each model's accuracy on `n` fresh examples at every gap (the same examples for all)."""
    examples = {gap: task.examples(gap, n, seed) for gap in gaps}
    curves = {
        name: [accuracy(model, vocab, examples[gap]) for gap in gaps]
        for name, (model, vocab) in models.items()
    }
    return GapCurves(task.to_dict(), list(gaps), curves, task.chance)
