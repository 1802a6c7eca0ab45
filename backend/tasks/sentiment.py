"""Order matters: a small English and French sentiment set, and a many-to-one classifier.

The set is written from templates with hand-picked words. Most sentences come in
*order-flipped pairs*: the same characters in a different order, with opposite
labels,

  "The food was good, not bad at all."     positive
  "The food was bad, not good at all."     negative

so anything that ignores order (a bag of characters, or of words) gives both
sentences of a pair the same input and therefore the same answer: on the pairs
it is right exactly half of the time, whatever it learned.

The classifier is the same character model as the language models (`build_model`:
rnn, lstm, gru, window or bag), read *many-to-one*: it reads the whole sentence,
and a head on its last hidden state h_T gives the label instead of the next character,

  p(positive | x_1..x_T) = softmax(W_hy h_T + b_y)[1]        W_hy is (2, H)

trained with the cross-entropy of that one prediction per sentence. Because the
model is causal, the same head applied to h_t at every t is the prediction after
each prefix: the running prediction a user sees while typing (`running_prediction`).
For the bag h_T depends only on the character counts; for the window only on the
last n characters, here the uninformative " at all." or " du tout.".

Reference: Socher et al., "Recursive Deep Models for Semantic Compositionality
Over a Sentiment Treebank" (2013), for why negation and contrast defeat bag models.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from backend.config import TrainConfig
from backend.core.data import Vocab
from backend.core.models import build_model
from backend.core.training import build_optimizer

NEGATIVE, POSITIVE = 0, 1


@dataclass(frozen=True)
class Sentence:
    """One labelled sentence; sentences of an order-flipped pair share `pair` (else -1)."""

    text: str
    label: int  # NEGATIVE or POSITIVE
    lang: str  # "en" or "fr"
    about: str  # the noun it is about, which decides the train/test split
    pair: int = -1


# ----------------------------------------------------------------- the words

EN_NOUNS = (
    "food",
    "film",
    "hotel",
    "service",
    "book",
    "concert",
    "coffee",
    "trip",
    "music",
    "room",
)
EN_POSITIVE = ("good", "great", "lovely", "excellent")
EN_NEGATIVE = ("bad", "awful", "terrible", "boring")
# {a}: the adjective that decides, {b}: the other one.
EN_PAIR_TEMPLATES = (
    "The {noun} was {a}, not {b} at all.",
    "I thought the {noun} would be {b}, but it was {a}.",
    "At first the {noun} seemed {b}, but in the end it was {a}.",
)
EN_PLAIN = ("The {noun} was {adj}.", "The {noun} was not {adj}.")

# French nouns carry their gender, adjectives both forms, so every sentence agrees.
FR_NOUNS = (
    ("le repas", "m"),
    ("le film", "m"),
    ("l'hôtel", "m"),
    ("le service", "m"),
    ("le livre", "m"),
    ("la soupe", "f"),
    ("la musique", "f"),
    ("la chambre", "f"),
    ("la soirée", "f"),
    ("la visite", "f"),
)
FR_POSITIVE = (
    ("bon", "bonne"),
    ("excellent", "excellente"),
    ("génial", "géniale"),
    ("agréable", "agréable"),
)
FR_NEGATIVE = (
    ("mauvais", "mauvaise"),
    ("horrible", "horrible"),
    ("nul", "nulle"),
    ("ennuyeux", "ennuyeuse"),
)
FR_PAIR_TEMPLATES = (
    "{Noun} était {a}, pas {b} du tout.",
    "Je pensais que {noun} serait {b}, mais {pron} était {a}.",
    "Au début, {noun} semblait {b}, mais au final {pron} était {a}.",
)
FR_PLAIN = ("{Noun} était {adj}.", "{Noun} n'était pas {adj}.")

# Nouns only the test set uses, so a high test score is not memorised sentences.
TEST_NOUNS = {"en": ("concert", "room"), "fr": ("la soirée", "le service")}


# ----------------------------------------------------------------- the set


def _capitalise(words: str) -> str:
    """The words with a capital first letter, the rest untouched: "la soupe" -> "La soupe"."""
    return words[0].upper() + words[1:]


def _english(start_pair: int) -> list[Sentence]:
    """English pairs (one template per noun and adjective pair, in turn) and plain sentences."""
    out: list[Sentence] = []
    combos = itertools.product(EN_NOUNS, EN_POSITIVE, EN_NEGATIVE)
    for k, (noun, pos, neg) in enumerate(combos):
        template = EN_PAIR_TEMPLATES[k % len(EN_PAIR_TEMPLATES)]
        pair = start_pair + k
        out.append(Sentence(template.format(noun=noun, a=pos, b=neg), POSITIVE, "en", noun, pair))
        out.append(Sentence(template.format(noun=noun, a=neg, b=pos), NEGATIVE, "en", noun, pair))
    for noun, adj in itertools.product(EN_NOUNS, EN_POSITIVE + EN_NEGATIVE):
        label = POSITIVE if adj in EN_POSITIVE else NEGATIVE
        plain, negated = (t.format(noun=noun, adj=adj) for t in EN_PLAIN)
        out += [Sentence(plain, label, "en", noun), Sentence(negated, 1 - label, "en", noun)]
    return out


def _french(start_pair: int) -> list[Sentence]:
    """French pairs and plain sentences, with every adjective agreeing with its noun."""
    out: list[Sentence] = []
    combos = itertools.product(FR_NOUNS, FR_POSITIVE, FR_NEGATIVE)
    for k, ((noun, gender), pos, neg) in enumerate(combos):
        g = 0 if gender == "m" else 1
        words = {"noun": noun, "Noun": _capitalise(noun), "pron": ("il", "elle")[g]}
        template = FR_PAIR_TEMPLATES[k % len(FR_PAIR_TEMPLATES)]
        pair = start_pair + k
        out.append(
            Sentence(template.format(**words, a=pos[g], b=neg[g]), POSITIVE, "fr", noun, pair)
        )
        out.append(
            Sentence(template.format(**words, a=neg[g], b=pos[g]), NEGATIVE, "fr", noun, pair)
        )
    for (noun, gender), adj in itertools.product(FR_NOUNS, FR_POSITIVE + FR_NEGATIVE):
        g = 0 if gender == "m" else 1
        label = POSITIVE if adj in FR_POSITIVE else NEGATIVE
        plain, negated = (t.format(Noun=_capitalise(noun), adj=adj[g]) for t in FR_PLAIN)
        out += [Sentence(plain, label, "fr", noun), Sentence(negated, 1 - label, "fr", noun)]
    return out


def sentences(lang: str | None = None) -> list[Sentence]:
    """The whole set, or one language of it ("en" or "fr"), always in the same order."""
    english = _english(start_pair=0)
    everything = english + _french(start_pair=len(english))
    return [s for s in everything if lang is None or s.lang == lang]


def split(lang: str | None = None) -> tuple[list[Sentence], list[Sentence]]:
    """(train, test): the test set is every sentence about a held-out noun."""
    data = sentences(lang)
    test = [s.about in TEST_NOUNS[s.lang] for s in data]
    return (
        [s for s, t in zip(data, test, strict=True) if not t],
        [s for s, t in zip(data, test, strict=True) if t],
    )


def flipped_pairs(data: list[Sentence]) -> list[Sentence]:
    """Only the sentences that belong to an order-flipped pair."""
    return [s for s in data if s.pair >= 0]


def vocabulary() -> Vocab:
    """Every character of the set, so any of its sentences can be encoded."""
    return Vocab("".join(s.text for s in sentences()))


# --------------------------------------------------------------- the model


# Small and quick: the sentences are short and the set is a few hundred of them.
CLASSIFIER_DEFAULTS = {"hidden_size": 32, "num_layers": 1, "learning_rate": 1e-2}


class SentimentClassifier(nn.Module):
    """A character model of any kind whose head predicts the label from h_t (many-to-one).

    `settings` are TrainConfig fields (hidden_size, window, seed, learning_rate, ...);
    the model is built from them exactly as a language model would be, and
    `train_classifier` takes its optimizer, batch size and clipping from them too.
    """

    def __init__(self, kind: str, vocab: Vocab, **settings: Any) -> None:
        super().__init__()
        self.cfg = TrainConfig(**{**CLASSIFIER_DEFAULTS, **settings, "model": kind})
        self.kind = kind
        self.vocab = vocab
        self.net = build_model(self.cfg, vocab.size)
        # Replace the next-character head (H -> V) by a label head (H -> 2), seeded too.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            self.net.head = nn.Linear(self.cfg.hidden_size, 2)  # W_hy, b_y

    @classmethod
    def from_config(cls, cfg: TrainConfig, vocab: Vocab) -> SentimentClassifier:
        """The classifier with every setting of `cfg` (a lesson run's, say)."""
        settings = {k: v for k, v in cfg.to_dict().items() if k != "model"}
        return cls(cfg.model, vocab, **settings)

    def running(self, x: torch.Tensor) -> torch.Tensor:
        """Label logits after every prefix of x (B, T): (B, T, 2)."""
        logits, _ = self.net(x)  # the net's head is the label head
        return logits

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Label logits (B, 2) after the last real character of each right-padded row of x."""
        logits = self.running(x)  # (B, T, 2): padding comes after, so it cannot change them
        return logits[torch.arange(len(x)), lengths - 1]  # (B, 2)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts as right-padded ids (B, T_max) and their lengths (B,)."""
        ids = [self.vocab.encode(t) for t in texts]
        lengths = torch.tensor([len(i) for i in ids])
        x = nn.utils.rnn.pad_sequence(ids, batch_first=True)  # pads with id 0
        return x, lengths

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def train_classifier(
    model: SentimentClassifier, data: list[Sentence], steps: int = 300
) -> list[float]:
    """Train on the cross-entropy of each sentence's label; returns every step's loss (nats).

    The optimizer, learning rate, batch size, clipping and batch seed are the model's settings.
    """
    cfg = model.cfg
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = build_optimizer(cfg, model.parameters())
    x_all, lengths_all = model.encode([s.text for s in data])  # (N, T_max), (N,)
    y_all = torch.tensor([s.label for s in data])  # (N,)
    losses = []
    model.train()
    for _ in range(steps):
        # 1. A random batch, trimmed to its longest sentence.
        idx = torch.randint(0, len(data), (cfg.batch_size,), generator=generator)
        lengths = lengths_all[idx]
        x = x_all[idx, : int(lengths.max())]  # (B, T)
        # 2. One prediction per sentence, from its last hidden state.
        loss = F.cross_entropy(model(x, lengths), y_all[idx])
        # 3. Backward, clip if asked, update.
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_threshold)
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model: SentimentClassifier, data: list[Sentence]) -> float:
    """The fraction of sentences whose likelier label is the right one."""
    model.eval()
    x, lengths = model.encode([s.text for s in data])
    predicted = model(x, lengths).argmax(dim=-1)  # (N,)
    return (predicted == torch.tensor([s.label for s in data])).float().mean().item()


@torch.no_grad()
def running_prediction(model: SentimentClassifier, text: str) -> list[float]:
    """P(positive) after each character of `text`, for the box the user types into.

    A character the set never contains is skipped: the probability stays where it was
    (before any known character, it is the empty prefix's, from the zero state h = 0).
    """
    model.eval()
    known = [model.vocab.stoi[ch] for ch in text if ch in model.vocab.stoi]
    h0 = torch.zeros(model.cfg.hidden_size)  # (H,)
    p = F.softmax(model.net.head(h0), dim=-1)[POSITIVE].item()
    p_known: list[float] = []
    if known:
        logits = model.running(torch.tensor([known]))  # (1, T, 2)
        p_known = F.softmax(logits[0], dim=-1)[:, POSITIVE].tolist()
    out, k = [], 0
    for ch in text:
        if ch in model.vocab.stoi:
            p, k = p_known[k], k + 1
        out.append(p)
    return out


def train_classifiers(runs: list[dict], steps: int) -> list[tuple[Any, dict]]:
    """One many-to-one sentiment classifier per run, with its held-out accuracies."""
    train, test = split()
    vocab = vocabulary()
    out = []
    for run in runs:
        model = SentimentClassifier.from_config(TrainConfig(**run["config"]), vocab)
        train_classifier(model, train, steps)
        scores = {
            "label": run["label"],
            "kind": run["config"]["model"],
            "accuracy": accuracy(model, test),
            "pair_accuracy": accuracy(model, flipped_pairs(test)),
        }
        out.append((model, scores))
    return out
