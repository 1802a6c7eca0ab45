"""What a model's prediction actually reads: measured by changing its input and watching.

The course asks four things of a sequence model: handle sequences of any length, track
long-term dependencies, keep the order, and share its parameters across the sequence.
Three of them can be measured on a trained model without any more training:

  dependence   For an input x_1..x_T, p = softmax(y_T) is the model's next-item
               distribution. Replace x_s by another item v and read p' again; the
               dependence on position s is the largest total-variation distance

                 d_s = max_v  TV(p, p'_{s<-v}),    TV(p, q) = 1/2 sum_k |p_k - q_k|

               in [0, 1]: 0 exactly when nothing x_s could be changes the prediction.
               A window of n items has d_s = 0 for every s <= T - n, bit for bit: those
               items never enter its computation. An RNN's h_T depends on every x_s.
  order        The same distance when two adjacent different items near the end are
               swapped. A bag's counts n_T are the same for every order, so its
               prediction does not move at all; a window or an RNN reads the order.
  sharing      The parameter count of the same model built for inputs n and 2n items
               wide: a window has one block of W_xh per position, n*V*H weights, so
               it grows; an RNN applies one W_xh and one W_hh at every step, so its
               count does not depend on the length it reads.

The fourth, long-term dependencies, needs the model to have *learned* to keep an item:
it is the accuracy of the lessons' gap measurement at a long gap, not measured here.

Reference: the perturbation view of saliency, Zeiler & Fergus, "Visualizing and
Understanding Convolutional Networks" (2014), applied to characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backend.config import TrainConfig, parse
from backend.core.data import Vocab
from backend.core.models import build_model
from backend.errors import InvalidInput

SEPARATOR = "\n"  # read before every input, as the gap measurement does: a fresh line
ORDER_SPAN = 4  # the order test swaps adjacent items among the last ORDER_SPAN
MAX_TEXTS = 32  # inputs per query, so one request stays cheap
MAX_CHARS = 80  # characters per input: each one times each replacement is a row
MAX_GAP = 200  # the longest gap of a probe line


@torch.no_grad()
def next_distribution(model: nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """p(next | row) for every row of ids (N, T) read from the zero state: (N, V)."""
    model.eval()
    logits, _ = model(rows)  # (N, T, V)
    return F.softmax(logits[:, -1].double(), dim=-1)  # double: tiny changes stay visible


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """TV(p, q) = 1/2 sum_k |p_k - q_k| over the last axis, in [0, 1]."""
    return 0.5 * (p - q).abs().sum(dim=-1)


def dependence(model: nn.Module, ids: torch.Tensor, vocab_size: int) -> list[float]:
    """d_s for every position s of ids (T,): the largest change any replacement of x_s makes."""
    T = ids.shape[0]
    # 1. Every (position, replacement) pair as one row: row s*V + v is ids with x_s = v.
    rows = ids.repeat(T * vocab_size, 1)  # (T*V, T)
    positions = torch.arange(T).repeat_interleave(vocab_size)  # (T*V,)
    rows[torch.arange(T * vocab_size), positions] = torch.arange(vocab_size).repeat(T)
    # 2. Compare each changed row with the original read in the same row of a batch of the
    #    same shape: the same arithmetic, so an input that never reaches the prediction
    #    leaves it identical bit for bit (a batch's rows may round differently).
    d = total_variation(unchanged(model, ids, len(rows)), next_distribution(model, rows))
    return d.reshape(T, vocab_size).max(dim=1).values.tolist()


def unchanged(model: nn.Module, ids: torch.Tensor, n: int) -> torch.Tensor:
    """p(next | ids) in each of n rows of a batch (N, V), to compare row by row."""
    return next_distribution(model, ids.repeat(n, 1))


def order_change(model: nn.Module, ids: torch.Tensor) -> float | None:
    """The largest TV when two adjacent different items among the last ORDER_SPAN swap;
    None if they are all the same item (no swap changes the input)."""
    T = ids.shape[0]
    swaps = []
    for s in range(max(0, T - ORDER_SPAN), T - 1):
        if ids[s] != ids[s + 1]:
            row = ids.clone()
            row[s], row[s + 1] = ids[s + 1], ids[s]
            swaps.append(row)
    if not swaps:
        return None
    p = next_distribution(model, torch.stack(swaps))  # (S, V)
    return float(total_variation(unchanged(model, ids, len(swaps)), p).max())


def params_at(config: dict[str, Any], input_size: int, widths: Sequence[int]) -> list[int]:
    """The parameter count of the run's model built for inputs `widths` items wide.

    Only a window's constructor takes the width; every other model is built the same
    way whatever it will read, which is the point.
    """
    counts = []
    for width in widths:
        cfg: TrainConfig = parse({**config, "window": width})
        counts.append(sum(p.numel() for p in build_model(cfg, input_size).parameters()))
    return counts


@dataclass(frozen=True)
class Reading:
    """What one prediction after one input read: per position, how much it depends on it."""

    text: str
    dependence: list[float]  # d_s for each character of text, oldest first
    order: float | None  # TV after swapping adjacent characters near the end

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "dependence": self.dependence, "order": self.order}


def read(model: nn.Module, vocab: Vocab, text: str) -> Reading:
    """Measure what the prediction after `text` (read after a fresh line) depends on."""
    unknown = sorted(set(text) - set(vocab.chars))
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:8])
        raise InvalidInput(
            f"characters this model never saw: {shown}; use only {''.join(vocab.chars)!r}",
            field="text",
        )
    ids = vocab.encode(SEPARATOR + text)  # (T+1,)
    d = dependence(model, ids, vocab.size)
    return Reading(text, d[1:], order_change(model, ids))  # the separator is not the input's


def answer(model: nn.Module, vocab: Vocab, query: dict[str, Any]) -> dict[str, Any]:
    """The `reach` query: readings of `texts` (or of fresh gap-task lines) and parameter
    counts at two widths."""
    texts = query.get("texts") or probe_texts(query.get("probe"))
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS:
        raise InvalidInput(f"texts must be a list of 1 to {MAX_TEXTS} texts", field="texts")
    if not all(isinstance(text, str) and 1 <= len(text) <= MAX_CHARS for text in texts):
        raise InvalidInput(f"each text must be 1 to {MAX_CHARS} characters", field="texts")
    widths = query.get("widths", [8, 16])
    if not isinstance(query.get("config"), dict):
        raise InvalidInput("config must be the run's settings", field="config")
    if not isinstance(widths, list) or len(widths) != 2:
        raise InvalidInput("widths must be two widths", field="widths")
    return {
        "readings": [read(model, vocab, text).to_dict() for text in texts],
        "widths": widths,
        "params": params_at(query["config"], vocab.size, widths),
    }


def probe_texts(probe: Any) -> list[str]:
    """Fresh lines of a lesson's gap task, up to (not including) their dependent character."""
    from backend.tasks.long_range import make_task

    if not isinstance(probe, dict):
        raise InvalidInput("give texts or a probe", field="texts")
    gap, n = probe.get("gap"), probe.get("n")
    if not isinstance(gap, int) or not isinstance(n, int):
        raise InvalidInput("a probe needs a whole gap and count", field="probe")
    if not 1 <= gap <= MAX_GAP or not 1 <= n <= MAX_TEXTS:
        raise InvalidInput(f"a probe's gap is 1 to {MAX_GAP}, its count 1 to {MAX_TEXTS}")
    try:
        task = make_task(probe.get("task"), **probe.get("params", {}))
        return [ex.prefix for ex in task.examples(gap, n, seed=2)]
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"probe: {err}", field="probe") from None
