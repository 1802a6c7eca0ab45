"""What clamping an LSTM's gates costs: the validation loss with each surgery, in bits.

The gate lesson claims that the gates matter: hold every forget gate f_t at 0 and the cell
keeps only the current character (c_t = i_t * c̃_t); hold it at 1 and nothing is ever cleared
(c_t = c_{t-1} + i_t * c̃_t); close every input gate and nothing new is written (c_t stays 0).
Each costs bits per character on held-out text against the model as trained. The loss is
the cross-entropy of the next character along one trace of the first `chars` validation
characters (`internals.trace`, with the surgery applied inside the hand-written step):

    L = -(1 / (T - 1)) * sum_t log2 softmax(y_t)[x_{t+1}]

Answered in the worker for the text task's `clamps` query (`backend.lessons.ends.CLAMPS`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from backend.core.internals import GATES, Surgery, trace
from backend.errors import InvalidInput


def answer(model: Any, val: torch.Tensor, query: dict[str, Any]) -> dict[str, Any]:
    """{"bits": {name: validation bits per character with that surgery}} for each surgery
    named in `query["surgeries"]` (None: none), over `query["chars"]` validation ids `val`."""
    chars, surgeries = query.get("chars"), query.get("surgeries")
    if not GATES.get(getattr(model, "kind", "")):
        raise InvalidInput("this model has no gates to clamp")
    if isinstance(chars, bool) or not isinstance(chars, int) or chars < 2:
        raise InvalidInput("chars must be a whole number of at least 2", field="chars")
    if not isinstance(surgeries, dict) or not surgeries:
        raise InvalidInput("surgeries must name at least one surgery", field="surgeries")
    ids = val[:chars].long().to(next(model.parameters()).device)  # (T,), stored as int16
    bits = {}
    with torch.no_grad():
        for name, surgery in surgeries.items():
            logits = trace(model, ids, Surgery.from_dict(surgery, model) or None).logits  # (T, V)
            bits[name] = F.cross_entropy(logits[:-1], ids[1:]).item() / math.log(2)
    return {"bits": bits}
