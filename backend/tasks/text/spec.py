"""The character task as the web process sees it: a text from a corpus or an upload."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from backend import corpora
from backend.config import LIMITS
from backend.corpora import gutenberg
from backend.errors import InvalidInput, TooLarge
from backend.tasks.base import TaskSpec
from backend.tasks.text.queries import parse_inspect, parse_query

PREVIEW_CHARS = 300  # how much of the text the page shows
SAMPLE_SCRIPT = Path(__file__).with_name("sample_script.py")


@dataclass(frozen=True)
class TextSpec(TaskSpec):
    """A text source is {"corpus": id} (a built-in text) or {"corpus": "upload", "text": ...}."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The source with its full text: a corpus is loaded here, an upload is checked."""
        corpus, text = corpus_text(self.source_object(source, ("corpus", "text")))
        check_text(text)
        return {"corpus": corpus, "text": text}

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """A next-character prediction (`predict`) or a look inside the model (`inspect`).

        The lessons' `gaps`, `sentiment` and `reach` are asked by the server itself, already
        checked; a client asking one is refused (`server_queries`).
        """
        query = super().parse_query(op, query)
        if op == "predict":
            return parse_query(query)
        if op == "inspect":
            return parse_inspect(query)
        return query

    def summarize_source(self, source: dict[str, Any]) -> dict[str, Any]:
        """The text's origin, name, size and the start of it; never the whole text."""
        text = source.get("text", "")
        return {
            "source": source.get("corpus", "upload"),
            "name": text_name(source.get("corpus", "upload")),
            "chars": len(text),
            "vocab_size": vocab_size(text),
            "preview": text[:PREVIEW_CHARS],
        }

    def export_files(self, source: dict[str, Any], state: dict[str, Any]) -> dict[str, str]:
        """The text, so the model can go on training elsewhere, and a script to sample it."""
        return {"text.txt": source["text"], "sample.py": SAMPLE_SCRIPT.read_text()}

    def sizes(self, source: dict[str, Any]) -> tuple[int, int]:
        """One-hot characters in, one score per character out: (V, V)."""
        vocab = vocab_size(source.get("text", ""))
        return vocab, vocab


def corpus_text(source: dict[str, Any]) -> tuple[str, Any]:
    """(corpus id, text) of a text-like source: a built-in corpus's text is loaded here
    (NotFound for an unknown one), an upload's `text` is returned as given, to be checked."""
    corpus, text = source.get("corpus", "upload"), source.get("text")
    if not isinstance(corpus, str) or len(corpus) > 64:
        raise InvalidInput("corpus must be a corpus id", field="corpus")
    return corpus, corpora.load(corpus) if text is None else text


@lru_cache(maxsize=16)
def vocab_size(text: str) -> int:
    """Distinct characters of `text` (cached: a 2 MB text takes 30 ms, and every state sent
    to a client names it)."""
    return len(set(text))


def check_text(text: Any) -> int:
    """Validate a training text against the limits; return its vocabulary size."""
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", field="text")
    if len(text.encode("utf-8")) > LIMITS.max_text_bytes:
        raise TooLarge(f"text is larger than {LIMITS.max_text_bytes // 1024 // 1024} MB")
    if len(text) < LIMITS.min_text_chars:
        raise InvalidInput(f"text needs at least {LIMITS.min_text_chars} characters")
    vocab = len(set(text))
    if vocab > LIMITS.max_vocab:
        raise InvalidInput(
            f"text has {vocab} distinct characters; at most {LIMITS.max_vocab} are allowed"
        )
    return vocab


def text_name(source: str) -> str:
    """A human name for a text source."""
    if source == "upload":
        return "Your text"
    if source.startswith("lesson:"):
        return "Lesson: " + source.removeprefix("lesson:")
    names = {c.id: c.name for c in corpora.list_corpora()}
    return names.get(source, source)


SPEC = TextSpec(
    name="text",
    title="Characters",
    summary="Read a text one character at a time and guess the next character.",
    unit="bits/char",
    item="char",
    views=("predict", "inspect"),
    queries=("predict", "inspect", "gaps", "sentiment", "reach", "clamps"),
    # Two million characters of Austen when its package is installed: a model improves for
    # many minutes without learning it by heart (47 KB of stories overfit within two).
    default_source={"corpus": "austen" if gutenberg.available() else "english"},
    # Measured (docs/performance.md, "Words within seconds"): one layer at lr 2e-2 on batches
    # of 8 windows of 128 reaches in 30 CPU-seconds what 2 x 128 at lr 3e-3, batch 32, seq 64
    # reaches in 5 minutes.
    default_config={"num_layers": 1, "learning_rate": 0.02, "batch_size": 8, "seq_len": 128},
    slow_queries=("sentiment",),
    # The lessons' measurements, over HTTP, and what a lesson's verdict reads (`clamps`).
    server_queries=("gaps", "sentiment", "reach", "clamps"),
)
