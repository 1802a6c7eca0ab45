"""Next-word prediction: each step is a word, in as a one-hot vector, out as a score per word.

A text is cut into tokens (`tokens.tokenize`) and each token is numbered in a
vocabulary of the V - 1 commonest words of the training part plus `<unk>`. A word
x_t enters the model as a one-hot V-vector, exactly as a character does in the text
task, so W_xh x_t picks the column of W_xh that belongs to that word, and the head
gives V scores for the next word:

    p(w_{t+1} | w_1..w_t) = softmax(W_hy h_t + b_y)

The loss is the cross-entropy of the true next word, shown in bits per word
(L / ln 2): a model that guesses uniformly among V words scores log2(V) bits, one
that knows only how often each word appears scores the entropy of the word
frequencies (`describe()["unigram_bits"]`), and every bit below that is context.

As for characters, `encode` hands the ids over as they are and the model one-hots
them itself (`SequenceModel.encode`): the same maths, without building a (B, T, V)
tensor, and a window model picks its columns of W_xh directly.

Reference: Bengio, Ducharme, Vincent & Jauvin, "A Neural Probabilistic Language
Model" (2003); Mikolov et al., "Recurrent neural network based language model" (2010).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backend.errors import InvalidInput
from backend.tasks.base import Task
from backend.tasks.words.data import WordDataset
from backend.tasks.words.spec import SPEC
from backend.tasks.words.tokens import UNK, WordVocab, detokenize, split_vocab, tokenize

LN2 = math.log(2.0)
START = "."  # generation starts after a full stop, as a sentence does
PREVIEW_WORDS = 60  # vocabulary words listed by describe()
MAX_INSPECT_WORDS = 60  # words traced gate by gate (the payload grows with them)


class WordsTask(Task):
    """One session's words: the dataset, one-hot encoding, cross-entropy in bits per word."""

    spec = SPEC

    def __init__(self, source: dict[str, Any], dataset: WordDataset) -> None:
        self.source = source
        self.dataset = dataset
        self.vocab = dataset.vocab
        self.input_size = self.output_size = dataset.vocab.size

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> WordsTask:
        """Tokenize the source's text and number its words (no randomness: `seed` is unused)."""
        return cls(source, WordDataset.from_text(source["text"], source["max_vocab"]))

    @classmethod
    def restore(cls, source: dict[str, Any], seed: int, state: dict[str, Any]) -> WordsTask:
        """The task with the vocabulary it was saved with, so the weights' word ids still hold."""
        tokens = tokenize(source["text"])
        _, n_val = split_vocab(tokens, source["max_vocab"])
        return cls(source, WordDataset.from_tokens(tokens, WordVocab(state["vocab"]), n_val))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Word ids (B, T) as they are: the model one-hots them into V-vectors."""
        return x

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats) of the true next words y (B, T) under the logits (B, T, V)."""
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    def metric(self, loss: float) -> float:
        """Nats per word -> bits per word."""
        return loss / LN2

    @torch.no_grad()
    def sample(
        self, model: nn.Module, length: int, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """`length` words drawn one at a time from p / temperature, after a full stop."""
        logits, state = model(torch.tensor([[self.start_id()]], device=device_of(model)), None)
        words = self._generate(model, logits[0, -1], state, length, temperature, generator)
        return {"text": detokenize(words), "words": words}

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """`predict`: the next words and a continuation; `inspect`: gates and states per word."""
        if op == "predict":
            return self.predict(model, query)
        if op == "inspect":
            return self.inspect(model, query)
        raise ValueError(f"the words task does not answer {op!r}")

    @torch.no_grad()
    def predict(self, model: nn.Module, query: dict[str, Any]) -> dict[str, Any]:
        """The k likeliest next words after the typed text, and a greedy continuation."""
        tokens = tokenize(query["text"])
        ids = self.vocab.encode(tokens) if tokens else [self.start_id()]
        logits, state = model(torch.tensor([ids], device=device_of(model)), None)  # (1, T, V)
        last = logits[0, -1]  # (V,): the scores for the word after the last one typed
        p = torch.softmax(last, dim=-1)
        top = torch.topk(p, min(query["k"], self.vocab.size))
        continuation = self._generate(model, last, state, query["length"], 0.0, None)
        return {
            "seq": query["seq"],
            "tokens": [{"word": t, "known": t in self.vocab.stoi} for t in tokens],
            "unknown": self.vocab.unknown(tokens),
            "top": [
                {"word": self.vocab.words[i], "p": float(q), "unk": i == 0}
                for q, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
            ],
            "continuation": detokenize(continuation),
        }

    def inspect(self, model: nn.Module, query: dict[str, Any]) -> dict[str, Any]:
        """What the "look inside" views draw, word by word: the payload of the text task's
        `inspect_text` with words where it has characters (an unknown word reads as `<unk>`)."""
        from backend.core.internals import QUANTITIES, Surgery, one_buffer, pack, saliency, trace

        if model.kind not in QUANTITIES:
            raise InvalidInput("this model has no recurrent cell to look inside")
        tokens = tokenize(query["text"])[:MAX_INSPECT_WORDS]
        if not tokens:
            raise InvalidInput("type some words", field="text")
        position = query["position"]
        if position is not None and not 1 <= position <= len(tokens):
            raise InvalidInput(f"position must be between 1 and {len(tokens)}", field="position")
        ops = Surgery.from_dict(query["surgery"], model)
        ids = torch.tensor(self.vocab.encode(tokens), device=device_of(model))
        with torch.no_grad():
            tr = trace(model, ids, ops or None)
        sal = saliency(model, ids, position) if query["saliency"] else None
        p_next, top = tr.probs[-1].topk(min(5, self.vocab.size))
        words = self.vocab.words
        ranked = zip(top.tolist(), p_next.tolist(), strict=True)
        return {
            **one_buffer(pack(tr, binary=True)),
            "activation": tr.activation,
            "chars": [t if t in self.vocab.stoi else UNK for t in tokens],
            "vocab": self.vocab.to_list(),
            "next": [{"char": words[i], "p": p} for i, p in ranked],
            "saliency": {**sal.to_dict(), "target": words[sal.target]} if sal else None,
            "surgery": bool(ops),
        }

    def start_id(self) -> int:
        """The word generation starts after: a full stop, or `<unk>` in a text without one."""
        return self.vocab.index(START) or 0

    def sample_from_ids(self, ids: list[int]) -> dict[str, Any]:
        """The sample payload for word ids drawn elsewhere (a batched cohort)."""
        words = self.vocab.decode(ids)
        return {"text": detokenize(words), "words": words}

    def _generate(
        self,
        model: nn.Module,
        logits: torch.Tensor,
        state: Any,
        length: int,
        temperature: float,
        generator: torch.Generator | None,
    ) -> list[str]:
        """Feed the model its own words: draw one (at temperature 0, the likeliest) and repeat."""
        words: list[str] = []
        for _ in range(length):
            if temperature > 0:
                # Drawn on the CPU, so a CPU generator works wherever the model is.
                p = torch.softmax(logits.float().cpu() / temperature, dim=-1)
                if not bool(torch.isfinite(p).all()):
                    p = torch.ones_like(p)  # diverged weights (NaN) give no distribution
                i = int(torch.multinomial(p, 1, generator=generator))
            else:
                i = int(torch.argmax(logits))
            words.append(self.vocab.words[i])
            out, state = model(torch.tensor([[i]], device=logits.device), state)
            logits = out[0, -1]
        return words

    def describe(self) -> dict[str, Any]:
        """The vocabulary, the split, and the bits per word of word frequencies alone."""
        return {
            "vocab_size": self.vocab.size,
            "max_vocab": self.source["max_vocab"],
            "vocab_preview": self.vocab.words[:PREVIEW_WORDS],
            "unk": UNK,
            "train_words": len(self.dataset.train),
            "val_words": len(self.dataset.val),
            "unk_rate": self.dataset.unk_rate(),
            "unigram_bits": unigram_bits(self.dataset),
            "uniform_bits": math.log2(self.vocab.size),
        }

    def state(self) -> dict[str, Any]:
        """The vocabulary in id order: the model's weights are meaningless without it."""
        return {"vocab": self.vocab.to_list()}


def device_of(model: nn.Module) -> torch.device:
    """Where the model's weights are (a worker may keep it on a GPU)."""
    return next(model.parameters()).device


def unigram_bits(dataset: WordDataset) -> float:
    """Bits per held-out word of a model that knows only the training frequencies (add-one).

    The floor a model without context reaches: everything below it comes from the
    words before.
    """
    counts = Counter(dataset.train.tolist())
    total = len(dataset.train) + dataset.vocab.size
    bits = [-math.log2((counts.get(i, 0) + 1) / total) for i in dataset.val.tolist()]
    return sum(bits) / len(bits)


TASK = WordsTask
