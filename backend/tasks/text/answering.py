"""Next-character answers for a whole class at once: one step per keystroke, one batch per round.

A class typing against one model asks "what comes after this text?" hundreds of times a
second. Re-reading a client's whole text for each keystroke costs T steps of the recurrence;
but typing mostly appends, so the state after the client's previous text is kept and only the
new characters are fed:

    h_T = f(h_{T-1}, x_T)        one step instead of T

(an edit that is not an append falls back to reading the text from the zero state).
That gives exactly what a full re-run gives only if both used the same weights, and training
changes them every step. So queries are answered by a snapshot of the weights, taken again
at most every `REFRESH_S` while the session trains (at once after a step when it does not),
and each answer names the step it came from. A new snapshot re-reads the text every kept
client last sent before it replaces the old one, so their next keystrokes stay one step each;
with a class that re-read grows, and the snapshot is then taken less often, so re-reading
never takes more than `REFRESH_SHARE` of a core. The worker does a large re-read off the
keystrokes' path (`backlog`), while the old snapshot keeps answering.

The queries waiting in one round are answered together:
  1. every client's new characters go through the cell in one fused call, packed as rows of
     different lengths, each row starting from its own kept state;
  2. identical texts (follow-me sends the same one to every student) are read once, and a
     text some client already read is not read again;
  3. the top-k come from one softmax over all rows;
  4. continuations (greedy and sampled) are generated together, one batched step per
     character for every row, and shared by identical queries.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from backend.core.models import SequenceModel, State
from backend.core.training import next_logits

REFRESH_S = 0.5  # how stale the answering weights may get while the session trains
REFRESH_SHARE = 0.1  # of a core, at most, for re-reading kept texts with new weights
KEEP_CLIENTS = 512  # clients whose last state is kept, per session
KEEP_TEXTS = 512  # texts whose state is kept for anyone who sends the same text


@dataclass(frozen=True)
class Read:
    """A text as the snapshot read it: its ids, the next-character logits (V,) and the state."""

    ids: tuple[int, ...]
    logits: torch.Tensor  # (V,)
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # (L, 1, H), or (h, c)


def supports(trainer: Any) -> bool:
    """Whether a session's model can be answered this way (recurrent character models)."""
    return isinstance(trainer.model, SequenceModel)


class Answerer:
    """One session's snapshot of the weights and the states its clients' texts led to."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.model: SequenceModel | None = None
        self.step = -1  # training step of the snapshot
        self.taken_at = -math.inf
        self.every = REFRESH_S  # seconds between snapshots while training: longer for a class
        self.reads: OrderedDict[str, Read] = OrderedDict()  # client -> its last text, read
        self.texts: OrderedDict[tuple[int, ...], Read] = OrderedDict()  # shared by all
        # The query and continuation threads both answer: reading and swapping in a new
        # snapshot take turns, and a generation keeps the snapshot it started with.
        self.lock = threading.Lock()
        self.refreshing = threading.Lock()  # one new snapshot at a time

    def due(self, running: bool) -> bool:
        """Whether the weights moved and a new snapshot is due (at once if training stopped)."""
        if self.model is None:
            return True
        if self.trainer.step_count == self.step:
            return False
        return not running or time.perf_counter() - self.taken_at >= self.every

    def backlog(self) -> int:
        """How many characters a new snapshot would re-read: the texts of the kept clients."""
        with self.lock:
            return sum(len(ids) for ids in {read.ids for read in self.reads.values()})

    def refresh(self, running: bool, lock: Any) -> None:
        """Take a new snapshot if one is due, re-read the kept clients' texts with it, swap it in.

        `lock` is the session's: the weights are copied while the optimizer is not writing them.
        """
        trainer = self.trainer
        with self.refreshing:
            if not self.due(running):
                return
            started, now = time.thread_time(), time.perf_counter()
            with lock, torch.no_grad():  # never a half-updated set of weights
                if self.model is None:
                    model = copy.deepcopy(trainer.model).eval().requires_grad_(False)
                else:
                    model = copy.deepcopy(self.model)  # a generation may still use the old one
                    for mine, theirs in zip(
                        model.parameters(), trainer.model.parameters(), strict=True
                    ):
                        mine.copy_(theirs)
                step = trainer.step_count
            with self.lock:
                kept = list(self.reads.items())
            texts = list(dict.fromkeys(read.ids for _, read in kept))
            with torch.inference_mode():
                reads = self.feed([(ids, None) for ids in texts], model)
            with self.lock:
                # A client that typed meanwhile was read by the old snapshot; from its text
                # as re-read here, its next query feeds only what it appended since.
                self.texts = OrderedDict(zip(texts, reads, strict=True))
                self.reads = OrderedDict((client, self.texts[read.ids]) for client, read in kept)
                self.model, self.step = model, step
            self.taken_at = now
            self.every = max(REFRESH_S, (time.thread_time() - started) / REFRESH_SHARE)

    # -- reading ---------------------------------------------------------------------------

    def read(self, asks: list[tuple[str, tuple[int, ...]]]) -> list[Read]:
        """The Read of each (client, ids), feeding each client only what it appended."""
        starts: dict[tuple[int, ...], Read | None] = {}
        for client, ids in asks:
            if ids in self.texts:
                continue
            before = self.reads.get(client)
            start = before if before is not None and ids[: len(before.ids)] == before.ids else None
            best = starts.get(ids)
            if ids not in starts or (start and (best is None or len(start.ids) > len(best.ids))):
                starts[ids] = start
        for ids, read in zip(starts, self.feed(list(starts.items())), strict=True):
            self.texts[ids] = read
        out = []
        for client, ids in asks:
            read = self.texts[ids]
            self.texts.move_to_end(ids)
            self.reads[client] = read
            self.reads.move_to_end(client)
            out.append(read)
        for kept, limit in ((self.reads, KEEP_CLIENTS), (self.texts, KEEP_TEXTS)):
            while len(kept) > limit:
                kept.popitem(last=False)
        return out

    def zero_state(
        self, rows: int, model: SequenceModel | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        model = model if model is not None else self.model
        h = next(model.parameters()).new_zeros(model.num_layers, rows, model.hidden_size)
        return (h, h.clone()) if model.kind == "lstm" else h

    def feed(
        self, rows: list[tuple[tuple[int, ...], Read | None]], model: SequenceModel | None = None
    ) -> list[Read]:
        """Every row's text after its start (or the zero state), in one packed fused call.

        `model` is the snapshot to read with (the current one unless a new one is being made).
        """
        model = model if model is not None else self.model
        out: list[Read | None] = [None] * len(rows)
        todo = []
        for r, (ids, start) in enumerate(rows):
            fed = len(start.ids) if start else 0
            if start and fed == len(ids):
                out[r] = start
            elif not ids:  # nothing typed: the prediction from the zero state, W_hy 0 + b_y
                state = self.zero_state(1, model)
                top = state[0] if isinstance(state, tuple) else state
                out[r] = Read(ids, model.head(top[-1, 0]), state)
            else:
                todo.append((r, ids, start, ids[fed:]))
        if not todo:
            return out  # type: ignore[return-value]
        device = next(model.parameters()).device
        # 1. The new characters of every row, padded to one (R, T) tensor, then packed so
        #    each row stops at its own length and its final state is its own.
        x = pad_sequence([torch.tensor(new) for _, _, _, new in todo], batch_first=True)
        lengths = torch.tensor([len(new) for _, _, _, new in todo])
        x_onehot = F.one_hot(x.to(device), model.input_size).float()  # (R, T, V)
        packed = pack_padded_sequence(x_onehot, lengths, batch_first=True, enforce_sorted=False)
        # 2. Each row's starting state: what its client read before, or zeros.
        zero = self.zero_state(1, model)
        starts = [start.state if start else zero for _, _, start, _ in todo]
        if model.kind == "lstm":
            state0: Any = tuple(torch.cat([s[j] for s in starts], dim=1) for j in range(2))
        else:
            state0 = torch.cat(starts, dim=1)  # (L, R, H)
        _, state = model.rnn(packed, state0)
        # 3. The top layer's last h_t of each row gives its next-character logits.
        top = state[0][-1] if model.kind == "lstm" else state[-1]  # (R, H)
        logits = model.head(top)  # (R, V)
        for row, (r, ids, _, _) in enumerate(todo):
            if model.kind == "lstm":
                kept: Any = tuple(s[:, row : row + 1] for s in state)
            else:
                kept = state[:, row : row + 1]
            out[r] = Read(ids, logits[row], kept)
        return out  # type: ignore[return-value]

    # -- generating ------------------------------------------------------------------------

    @staticmethod
    def generate(
        model: SequenceModel,
        reads: list[Read],
        length: int,
        temperatures: list[float],
        between: Callable[[], Any] | None = None,
    ) -> list[tuple[list[int], list[int]]]:
        """A greedy and a sampled continuation of `length` ids for every read, all at once.

        `between` is called before each step: the worker passes one that waits while
        keystrokes are being answered, so a long generation never holds up their bars.
        """
        R = len(reads)
        logits = torch.stack([r.logits for r in reads] * 2)  # (2R, V): greedy rows, then sampled
        if model.kind == "lstm":
            state: State = tuple(
                torch.cat([r.state[j] for r in reads] * 2, dim=1)  # type: ignore[index]
                for j in range(2)
            )
        else:
            state = torch.cat([r.state for r in reads] * 2, dim=1)  # type: ignore[misc]
        temps = torch.tensor(temperatures, device=logits.device)[:, None]  # (R, 1)
        out = torch.empty(2 * R, length, dtype=torch.long)
        for t in range(length):
            if between is not None:
                between()
            greedy = logits[:R].argmax(-1)  # (R,)
            p = F.softmax(logits[R:].float() / temps, dim=-1)  # (R, V)
            sampled = torch.multinomial(p, 1).squeeze(1)  # (R,)
            x = torch.cat([greedy, sampled])  # (2R,)
            out[:, t] = x.cpu()
            if t + 1 < length:  # the last choice needs no forward pass of its own
                logits, state = next_logits(model, x, state)
        ids = out.tolist()
        return [(ids[r], ids[R + r]) for r in range(R)]

    # -- answering -------------------------------------------------------------------------

    def answer(
        self,
        queries: list[dict],
        continued: list[bool],
        between: Callable[[], Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The `predict` result for each query; continuations only where `continued` says.

        `between` is called between the steps of the continuations (see `generate`).
        """
        vocab = self.trainer.dataset.vocab
        stoi = vocab.stoi
        asks = [(q["client"], tuple(stoi[ch] for ch in q["text"] if ch in stoi)) for q in queries]
        with torch.inference_mode():
            with self.lock:
                model, step = self.model, self.step
                reads = self.read(asks)
            probs = F.softmax(torch.stack([r.logits for r in reads]).float(), dim=-1)  # (Q, V)
            tops = [probs[i].topk(min(q["k"], vocab.size)) for i, q in enumerate(queries)]
            texts = self.continuations(model, queries, reads, continued, between)
        out = []
        for i, q in enumerate(queries):
            top_p, top_i = tops[i]
            greedy, sample = texts.get(i, ("", ""))
            out.append(
                {
                    "top": [
                        {"char": vocab.chars[j], "p": p}
                        for p, j in zip(top_p.tolist(), top_i.tolist(), strict=True)
                    ],
                    "greedy": greedy,
                    "sample": sample,
                    "continued": q["length"] == 0 or i in texts,
                    "unknown": sorted({ch for ch in q["text"] if ch not in stoi}),
                    "step": step,
                }
            )
        return out

    def continuations(
        self,
        model: SequenceModel,
        queries: list[dict],
        reads: list[Read],
        continued: list[bool],
        between: Callable[[], Any] | None = None,
    ) -> dict[int, tuple[str, str]]:
        """Greedy and sampled texts for the queries that get them; identical ones share."""
        wanted: dict[tuple, list[int]] = {}
        for i, q in enumerate(queries):
            if continued[i] and q["length"] > 0:
                key = (reads[i].ids, q["length"], q["temperature"])
                wanted.setdefault(key, []).append(i)
        out: dict[int, tuple[str, str]] = {}
        by_length: dict[int, list[tuple]] = {}
        for key in wanted:
            by_length.setdefault(key[1], []).append(key)
        decode = self.trainer.dataset.vocab.decode
        for length, keys in by_length.items():  # the page asks one length: usually one batch
            rows = [reads[wanted[key][0]] for key in keys]
            made = self.generate(model, rows, length, [key[2] for key in keys], between)
            for key, (greedy, sample) in zip(keys, made, strict=True):
                for i in wanted[key]:
                    out[i] = (decode(greedy), decode(sample))
        return out
