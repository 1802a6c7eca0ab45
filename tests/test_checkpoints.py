"""Checkpoints resume a run exactly, and never carry pickled code."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.config import TrainConfig
from backend.core.training import Trainer
from backend.store import checkpoints
from backend.tasks.text.task import TextTask

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_a_restored_trainer_continues_exactly(tmp_path: Path, optimizer: str) -> None:
    cfg = TrainConfig(
        model="gru", hidden_size=16, num_layers=2, seq_len=8, batch_size=4, optimizer=optimizer
    )
    original = Trainer(TextTask.from_text(TEXT), cfg)
    for _ in range(5):
        original.step()
    checkpoints.save(original, tmp_path / "s.safetensors")
    resumed = Trainer(TextTask.from_text(TEXT), cfg)
    checkpoints.restore(resumed, tmp_path / "s.safetensors")
    assert (resumed.step_count, resumed.items_seen) == (5, 5 * 32)
    assert [original.step().loss for _ in range(3)] == [resumed.step().loss for _ in range(3)]


def test_live_settings_win_and_other_models_are_refused(tmp_path: Path) -> None:
    cfg = TrainConfig(model="lstm", hidden_size=8, num_layers=1, seq_len=8, batch_size=2)
    trainer = Trainer(TextTask.from_text(TEXT), cfg)
    trainer.step()
    checkpoints.save(trainer, tmp_path / "s.safetensors")
    faster = Trainer(TextTask.from_text(TEXT), cfg.replace(learning_rate=0.05))
    checkpoints.restore(faster, tmp_path / "s.safetensors")
    assert faster.optimizer.param_groups[0]["lr"] == 0.05
    bigger = Trainer(TextTask.from_text(TEXT), cfg.replace(hidden_size=16))
    with pytest.raises(ValueError, match="other settings"):
        checkpoints.restore(bigger, tmp_path / "s.safetensors")
