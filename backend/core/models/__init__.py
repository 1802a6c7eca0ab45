"""Sequence models: the recurrent `SequenceModel` (see `recurrent` for the equations) and
two baselines without recurrence, `WindowMLP` and `BagOfChars` (see `baselines`).

Every model reads a task's input vectors of size I (or category ids, one-hot inside)
and gives an output of size O per step; the task decides what those are.
"""

from __future__ import annotations

import torch

from backend.config import TrainConfig
from backend.core.models.baselines import BASELINES, PAD, BagOfChars, WindowMLP
from backend.core.models.recurrent import (
    ACTIVATIONS,
    CELLS,
    INITS,
    SequenceModel,
    State,
    encode_input,
    init_recurrent_,
)
from backend.core.models.recurrent import build_model as build_recurrent

# Anything build_model returns: the same forward(x, state), encode, head and num_params().
Model = SequenceModel | WindowMLP | BagOfChars


def build_model(cfg: TrainConfig, input_size: int, output_size: int | None = None) -> Model:
    """A freshly initialised model of kind cfg.model, reading inputs of size `input_size`
    and giving `output_size` numbers per step (the input size when None, as for text).
    The same cfg.seed gives the same weights."""
    if cfg.model not in BASELINES:
        return build_recurrent(cfg, input_size, output_size)
    # fork_rng keeps the seeding local, as for the recurrent models.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.model == "window":
            return WindowMLP(input_size, cfg.hidden_size, cfg.window, output_size)
        return BagOfChars(input_size, cfg.hidden_size, output_size)


__all__ = [
    "ACTIVATIONS",
    "BASELINES",
    "CELLS",
    "INITS",
    "PAD",
    "BagOfChars",
    "Model",
    "SequenceModel",
    "State",
    "WindowMLP",
    "build_model",
    "build_recurrent",
    "encode_input",
    "init_recurrent_",
]
