"""Saving and restoring a trainer as safetensors: tensors plus JSON metadata, no pickle.

A checkpoint holds everything needed to resume a run exactly: the model weights
(`model.<name>`), the optimizer's per-parameter tensors (`optim.<index>.<key>`), the
batch random stream (`generator`), and as metadata the settings, counters and the
optimizer's scalar state. Files are written to a temporary name and renamed, so a crash
mid-write (even `kill -9`) leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from backend.config import TrainConfig
from backend.training import Trainer


def flatten(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The trainer's state as named CPU tensors and string metadata."""
    tensors = {
        f"model.{k}": v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()
    }
    optim = trainer.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in optim["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:  # 0-d tensors (Adam's step count), numbers, or None (SGD without momentum)
                scalars.setdefault(str(index), {})[key] = None if value is None else float(value)
    tensors["generator"] = trainer.generator.get_state()
    meta = {
        "config": json.dumps(trainer.cfg.to_dict()),
        "vocab": json.dumps(trainer.dataset.vocab.to_list()),
        "step_count": str(trainer.step_count),
        "chars_seen": str(trainer.chars_seen),
        "optim_groups": json.dumps(optim["param_groups"]),
        "optim_scalars": json.dumps(scalars),
    }
    return tensors, meta


def save(trainer: Trainer, path: Path) -> None:
    """Write a checkpoint atomically."""
    tensors, meta = flatten(trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def restore(trainer: Trainer, path: Path) -> None:
    """Load a checkpoint written by `save` into a trainer built with the same model settings.

    The trainer's own live settings (learning rate, clipping...) win over the checkpoint's,
    and optimizer moments are kept only if the optimizer kind is still the same.
    """
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    saved = TrainConfig(**json.loads(meta["config"]))
    if saved.needs_rebuild(trainer.cfg):
        raise ValueError("the checkpoint belongs to a model with other settings")
    tensors = load_file(str(path))
    model = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    trainer.model.load_state_dict(model)
    trainer.generator.set_state(tensors["generator"])
    trainer.step_count = int(meta["step_count"])
    trainer.chars_seen = int(meta["chars_seen"])
    if saved.optimizer == trainer.cfg.optimizer:
        restore_optimizer(trainer, tensors, meta)
        trainer.update_config(trainer.cfg)  # re-apply today's learning rate to the groups


def restore_optimizer(trainer: Trainer, tensors: dict, meta: dict[str, str]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, scalars in json.loads(meta["optim_scalars"]).items():
        for name, value in scalars.items():
            state.setdefault(int(index), {})[name] = None if value is None else torch.tensor(value)
    groups = json.loads(meta["optim_groups"])
    trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
