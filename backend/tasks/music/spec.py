"""The music task as the web process sees it: which collection of folk tunes to learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.tasks.base import TaskSpec
from backend.tasks.music import tunes
from backend.tasks.text.queries import parse_inspect, parse_query

PREVIEW_TUNES = 2  # tunes the page shows of the collection


@dataclass(frozen=True)
class MusicSpec(TaskSpec):
    """A music source is {"collection": id}, one of `tunes.COLLECTIONS`."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The collection id, checked; its tunes are read in the worker (and cached here)."""
        source = super().parse_source(source)
        collection = source["collection"]
        if not isinstance(collection, str) or collection not in tunes.COLLECTIONS:
            raise InvalidInput(
                f"collection must be one of {', '.join(tunes.COLLECTIONS)}", field="collection"
            )
        return {"collection": collection}

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """`predict` and `inspect` as for text; `tune` asks for a tune of the collection.

        tune  {"index": i}  the i-th tune of the collection (0 <= i < its number of tunes);
                            without an index, the server picks one
        """
        query = super().parse_query(op, query)
        if op == "predict":
            return parse_query(query)
        if op == "inspect":
            return parse_inspect(query)
        parsed = {"seq": query["seq"]} if "seq" in query else {}
        index = query.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise InvalidInput("index must be a whole number", field="index")
        if index is not None and index < 0:
            raise InvalidInput("index must not be negative", field="index")
        return {**parsed, "index": index}

    def summarize_source(self, source: dict[str, Any]) -> dict[str, Any]:
        """The collection's name, its size and its first tunes (never the whole text)."""
        collection = tunes.COLLECTIONS[source["collection"]]
        loaded = tunes.load(collection.id)
        text = tunes.join(loaded)
        return {
            "collection": collection.id,
            "name": collection.name,
            "tunes": len(loaded),
            "chars": len(text),
            "vocab_size": len(set(text)),
            "preview": tunes.join(loaded[:PREVIEW_TUNES]),
        }

    def sizes(self, source: dict[str, Any]) -> tuple[int, int]:
        """One-hot characters in, one score per character out: (V, V)."""
        vocab = len(set(tunes.join(tunes.load(source["collection"]))))
        return vocab, vocab

    def training_text(self, source: dict[str, Any]) -> str:
        """The text a source's models read (for the lessons catalog's checks)."""
        return tunes.join(tunes.load(self.parse_source(source)["collection"]))

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON plus the collections a session may learn, for the start form."""
        choices = list(tunes.COLLECTIONS)
        labels = {c.id: c.name for c in tunes.COLLECTIONS.values()}
        field = {"choices": choices, "labels": labels}
        return {**super().to_dict(), "source_fields": {"collection": field}}


SPEC = MusicSpec(
    name="music",
    title="Folk tunes",
    summary="Read folk tunes in ABC notation one character at a time, then write new ones.",
    unit="bits/char",
    item="char",
    views=("predict", "inspect", "music"),
    queries=("predict", "inspect", "tune"),
    default_source={"collection": tunes.DEFAULT_COLLECTION},
    score="validTunes",
    # Measured for the lesson (docs/tasks.md): most tunes are valid by step 1,000 on a CPU.
    default_config={
        "hidden_size": 64,
        "num_layers": 1,
        "seq_len": 64,
        "batch_size": 32,
        "learning_rate": 0.01,
    },
)
