"""Saving and restoring a trainer as safetensors: tensors plus JSON metadata, no pickle.

A checkpoint holds everything needed to resume a run exactly: the model weights
(`model.<name>`), the optimizer's per-parameter tensors (`optim.<index>.<key>`), the
batch random stream (`generator`), and as metadata the settings, counters, the
optimizer's scalar state and a SHA-256 of every tensor's bytes.

A file can still be damaged (a full disk, a copy gone wrong, a hand edit), so:
  1. `save` writes a temporary file, flushes it to the disk (fsync) and renames it over the
     checkpoint, after moving the previous one aside (`previous_path`): a crash mid-write,
     even `kill -9`, leaves a whole file behind;
  2. `restore` checks the checksum, the settings and vocabulary, and that every weight is
     finite, and raises `Damaged` (a ValueError) before touching the trainer;
  3. `restore_latest` falls back to the previous file when the latest one is damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load
from safetensors.torch import save as serialize

from backend.config import TrainConfig
from backend.core.training import Trainer


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
        "task": trainer.task.spec.name,
        "task_state": json.dumps(trainer.task.state()),
        "step_count": str(trainer.step_count),
        "items_seen": str(trainer.items_seen),
        "optim_groups": json.dumps(optim["param_groups"]),
        "optim_scalars": json.dumps(scalars),
    }
    return tensors, meta


class Damaged(ValueError):
    """A checkpoint that cannot be trusted: unreadable, altered, another model's, or not finite."""


def previous_path(path: Path) -> Path:
    """Where the checkpoint before the latest one is kept."""
    return path.with_suffix(".previous" + path.suffix)


def checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        h.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        h.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().data)
    return h.hexdigest()


def save(trainer: Trainer, path: Path) -> None:
    """Write a checkpoint atomically, keeping the one before it as `previous_path`."""
    tensors, meta = flatten(trainer)
    meta["sha256"] = checksum(tensors)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        write_durably(tmp, serialize(tensors, metadata=meta))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if path.exists():
        os.replace(path, previous_path(path))
    os.replace(tmp, path)
    sync_directory(path.parent)


def write_durably(path: Path, blob: bytes) -> None:
    """Write `blob` to `path` and flush it to the disk before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(directory: Path) -> None:
    """Make the renames in `directory` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove(path: Path) -> None:
    """Delete a session's checkpoints, latest and previous (its model starts afresh)."""
    for old in (path, previous_path(path)):
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


def read(path: Path, trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A checkpoint's tensors and metadata, checked against `trainer`; raises `Damaged`."""
    try:
        blob = path.read_bytes()
        tensors = load(blob)
        size = struct.unpack("<Q", blob[:8])[0]
        meta = json.loads(blob[8 : 8 + size]).get("__metadata__") or {}
        saved = TrainConfig(**json.loads(meta["config"]))
        task_state = saved_task_state(meta)
        int(meta["step_count"]), items_seen(meta)
    except (OSError, SafetensorError, KeyError, TypeError, ValueError, struct.error) as exc:
        raise Damaged(f"the checkpoint cannot be read ({type(exc).__name__}: {exc})") from exc
    if "sha256" in meta and checksum(tensors) != meta["sha256"]:  # older files have none
        raise Damaged("the checkpoint's checksum does not match its contents")
    if saved.needs_rebuild(trainer.cfg) or task_state != trainer.task.state():
        raise Damaged("the checkpoint belongs to a model with other settings")
    if not all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model.")):
        raise Damaged("the checkpoint's weights are not finite (NaN or infinity)")
    return tensors, meta


def saved_task_state(meta: dict[str, str]) -> dict[str, Any]:
    """The task state a checkpoint was saved with (files from before tasks kept a vocabulary)."""
    if "task_state" in meta:
        return json.loads(meta["task_state"])
    return {"vocab": json.loads(meta["vocab"])}


def items_seen(meta: dict[str, str]) -> int:
    """Time steps trained on (files from before tasks counted characters)."""
    return int(meta["items_seen"] if "items_seen" in meta else meta["chars_seen"])


def restore(trainer: Trainer, path: Path) -> None:
    """Load a checkpoint written by `save` into a trainer built with the same model settings.

    The file is checked whole before the trainer changes (`Damaged` otherwise). The
    trainer's own live settings (learning rate, clipping...) win over the checkpoint's,
    and optimizer moments are kept only if the optimizer kind is still the same.
    """
    tensors, meta = read(path, trainer)
    saved = TrainConfig(**json.loads(meta["config"]))
    model = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        trainer.model.load_state_dict(model)
    except RuntimeError as exc:  # names or shapes that do not fit this model
        raise Damaged(f"the checkpoint does not fit this model ({exc})") from exc
    trainer.generator.set_state(tensors["generator"])
    trainer.step_count = int(meta["step_count"])
    trainer.items_seen = items_seen(meta)
    if saved.optimizer == trainer.cfg.optimizer:
        restore_optimizer(trainer, tensors, meta)
        trainer.update_config(trainer.cfg)  # re-apply today's learning rate to the groups


def restore_latest(trainer: Trainer, path: Path) -> tuple[Path | None, list[str]]:
    """Restore the newest checkpoint that passes its checks: the latest, else the previous.

    Returns the file used (None: none was usable, the trainer is untouched) and what was
    wrong with each damaged one, for the owner.
    """
    problems = []
    for candidate in (path, previous_path(path)):
        if not candidate.exists():
            continue
        try:
            restore(trainer, candidate)
            return candidate, problems
        except Damaged as exc:
            problems.append(f"{candidate.name}: {exc}")
    return None, problems


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
