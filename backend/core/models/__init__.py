"""Character models: the recurrent `CharRNN` (see `char_rnn` for the equations) and two
baselines without recurrence, `WindowMLP` and `BagOfChars` (see `baselines`)."""

from __future__ import annotations

import torch

from backend.config import TrainConfig
from backend.core.models.baselines import BASELINES, PAD, BagOfChars, WindowMLP
from backend.core.models.char_rnn import (
    ACTIVATIONS,
    CELLS,
    INITS,
    CharRNN,
    State,
    init_recurrent_,
)
from backend.core.models.char_rnn import build_model as build_recurrent

# Anything build_model returns: the same forward(x, state), head and num_params().
CharModel = CharRNN | WindowMLP | BagOfChars


def build_model(cfg: TrainConfig, vocab_size: int) -> CharModel:
    """A freshly initialised model of kind cfg.model; the same cfg.seed gives the same weights."""
    if cfg.model not in BASELINES:
        return build_recurrent(cfg, vocab_size)
    # fork_rng keeps the seeding local, as for the recurrent models.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.model == "window":
            return WindowMLP(vocab_size, cfg.hidden_size, cfg.window)
        return BagOfChars(vocab_size, cfg.hidden_size)


__all__ = [
    "ACTIVATIONS",
    "BASELINES",
    "CELLS",
    "INITS",
    "PAD",
    "BagOfChars",
    "CharModel",
    "CharRNN",
    "State",
    "WindowMLP",
    "build_model",
    "build_recurrent",
    "init_recurrent_",
]
