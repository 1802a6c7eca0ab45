"""The folk tunes: ABC files of the corpus that ships inside the installed music21 package.

Nothing is downloaded or copied into this repository: the files are found from where
Python would import music21 (without importing it, so the web process stays light).

One tune is one sequence. Of its header only the lines a player needs are kept, in the
order ABC requires, so the model learns them too:

    T: title            (kept: a generated tune gets a made-up title)
    M: meter            (6/8, C|, ...)
    L: unit note length (1/8, 1/16)
    K: key              (last header line, then the music)

Everything else is stripped as noise for a character model: the reference number `X:`,
sources, notes, transcribers and other information fields (B:, N:, Z:, S:, C:, R:, O:,
P:, ...), `%` comments, lyrics lines (w:, W:), quoted strings (chord names, fingerings
and annotations such as "4" or "Am" above a note) and line continuations (a backslash
at the end of a line). Spaces at line ends go; tunes are joined by one blank line, which
is therefore what ends a tune.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HEADER_ORDER = ("T", "M", "L", "K")
FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")
QUOTED = re.compile(r'"[^"\n]*"')
SEPARATOR = "\n\n"  # between tunes: a generated tune ends at the first blank line


@dataclass(frozen=True)
class Collection:
    """A set of tunes from one folder of music21's corpus, optionally of one rhythm."""

    id: str
    name: str  # English; the page shows source.collection.<id>
    folder: str  # under music21/corpus/
    rhythms: tuple[str, ...] = ()  # keep tunes whose R: (or file name) is one of these; () all


COLLECTIONS = {
    c.id: c
    for c in (
        Collection("oneills-jigs", "O'Neill's 1850: jigs", "oneills1850", ("jig", "double jig")),
        Collection("oneills-reels", "O'Neill's 1850: reels", "oneills1850", ("reel",)),
        Collection("oneills", "O'Neill's 1850: every tune", "oneills1850"),
        Collection("ryans-jigs", "Ryan's Mammoth Collection: jigs", "ryansMammoth", ("jig",)),
        Collection("ryans-reels", "Ryan's Mammoth Collection: reels", "ryansMammoth", ("reel",)),
        Collection("ryans", "Ryan's Mammoth Collection: every tune", "ryansMammoth"),
        Collection("essen", "Essen folk songs (German)", "essenFolksong"),
    )
}
DEFAULT_COLLECTION = "oneills-jigs"


def corpus_dir() -> Path:
    """music21's corpus folder in the installed package."""
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise RuntimeError("the music21 package is not installed")
    return Path(spec.origin).parent / "corpus"


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC file: each starts at an `X:` line."""
    parts = re.split(r"\n(?=X:)", "\n" + text.replace("\r\n", "\n").replace("\r", "\n"))
    return [p.strip("\n") for p in parts if p.lstrip("\n").startswith("X:")]


def clean(tune: str, rhythms: tuple[str, ...] = (), file_name: str = "") -> str | None:
    """One tune with only T, M, L, K in its header and its music without noise (see above).

    None if it has no M, L or K line, no music, or is not of one of `rhythms`.
    """
    header: dict[str, str] = {}
    body: list[str] = []
    rhythm = ""
    for raw in tune.split("\n"):
        line = raw.split("%", 1)[0].rstrip() if "%" in raw else raw.rstrip()
        match = FIELD.match(line)
        if match and not body and match.group(1) != "|":
            tag, value = match.group(1), match.group(2).strip()
            if tag == "R":
                rhythm = value.lower()
            if tag in HEADER_ORDER and tag not in header:
                header[tag] = value
            continue
        if match or not line.strip():  # a field inside the music (w:, P:, ...) or a gap
            continue
        line = QUOTED.sub("", line).rstrip().removesuffix("\\").rstrip()
        if line:
            body.append(line)
    if not body or any(tag not in header for tag in ("M", "L", "K")):
        return None
    if rhythms and not matches(rhythm or file_name.lower(), rhythms):
        return None
    head = [f"{tag}:{header[tag]}" for tag in HEADER_ORDER if tag in header]
    return "\n".join(head + body)


def matches(rhythm: str, rhythms: tuple[str, ...]) -> bool:
    """Whether a tune's R: field (or file name) names one of `rhythms` ("slip jig" is no jig)."""
    if "slip" in rhythm or "single" in rhythm:
        return False
    return any(r == rhythm or rhythm.endswith(r) or f"{r}." in rhythm for r in rhythms)


@cache
def load(collection: str) -> tuple[str, ...]:
    """Every cleaned tune of a collection, in file order (KeyError for an unknown id)."""
    spec = COLLECTIONS[collection]
    tunes: list[str] = []
    for path in sorted((corpus_dir() / spec.folder).glob("*.abc")):
        text = path.read_text(encoding="latin-1")
        for tune in split_tunes(text):
            cleaned = clean(tune, spec.rhythms, path.stem)
            if cleaned is not None:
                tunes.append(cleaned)
    return tuple(tunes)


def join(tunes: list[str] | tuple[str, ...]) -> str:
    """The training text: tunes separated by a blank line, ending with one."""
    return "".join(t + SEPARATOR for t in tunes)


def title(tune: str) -> str:
    """A tune's T: line, or ''."""
    first = tune.split("\n", 1)[0]
    return first[2:].strip() if first.startswith("T:") else ""
