"""Music: folk tunes in ABC notation, learned and written one character at a time.

The sequence is the text of the collection's tunes (`tunes.py`: header T, M, L, K, then
the music; a blank line ends a tune), so everything about the model is the text task's
(`backend.tasks.text.task`): one-hot characters in, V logits out, cross-entropy shown in
bits per character, the same cells, predictions and looks inside.

What is the task's own is what a tune is:
- the live sample is a whole tune: the model starts from a blank line (where tunes begin)
  and writes until it writes a blank line itself or `MAX_TUNE_CHARS` characters, and the
  tune is sent with its check (`checker.py`): {abc, valid, reason, bars, in_key, ...};
- its score, beside the loss, is the share of valid tunes among `SCORE_TUNES` written at
  temperature `SCORE_TEMPERATURE` from a fixed random stream (the same draws each time, so
  the curve moves with the model, not with luck);
- the query `tune` gives one real tune of the collection with its check, to listen to
  beside the generated ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import torch
from torch import nn

from backend.core.data import TextDataset
from backend.core.training import next_logits
from backend.errors import InvalidInput
from backend.tasks.music import checker, tunes
from backend.tasks.music.spec import SPEC
from backend.tasks.text.task import TextTask, repeat_state

MAX_TUNE_CHARS = 600  # a jig of O'Neill's is about 240 characters, a long reel 500
SCORE_TUNES = 8
SCORE_TEMPERATURE = 0.8
SCORE_SEED = 0


class MusicTask(TextTask):
    """Next-character prediction on folk tunes; samples are whole tunes, checked."""

    spec = SPEC

    def __init__(self, dataset: TextDataset, collection: str) -> None:
        super().__init__(dataset)
        self.collection = collection
        self.tunes = tunes.load(collection)

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> MusicTask:
        """The collection's tunes read from music21's corpus; the last tenth held out."""
        collection = source["collection"]
        checker.warm_up()  # music21's import (a second) here, not in the first answer
        return cls(TextDataset.from_text(tunes.join(tunes.load(collection))), collection)

    def cohort_key(self) -> Hashable | None:
        """Never batched with text sessions: a cohort's samples are 200 characters, not tunes."""
        return None

    # --------------------------------------------------------------- generation

    def compose(
        self,
        model: nn.Module,
        temperatures: list[float],
        generator: torch.Generator | None,
        limit: int = MAX_TUNE_CHARS,
    ) -> list[str]:
        """One tune per temperature, written at once: from a blank line to the next one."""
        start = self.known_ids(tunes.SEPARATOR)
        end = tunes.SEPARATOR
        with torch.inference_mode():
            model.eval()
            logits, state = self.read(model, start)
            B = len(temperatures)
            temperature = torch.tensor(temperatures)[:, None]  # (B, 1)
            state = repeat_state(state, B)
            logits = logits.expand(B, -1)  # (B, V)
            texts = [""] * B
            done = [False] * B
            device = model.head.weight.device
            for _ in range(limit):
                ids = draw(logits, temperature, generator)  # (B,) on the CPU
                for row, i in enumerate(ids.tolist()):
                    if not done[row]:
                        texts[row] += self.vocab.chars[i]
                        # A tune may not begin with blank lines; after its first line one ends it.
                        done[row] = texts[row].lstrip("\n").find(end) >= 0
                if all(done):
                    break
                logits, state = next_logits(model, ids.to(device), state)  # (B, V)
        return [text.strip("\n").split(end, 1)[0] for text in texts]

    def sample(
        self,
        model: nn.Module,
        length: int,
        temperature: float,
        generator: torch.Generator | None = None,
        prompt: str = "",
    ) -> dict[str, Any]:
        """A whole tune with its check: {"text", "abc", "valid", "reason", "bars", ...}.

        `length` (the worker's sample length for text) is not used: a tune ends by itself.
        """
        (abc,) = self.compose(model, [temperature], generator)
        return {"text": abc, "abc": abc, **quiet_check(abc).to_dict()}

    def score(self, model: nn.Module) -> float:
        """Share of valid tunes among SCORE_TUNES written from a fixed random stream."""
        return self.valid_share(model, SCORE_TUNES, SCORE_SEED)

    def valid_share(self, model: nn.Module, n: int, seed: int) -> float:
        """Share of valid tunes among `n` written at SCORE_TEMPERATURE from stream `seed`."""
        generator = torch.Generator().manual_seed(seed)
        written = self.compose(model, [SCORE_TEMPERATURE] * n, generator)
        return sum(quiet_check(abc).valid for abc in written) / n

    # ------------------------------------------------------------------ queries

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """`tune` here; `predict` and `inspect` as for text."""
        if op == "tune":
            return self.tune(query["index"])
        return super().answer(model, op, query)

    def tune(self, index: int | None) -> dict[str, Any]:
        """A real tune of the collection with its check; a random one without an index."""
        count = len(self.tunes)
        if index is None:
            index = int(torch.randint(count, ()))
        if index >= count:
            raise InvalidInput(
                f"the collection has {count} tunes: index {index} is past its end", field="index"
            )
        abc = self.tunes[index]
        return {
            "index": index,
            "count": count,
            "title": tunes.title(abc),
            "abc": abc,
            **quiet_check(abc).to_dict(),
        }

    def describe(self) -> dict[str, Any]:
        """The vocabulary, the collection and the checker's thresholds (for the page's help)."""
        return {
            **super().describe(),
            "collection": self.collection,
            "tunes": len(self.tunes),
            "max_tune_chars": MAX_TUNE_CHARS,
            "valid_rule": {
                "min_bars": checker.MIN_BARS,
                "min_full_bars": checker.MIN_FULL_BARS,
                "min_coverage": checker.MIN_COVERAGE,
            },
        }


def draw(logits: torch.Tensor, temperature: torch.Tensor, generator: torch.Generator | None):
    """One id per row from softmax(y / T), drawn on the CPU for every row at once: (B,)."""
    p = torch.softmax(logits.float().cpu() / temperature, dim=-1)  # (B, V)
    broken = ~torch.isfinite(p).all(dim=-1)
    if bool(broken.any()):  # diverged weights: a uniform draw, as the text task does
        p[broken] = 1.0
    return torch.multinomial(p, 1, generator=generator)[:, 0]


def quiet_check(abc: str) -> checker.Check:
    """`checker.check` without music21's warnings about the odd tunes a young model writes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return checker.check(abc)


TASK = MusicTask
