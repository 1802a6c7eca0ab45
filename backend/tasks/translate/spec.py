"""The translation task as the web process sees it: a number range, attention on or off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.tasks.base import TaskSpec
from backend.tasks.translate.pairs import (
    ENGLISH_CHARS,
    FRENCH_CHARS,
    MAX_SOURCE_CHARS,
    RANGES,
    english,
    french,
    to_number,
)

GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per cell kind
ATTENTION = ("none", "dot", "general")  # none: the course's encoder-decoder; others go beyond it
MAX_BEAM = 8
# The vocabularies, with the ids the model uses: 0 is padding on both sides.
SOURCE_VOCAB = ("<pad>", *ENGLISH_CHARS)
TARGET_VOCAB = ("<pad>", "<bos>", "<eos>", *FRENCH_CHARS)


def _choice(source: dict, name: str, choices: tuple) -> Any:
    if source[name] not in choices or isinstance(source[name], bool):
        listed = ", ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in choices)
        raise InvalidInput(f"{name} must be one of {listed}", field=name)
    return source[name]


@dataclass(frozen=True)
class TranslateSpec(TaskSpec):
    """A source is {"range": N, "attention": "none" | "dot" | "general"}; queries are numbers."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The source with `range` one of RANGES and `attention` one of ATTENTION."""
        source = super().parse_source(source)  # known keys only, defaults filled in
        if source["attention"] is True or source["attention"] is False:  # a switch on the page
            source["attention"] = "general" if source["attention"] else "none"
        return {
            "range": _choice(source, "range", RANGES),
            "attention": _choice(source, "attention", ATTENTION),
        }

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """`translate` {text, beam 1..8} (text: digits or English number words); `accuracy` {}."""
        query = super().parse_query(op, query)
        kept = {"seq": query["seq"]} if "seq" in query else {}  # the session layer checks it
        if op == "accuracy":
            return kept
        text = query.get("text")
        if not isinstance(text, str):
            raise InvalidInput("text must be a string", field="text")
        if len(text) > MAX_SOURCE_CHARS:
            raise InvalidInput(f"text is longer than {MAX_SOURCE_CHARS} characters", field="text")
        strange = sorted(set(text.lower()) - set(ENGLISH_CHARS) - set("0123456789\n\t"))
        if strange:
            raise InvalidInput(
                f"the translator reads English letters, spaces, hyphens and digits, not "
                f"{' '.join(repr(c) for c in strange)}",
                field="text",
            )
        n = to_number(text)
        beam = query.get("beam", 1)
        if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM:
            raise InvalidInput(f"beam must be a whole number from 1 to {MAX_BEAM}", field="beam")
        # The model reads the number as num2words writes it, whatever the typed form.
        return {**kept, "number": n, "text": english(n), "expected": french(n), "beam": beam}

    def sizes(self, source: dict[str, Any]) -> None:
        """The encoder-decoder is not the generic model: the worker reports its size."""
        return None

    def weight_shapes(self, cfg: Any, source: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """Every tensor of `model.Seq2Seq` for cfg and the source's attention, by name."""
        H, rows = cfg.hidden_size, GATES[cfg.model] * cfg.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for part, inputs in (("encoder", len(SOURCE_VOCAB)), ("decoder", len(TARGET_VOCAB))):
            for k in range(cfg.num_layers):
                shapes[f"{part}.weight_ih_l{k}"] = (rows, inputs if k == 0 else H)
                shapes[f"{part}.weight_hh_l{k}"] = (rows, H)
                shapes[f"{part}.bias_ih_l{k}"] = (rows,)
                shapes[f"{part}.bias_hh_l{k}"] = (rows,)
        if source["attention"] == "general":
            shapes["attn.weight"] = (H, H)  # W_a
        if source["attention"] != "none":
            shapes["combine.weight"] = (H, 2 * H)  # W_c
        shapes["head.weight"] = (len(TARGET_VOCAB), H)
        shapes["head.bias"] = (len(TARGET_VOCAB),)
        return shapes


SPEC = TranslateSpec(
    name="translate",
    title="Translation",
    summary="Translate English number words into French, one character at a time.",
    unit="bits/char",
    item="char",
    views=("translate",),
    queries=("translate", "accuracy"),
    default_source={"range": 999, "attention": "none"},
    score="exactMatch",
    models=("rnn", "lstm", "gru"),
    # One GRU layer learns the numbers in a few thousand steps on a CPU; the text task's
    # defaults (an LSTM at lr 2e-2 on batches of 8) would train it slowly.
    default_config={"model": "gru", "hidden_size": 128, "num_layers": 1, "batch_size": 64},
)
