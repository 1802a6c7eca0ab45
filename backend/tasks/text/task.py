"""Characters: a text's next character, learned one character at a time.

The sequence is a text's characters s_1 ... s_N, each an id in the text's vocabulary
of V characters (`backend.core.data.Vocab`). One step's input is the one-hot vector
of its character (the model one-hots the ids itself: `SequenceModel.encode`), and the
head gives V scores (logits) y_t for the next character. The loss is the cross-entropy

    L = -(1 / BT) * sum_{b,t} log softmax(y_{b,t})[s_{b,t+1}]      (nats per character)

shown as L / ln 2 bits per character: a model that guesses uniformly among V
characters scores log2(V) bits, a perfect one 0.

Generation feeds the model its own output: from the state after a prompt,
p = softmax(y_t / temperature), draw (or take the argmax of) the next character,
feed it back in, repeat. Temperature below 1 sharpens p, above 1 flattens it.

Queries: `predict` (the k likeliest next characters with greedy and sampled
continuations), `inspect` (gates and states per character), and the lessons' `gaps`
(accuracy against the distance to a cue), `sentiment` (many-to-one classifiers),
`reach` (how much the prediction depends on each input position: `backend.lessons.reach`)
and `clamps` (the validation loss with gates clamped: `backend.lessons.gates`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backend.core.data import TextDataset
from backend.core.models import State
from backend.core.training import next_logits
from backend.tasks.base import Task
from backend.tasks.text.spec import SPEC

LN2 = math.log(2.0)


def repeat_state(state: State, rows: int) -> State:
    """A batch-of-one recurrent state copied into `rows` rows: (L, 1, H) -> (L, rows, H)."""
    if state is None or rows == 1:
        return state
    if isinstance(state, tuple):
        return tuple(s.expand(-1, rows, -1).contiguous() for s in state)
    return state.expand(-1, rows, -1).contiguous()


def choose(
    logits: torch.Tensor, temperature: float | None, generator: torch.Generator | None
) -> int:
    """The next id: the argmax if temperature is None, else a draw from softmax(y / T)."""
    if temperature is None:
        return int(logits.argmax())
    # Draw on the CPU so a CPU generator works whatever device the model is on.
    p = F.softmax(logits.float().cpu() / temperature, dim=-1)  # (V,)
    if not bool(torch.isfinite(p).all()):
        # Diverged weights (NaN, as the exploding-gradients lesson shows without clipping)
        # give no distribution: its samples are worth uniform noise, and training goes on.
        p = torch.ones_like(p)
    return int(torch.multinomial(p, 1, generator=generator))


class TextTask(Task):
    """Next-character prediction on one text."""

    spec = SPEC

    def __init__(self, dataset: TextDataset) -> None:
        self.dataset = dataset
        self.vocab = dataset.vocab
        self.input_size = self.output_size = dataset.vocab.size
        self.classifiers: Any = None  # the sentiment lesson's classifiers, trained once
        self.classifier_lock = threading.Lock()

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> TextTask:
        """The text of `source` (already loaded by the spec), with its vocabulary."""
        return cls(TextDataset.from_text(source["text"]))

    @classmethod
    def from_text(cls, text: str) -> TextTask:
        """The task on a text directly (tests, benchmarks, lessons)."""
        return cls(TextDataset.from_text(text))

    # ----------------------------------------------------------------- training

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Character ids (B, T) as they are: the model one-hots them (`SequenceModel.encode`)."""
        return x

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per character between logits (B, T, V) and ids (B, T)."""
        return F.cross_entropy(out.flatten(0, 1), y.flatten())

    def metric(self, loss: float) -> float:
        """Nats per character -> bits per character."""
        return loss / LN2

    def highway_windows(
        self, n: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ending at a recalled key when the text is a long-range copy text (the
        gradient view then shows what reaches the key), else random training windows."""
        from backend.tasks.long_range import recall_windows, recalls

        if not hasattr(self, "_recalls"):  # found once: a scan of the whole text
            self._recalls = recalls(self.dataset.text)
        if self._recalls is not None:
            windows = recall_windows(self.dataset.train, *self._recalls, n, seq_len, generator)
            if windows is not None:
                return windows
        return super().highway_windows(n, seq_len, generator)

    def cohort_key(self) -> Hashable | None:
        """Ids in, cross-entropy over V out: cohorts of one vocabulary size train together."""
        return ("categorical", self.vocab.size)

    # --------------------------------------------------------------- generation

    def sample(
        self,
        model: nn.Module,
        length: int,
        temperature: float,
        generator: torch.Generator | None = None,
        prompt: str = "",
    ) -> dict[str, Any]:
        """{"text": `prompt` followed by `length` sampled characters}.

        Without a prompt the model is started from a newline (or a space, or the
        first vocabulary character), which is not part of the returned text.
        """
        ids = self.known_ids(prompt) or [self.start_id()]
        with torch.inference_mode():
            model.eval()
            logits, state = self.read(model, ids)
            (out,) = self.generate(model, logits, state, length, [temperature], generator)
        return {"text": prompt + self.vocab.decode(out)}

    def sample_from_ids(self, ids: list[int]) -> dict[str, Any]:
        """The sample payload for ids a batched generation drew (`Cohort.sample`)."""
        return {"text": self.vocab.decode(ids)}

    def predict(
        self,
        model: nn.Module,
        text: str,
        k: int = 5,
        temperature: float = 0.8,
        length: int = 120,
        generator: torch.Generator | None = None,
    ) -> dict[str, Any]:
        """The k likeliest next characters after `text`, plus greedy and sampled continuations.

        Characters of `text` outside the vocabulary are skipped and listed in `unknown`.
        """
        vocab = self.vocab
        with torch.inference_mode():
            model.eval()
            logits, state = self.read(model, self.known_ids(text))
            p = F.softmax(logits.float(), dim=-1)  # (V,) at temperature 1
            top_p, top_i = p.topk(min(k, vocab.size))
            # Both continuations in one batch of two rows: half the forward calls.
            greedy, sampled = self.generate(
                model, logits, state, length, [None, temperature], generator
            )
        return {
            "top": [
                {"char": vocab.chars[i], "p": q}
                for q, i in zip(top_p.tolist(), top_i.tolist(), strict=True)
            ],
            "greedy": vocab.decode(greedy),
            "sample": vocab.decode(sampled),
            "unknown": sorted({ch for ch in text if vocab.index(ch) is None}),
        }

    def known_ids(self, text: str) -> list[int]:
        """Ids of the characters of `text` that are in the vocabulary, in order."""
        stoi = self.vocab.stoi
        return [stoi[ch] for ch in text if ch in stoi]

    def start_id(self) -> int:
        """A neutral first character to start an unprompted sample from."""
        for ch in ("\n", " "):
            if self.vocab.index(ch) is not None:
                return self.vocab.stoi[ch]
        return 0

    @staticmethod
    def read(model: nn.Module, ids: list[int]) -> tuple[torch.Tensor, State]:
        """Run the model over `ids` in one fused call: next-character logits (V,) and the state.

        With no ids at all, the prediction comes from the zero state: logits = W_hy 0 + b_y.
        """
        device = model.head.weight.device
        if not ids:
            h0 = torch.zeros(model.hidden_size, device=device)  # (H,)
            return model.head(h0), None
        x = torch.tensor([ids], device=device)  # (1, T)
        logits, state = model(x)  # (1, T, V)
        return logits[0, -1], state

    @staticmethod
    def generate(
        model: nn.Module,
        logits: torch.Tensor,
        state: State,
        length: int,
        temperatures: list[float | None],
        generator: torch.Generator | None,
    ) -> list[list[int]]:
        """Feed the model its own choices `length` times, one row per temperature at once.

        Every row starts from the same logits (V,) and state; temperature None means argmax.
        """
        B = len(temperatures)
        state = repeat_state(state, B)
        logits = logits.expand(B, -1)  # (B, V)
        out: list[list[int]] = [[] for _ in range(B)]
        device = model.head.weight.device
        for t in range(length):
            for row, temperature in enumerate(temperatures):
                out[row].append(choose(logits[row], temperature, generator))
            if t + 1 < length:  # the last choice needs no forward pass of its own
                x = torch.tensor([ids[-1] for ids in out], device=device)  # (B,)
                logits, state = next_logits(model, x, state)  # (B, V)
        return out

    # ------------------------------------------------------------------ queries

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """A query parsed by the spec: predict, inspect, or a lesson's gaps or sentiment."""
        if op == "predict":
            return self.predict(
                model, query["text"], query["k"], query["temperature"], query["length"]
            )
        if op == "inspect":
            from backend.core.internals import inspect_text

            return inspect_text(
                model,
                self.vocab,
                query["text"],
                query["position"],
                query["surgery"],
                query["saliency"],
            )
        if op == "gaps":
            return self.gaps(model, query)
        if op == "sentiment":
            return self.sentiment(query)
        if op == "reach":  # what each prediction depends on: the sequence-criteria lesson
            from backend.lessons import reach

            return reach.answer(model, self.vocab, query)
        if op == "clamps":  # what clamping a gate costs: the gate lesson's verdict
            from backend.lessons import gates

            return gates.answer(model, self.dataset.val, query)
        raise ValueError(f"the text task does not answer {op!r}")

    def gaps(self, model: nn.Module, query: dict[str, Any]) -> dict[str, Any]:
        """Accuracy on the dependent character at each gap, on fresh examples."""
        from backend.tasks.long_range import accuracy, make_task

        task = make_task(query["task"], **query["params"])
        scores = [
            accuracy(model, self.vocab, task.examples(g, query["n"], seed=1)) for g in query["gaps"]
        ]
        return {"gaps": query["gaps"], "accuracy": scores, "chance": task.chance}

    def sentiment(self, query: dict[str, Any]) -> dict[str, Any]:
        """Running P(positive) per run; the classifiers are trained once per session."""
        from backend.tasks import sentiment

        with self.classifier_lock:  # one training even when requests overlap
            if self.classifiers is None:
                self.classifiers = sentiment.train_classifiers(query["runs"], query["steps"])
        return {
            "runs": [
                {**scores, "running": sentiment.running_prediction(model, query["text"])}
                for model, scores in self.classifiers
            ]
        }

    def answerer(self, trainer: Any) -> Any:
        """Many clients' `predict` queries answered in one batch (`answering.Answerer`)."""
        from backend.tasks.text import answering

        return answering.Answerer(trainer) if answering.supports(trainer) else None

    # ---------------------------------------------------------------- the page

    def describe(self) -> dict[str, Any]:
        """The vocabulary, for the views that label characters."""
        return {"vocab_size": self.vocab.size, "vocab": self.vocab.to_list()}

    def state(self) -> dict[str, Any]:
        """The vocabulary (the text itself is the session's source)."""
        return {"vocab": self.vocab.to_list()}


TASK = TextTask
