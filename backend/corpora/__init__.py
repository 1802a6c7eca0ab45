"""Built-in training texts: what each one teaches, and its text, loaded once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from backend.corpora import gutenberg
from backend.corpora.grammar import generate as generate_grammar
from backend.corpora.names import generate as generate_names
from backend.corpora.python_source import collect as collect_python
from backend.errors import NotFound


@dataclass(frozen=True)
class CorpusInfo:
    """A built-in text as the class sees it in the corpus picker."""

    id: str
    name: str
    description: str


def _read_bundled(filename: str) -> Callable[[], str]:
    """Return a loader for a text file shipped inside this package."""

    def read() -> str:
        return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")

    return read


_CORPORA: dict[str, tuple[CorpusInfo, Callable[[], str]]] = {
    info.id: (info, loader)
    for info, loader in [
        (
            CorpusInfo(
                "english",
                "English stories",
                "Short stories about a fishing village, where the model first learns spaces "
                "and common words, then names, quotes and dialogue.",
            ),
            _read_bundled("english.txt"),
        ),
        (
            CorpusInfo(
                "french",
                "Histoires en français",
                "Stories from a Breton fishing village, where the model learns French words, "
                "accents and the « guillemets » of dialogue.",
            ),
            _read_bundled("french.txt"),
        ),
        (
            CorpusInfo(
                "python",
                "Python source",
                "Modules from Python's own standard library, where the model learns to indent "
                "blocks, close brackets and reuse variable names.",
            ),
            collect_python,
        ),
        (
            CorpusInfo(
                "grammar",
                "Toy grammar",
                "Sentences from a tiny grammar with nested clauses and brackets, where the model "
                "learns the vocabulary in seconds and then learns to close what it opened.",
            ),
            generate_grammar,
        ),
        (
            CorpusInfo(
                "names",
                "Invented names",
                "Invented first names, one per line, where the model learns which syllables "
                "start, continue and end a name.",
            ),
            generate_names,
        ),
    ]
}

# Public-domain books, when their package is installed (`backend.corpora.gutenberg`).
_BOOKS = [
    CorpusInfo(
        "austen",
        "Jane Austen's novels",
        "Emma, Persuasion and Sense and Sensibility: two million characters, enough for a model "
        "to keep improving for many minutes without learning the text by heart.",
    ),
    CorpusInfo(
        "alice",
        "Alice in Wonderland",
        "Lewis Carroll's book, where the model learns its names, quotes and nonsense words.",
    ),
    CorpusInfo(
        "shakespeare",
        "Shakespeare's plays",
        "Hamlet, Macbeth and Julius Caesar in their 1623 spelling, where the model learns "
        "speakers' names, verse lines and words like 'vnfold' and 'haue'.",
    ),
]
if gutenberg.available():
    _CORPORA.update({info.id: (info, gutenberg.loader(info.id)) for info in _BOOKS})


def list_corpora() -> list[CorpusInfo]:
    """Every built-in corpus, in the order the picker shows them."""
    return [info for info, _ in _CORPORA.values()]


@cache
def load(corpus_id: str) -> str:
    """The full text of a built-in corpus; raises NotFound for an unknown id."""
    if corpus_id not in _CORPORA:
        raise NotFound(f"No built-in corpus called {corpus_id!r}.", field="corpus")
    _, loader = _CORPORA[corpus_id]
    return loader()
