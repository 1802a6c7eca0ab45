"""The word task as the web process sees it: a corpus or a user's text, and a vocabulary cap."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from backend.config import LIMITS
from backend.errors import InvalidInput, TooLarge
from backend.tasks.base import TaskSpec
from backend.tasks.text.queries import bounded_int, parse_inspect
from backend.tasks.text.spec import corpus_text
from backend.tasks.words.tokens import MIN_TOKENS, split_vocab, tokenize

DEFAULT_MAX_VOCAB = 1000  # the stories have about 1,300 distinct tokens; rarer ones become <unk>
MAX_VOCAB = (50, 5000)  # a one-hot word is a V-vector: V*H weights in, H*V out
MAX_CONTINUATION = 50  # words of greedy continuation returned with a prediction
PREVIEW_CHARS = 400


@dataclass(frozen=True)
class WordsSpec(TaskSpec):
    """A words source is {"corpus": id, "max_vocab": n} or {"corpus": "upload", "text": ...}."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The source with its text: a corpus is loaded here, an upload is checked."""
        source = self.source_object(source, ("corpus", "text", "max_vocab"))
        corpus, text = corpus_text(source)
        check_text(text)
        lo, hi = MAX_VOCAB
        max_vocab = bounded_int(source, "max_vocab", DEFAULT_MAX_VOCAB, lo, hi)
        return {"corpus": corpus, "text": text, "max_vocab": max_vocab}

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """`predict`: a typed sentence, the `k` likeliest next words and `length` words of
        continuation; `inspect`: a sentence to trace (the text task's fields)."""
        query = super().parse_query(op, query)
        if op == "inspect":
            return parse_inspect(query)
        text, seq = query.get("text"), query.get("seq", 0)
        if not isinstance(text, str):
            raise InvalidInput("text must be a string", field="text")
        if len(text) > LIMITS.max_query_chars:
            raise InvalidInput(
                f"text is limited to {LIMITS.max_query_chars} characters", field="text"
            )
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidInput("seq must be a non-negative integer", field="seq")
        return {
            "text": text,
            "seq": seq,
            "k": bounded_int(query, "k", 8, 1, LIMITS.max_top_k),
            "length": bounded_int(query, "length", 12, 0, MAX_CONTINUATION),
        }

    def summarize_source(self, source: dict[str, Any]) -> dict[str, Any]:
        """The text's origin, size in words, vocabulary and its start; never the whole text."""
        text = source.get("text", "")
        return {
            "source": source.get("corpus", "upload"),
            "words": word_count(text),
            "max_vocab": source.get("max_vocab", DEFAULT_MAX_VOCAB),
            "preview": text[:PREVIEW_CHARS],
        }

    def sizes(self, source: dict[str, Any]) -> tuple[int, int]:
        """One-hot words in, one score per word out: (V, V), V the capped vocabulary."""
        size = vocab_size(source["text"], source["max_vocab"])
        return size, size


def check_text(text: Any) -> None:
    """Raise InvalidInput or TooLarge unless `text` is a string of a trainable size."""
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", field="text")
    if len(text.encode("utf-8")) > LIMITS.max_text_bytes:
        raise TooLarge(f"text is larger than {LIMITS.max_text_bytes // 1024 // 1024} MB")
    words = word_count(text)
    if words < MIN_TOKENS:
        raise InvalidInput(f"text needs at least {MIN_TOKENS} words (got {words})", field="text")


@lru_cache(maxsize=8)
def word_count(text: str) -> int:
    """How many tokens `text` has (cached: a session's text is asked about more than once)."""
    return len(tokenize(text))


@lru_cache(maxsize=8)
def vocab_size(text: str, max_vocab: int) -> int:
    """The size of the vocabulary a words task on `text` will have."""
    return split_vocab(tokenize(text), max_vocab)[0].size


SPEC = WordsSpec(
    name="words",
    title="Words",
    summary="Read a text one word at a time and guess the next word.",
    unit="bits/word",
    item="word",
    views=("words", "inspect"),
    queries=("predict", "inspect"),
    default_source={"corpus": "english", "max_vocab": DEFAULT_MAX_VOCAB},
)
