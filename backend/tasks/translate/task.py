"""Translation: English number words to French, by an encoder-decoder (see `model`).

The pairs come from `pairs` (num2words on both sides), split by number. One training
example is one pair; a batch packs B of them into x (B, T, 2): x[..., 0] the English
character ids, x[..., 1] the decoder's input (<bos> then the French characters), and
y (B, T) the French characters then <eos>. Padding (id 0) is masked out of the loss:

    L = -(1 / N) * sum over the N real French characters (and <eos>) of log p(y_u | y_<u, x)

shown as L / ln 2 bits per French character. The held-out score is the share of held-out
numbers whose greedy translation is exactly right, every character and nothing more.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backend.tasks.base import Task
from backend.tasks.translate.model import PAD, Encoded, Seq2Seq, select_rows, start_vector
from backend.tasks.translate.pairs import MAX_SOURCE_CHARS, Split, english, french
from backend.tasks.translate.spec import SOURCE_VOCAB, SPEC, TARGET_VOCAB

LN2 = math.log(2.0)
BOS, EOS = TARGET_VOCAB.index("<bos>"), TARGET_VOCAB.index("<eos>")
SOURCE_IDS = {ch: i for i, ch in enumerate(SOURCE_VOCAB) if i != PAD}
TARGET_IDS = {ch: i for i, ch in enumerate(TARGET_VOCAB) if i > EOS}
MAX_TARGET_CHARS = 100  # the longest French (999,999) has 83 characters
VAL_PAIRS = 512  # held-out pairs of the validation loss
TOP = 3  # candidates shown per output character
ROUND = 3  # decimals of the states sent to the page


def source_ids(texts: list[str]) -> torch.Tensor:
    """English texts -> ids (B, S), padded with PAD after each."""
    S = max(len(t) for t in texts)
    ids = torch.full((len(texts), S), PAD, dtype=torch.long)
    for b, text in enumerate(texts):
        ids[b, : len(text)] = torch.tensor([SOURCE_IDS[ch] for ch in text])
    return ids


def pack(sources: list[str], targets: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs -> x (B, T, 2) [source ids, <bos> + target ids] and y (B, T) target ids + <eos>."""
    T = max(max(len(s) for s in sources), max(len(t) for t in targets) + 1)
    x = torch.full((len(sources), T, 2), PAD, dtype=torch.long)
    y = torch.full((len(sources), T), PAD, dtype=torch.long)
    x[:, : source_ids(sources).shape[1], 0] = source_ids(sources)
    for b, target in enumerate(targets):
        ids = torch.tensor([TARGET_IDS[ch] for ch in target] + [EOS])
        x[b, 0, 1] = BOS
        x[b, 1 : len(ids), 1] = ids[:-1]
        y[b, : len(ids)] = ids
    return x, y


class PairDataset:
    """Training pairs drawn from the training numbers; validation on held-out numbers.

    Same API as `SequenceDataset`, with one pair per row instead of a window: `seq_len`
    is ignored (a pair is as long as its words).
    """

    def __init__(self, split: Split) -> None:
        self.split = split
        step = max(1, len(split.held_out) // VAL_PAIRS)
        self.val_numbers = split.held_out[::step][:VAL_PAIRS].tolist()

    def batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` random training numbers as packed pairs: x (B, T, 2), y (B, T)."""
        picks = torch.randint(0, len(self.split.train), (batch_size,), generator=generator)
        numbers = self.split.train[picks.numpy()].tolist()
        return pack([english(n) for n in numbers], [french(n) for n in numbers])

    def val_windows(self, seq_len: int, max_items: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The same held-out pairs every time."""
        numbers = self.val_numbers
        return pack([english(n) for n in numbers], [french(n) for n in numbers])

    def __len__(self) -> int:
        return self.split.largest + 1


class TranslateTask(Task):
    """English number words -> French number words, for numbers up to source["range"]."""

    spec = SPEC

    def __init__(self, largest: int, attention: str, seed: int) -> None:
        self.largest, self.attention = largest, attention
        self.split = Split(largest, seed)
        self.dataset = PairDataset(self.split)
        self.input_size, self.output_size = len(SOURCE_VOCAB), len(TARGET_VOCAB)
        self.score_numbers = self.split.score_numbers()

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> TranslateTask:
        """The pairs of `source`'s range, split by `seed` (the same split every time)."""
        return cls(source["range"], source["attention"], seed)

    def build_model(self, cfg: Any) -> Seq2Seq:
        """The encoder-decoder of cfg's cell and size; the same seed gives the same weights."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return Seq2Seq(
                cfg.model,
                self.input_size,
                self.output_size,
                cfg.hidden_size,
                cfg.num_layers,
                self.attention,
            )

    # ----------------------------------------------------------------- training

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Packed ids (B, T, 2) as they are: the model one-hots each side itself."""
        return x

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per French character (and <eos>); padding ignored."""
        return F.cross_entropy(out.flatten(0, 1), y.flatten(), ignore_index=PAD)

    def metric(self, loss: float) -> float:
        """Nats -> bits per French character."""
        return loss / LN2

    # ----------------------------------------------------------------- decoding

    @torch.no_grad()
    def greedy(
        self, model: Seq2Seq, texts: list[str], trace: bool = False
    ) -> tuple[list[str], dict[str, Any]]:
        """Greedy translations of English `texts`, all rows at once, step by step.

        With `trace`, also the per-step logits (B, U, V) and attention (B, U, S) for the page.
        """
        model.eval()
        device = model.head.weight.device
        enc = model.encode_source(source_ids(texts).to(device))
        B = len(texts)
        prev = torch.full((B, 1), BOS, dtype=torch.long, device=device)
        state, done = None, torch.zeros(B, dtype=torch.bool, device=device)
        out, logits_steps, attn_steps = [], [], []
        for _ in range(MAX_TARGET_CHARS + 1):
            logits, state, a = model.decode(enc, prev, state)  # (B, 1, V)
            logits = writable(logits)
            prev = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            out.append(prev[:, 0])
            if trace:
                logits_steps.append(logits[:, 0])
                attn_steps.append(a[:, 0] if a is not None else None)
            done |= prev[:, 0] == EOS
            if bool(done.all()):
                break
        ids = torch.stack(out, 1).tolist()  # (B, U)
        extra = {"enc": enc, "logits": logits_steps, "attention": attn_steps}
        return [self.decode_ids(row) for row in ids], extra

    @staticmethod
    def decode_ids(ids: list[int]) -> str:
        """French ids up to the first <eos> -> text (<bos> and padding are dropped)."""
        chars = []
        for i in ids:
            if i == EOS:
                break
            if i > EOS:
                chars.append(TARGET_VOCAB[i])
        return "".join(chars)

    @torch.no_grad()
    def beam(self, model: Seq2Seq, text: str, width: int) -> list[dict[str, Any]]:
        """Beam search: the `width` likeliest translations of one text, best first.

        Each step extends every kept prefix by every character and keeps the `width` with
        the highest summed log-probability; a prefix ending in <eos> is finished.
        """
        model.eval()
        device = model.head.weight.device
        enc = model.encode_source(source_ids([text]).to(device))
        beams: list[tuple[list[int], float]] = [([], 0.0)]
        finished: list[tuple[list[int], float]] = []
        state = None
        for _ in range(MAX_TARGET_CHARS + 1):
            rows = len(beams)
            prev = torch.tensor([[b[0][-1] if b[0] else BOS] for b in beams], device=device)
            enc_rows = Encoded(enc.out.expand(rows, -1, -1), enc.mask.expand(rows, -1), None)
            if state is None:
                state = select_rows(enc.state, torch.zeros(rows, dtype=torch.long))
            logits, state, _ = model.decode(enc_rows, prev, state)
            logp = writable(logits[:, -1]).log_softmax(-1)  # (R, V)
            total = torch.tensor([b[1] for b in beams], device=device)[:, None] + logp
            # 2 x width candidates: enough for `width` live prefixes after some finish.
            top_v, top_i = total.flatten().topk(min(2 * width, total.numel()))
            keep, kept_rows = [], []
            for v, i in zip(top_v.tolist(), top_i.tolist(), strict=True):
                row, char = divmod(i, logp.shape[1])
                if char == EOS:
                    finished.append((beams[row][0], v))
                elif len(keep) < width:
                    keep.append((beams[row][0] + [char], v))
                    kept_rows.append(row)
            # Log-probabilities only fall as a prefix grows: once `width` translations are
            # finished and better than every live prefix, no live prefix can overtake them.
            done = sorted(v for _, v in finished)[-width:]
            if not keep or (len(done) >= width and done[0] >= keep[0][1]):
                break
            beams = keep
            state = select_rows(state, torch.tensor(kept_rows, device=device))
        else:
            finished += beams  # out of length: the unfinished prefixes count as they are
        best = sorted(finished, key=lambda b: -b[1])[:width]
        return [{"text": self.decode_ids(ids), "logp": round(lp, 4)} for ids, lp in best]

    # ------------------------------------------------------------------ queries

    def score(self, model: nn.Module) -> float:
        """Exact-match accuracy of greedy translations on fixed held-out numbers."""
        numbers = self.score_numbers
        outputs, _ = self.greedy(model, [english(n) for n in numbers])
        return sum(o == french(n) for o, n in zip(outputs, numbers, strict=True)) / len(numbers)

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """A parsed `translate` or `accuracy` query."""
        if op == "translate":
            return self.translate(model, query)
        if op == "accuracy":
            return self.accuracy(model)
        raise ValueError(f"the translation task does not answer {op!r}")

    def translate(self, model: Seq2Seq, query: dict[str, Any]) -> dict[str, Any]:
        """One number: the greedy output step by step, what the encoder gave, and the beam."""
        text, n = query["text"], query["number"]
        (output,), extra = self.greedy(model, [text], trace=True)
        enc: Encoded = extra["enc"]
        steps = []
        for logits, a in zip(extra["logits"], extra["attention"], strict=True):
            p = logits[0].float().softmax(-1)
            top_p, top_i = p.topk(TOP)
            steps.append(
                {
                    "char": token(int(top_i[0])),
                    "top": [
                        {"char": token(i), "p": round(q, 4)}
                        for q, i in zip(top_p.tolist(), top_i.tolist(), strict=True)
                    ],
                    "attention": None if a is None else rounded(a[0]),
                }
            )
        return {
            "number": n,
            "source": text,
            "output": output,
            "expected": query["expected"],
            "correct": output == query["expected"],
            "held_out": self.split.is_held_out(n),
            "in_range": n <= self.largest,
            "steps": steps,
            "encoder_states": rounded(enc.out[0]),  # (S, H): h_s after each English character
            "start": rounded(start_vector(enc.state)[0]),  # (H,): all the decoder is given
            "attention": self.attention,
            "beams": self.beam(model, text, query["beam"]) if query["beam"] > 1 else [],
        }

    def accuracy(self, model: Seq2Seq) -> dict[str, Any]:
        """Greedy exact-match accuracy on every validation held-out number, by input length."""
        numbers = self.dataset.val_numbers
        texts = [english(n) for n in numbers]
        outputs, _ = self.greedy(model, texts)
        buckets: dict[int, list[int]] = {}
        for text, out, n in zip(texts, outputs, numbers, strict=True):
            bucket = buckets.setdefault(length_bucket(len(text)), [0, 0])
            bucket[0] += out == french(n)
            bucket[1] += 1
        return {
            "bucket": LENGTH_BUCKET,
            "lengths": sorted(buckets),
            "correct": [buckets[k][0] for k in sorted(buckets)],
            "total": [buckets[k][1] for k in sorted(buckets)],
            "overall": sum(b[0] for b in buckets.values()) / len(numbers),
        }

    # ---------------------------------------------------------------- the page

    def sample(
        self, model: nn.Module, length: int, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """A few held-out numbers translated greedily: {"pairs": [{source, output, expected}]}."""
        pick = torch.randint(0, len(self.score_numbers), (4,), generator=generator).tolist()
        numbers = [self.score_numbers[i] for i in pick]
        outputs, _ = self.greedy(model, [english(n) for n in numbers])
        return {
            "pairs": [
                {"number": n, "source": english(n), "output": o, "expected": french(n)}
                for n, o in zip(numbers, outputs, strict=True)
            ]
        }

    def describe(self) -> dict[str, Any]:
        """The range, attention, the split's sizes and the vocabularies."""
        return {
            "range": self.largest,
            "attention": self.attention,
            "train_numbers": len(self.split.train),
            "held_out_numbers": len(self.split.held_out),
            "score_numbers": len(self.score_numbers),
            "max_source_chars": MAX_SOURCE_CHARS,
            "source_vocab": list(SOURCE_VOCAB),
            "target_vocab": list(TARGET_VOCAB),
            "examples": [english(n) for n in self.score_numbers[:6]],
        }

    def state(self) -> dict[str, Any]:
        """Nothing beyond the source: the split is rebuilt from (range, seed)."""
        return {}


LENGTH_BUCKET = 10  # characters per bucket of the accuracy-by-length answer


def length_bucket(chars: int) -> int:
    """The start of the bucket of LENGTH_BUCKET characters that `chars` falls in: 0, 10, 20..."""
    return chars // LENGTH_BUCKET * LENGTH_BUCKET


def writable(logits: torch.Tensor) -> torch.Tensor:
    """Logits (..., V) with <pad> and <bos> ruled out: the decoder never writes them."""
    return logits.index_fill(-1, torch.tensor([PAD, BOS], device=logits.device), float("-inf"))


def token(i: int) -> str:
    """A French id as the page shows it: a character, or <eos>."""
    return TARGET_VOCAB[i]


def rounded(t: torch.Tensor) -> list:
    """A tensor as nested lists of floats with ROUND decimals (small JSON)."""
    return torch.round(t.float().cpu(), decimals=ROUND).tolist()


TASK = TranslateTask
