"""Carried state (truncated BPTT), dropout and weight decay: the settings against overfitting
and for learning longer context, from the schema to the optimizer and back from an export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from backend import config
from backend.config import TrainConfig
from backend.core.models import build_model
from backend.core.training import Trainer
from backend.engine.cohort import cohort_key
from backend.errors import InvalidInput
from backend.store import checkpoints, exchange
from backend.tasks.registry import spec_for
from backend.tasks.text.task import TextTask

TEXT = "the quick brown fox jumps over the lazy dog; " * 20
TINY = TrainConfig(hidden_size=8, num_layers=1, seq_len=8, batch_size=4, learning_rate=1e-2)


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def make_trainer(**changes) -> Trainer:
    return Trainer(TextTask.from_text(TEXT), TINY.replace(**changes))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_carried_state_equals_one_pass_over_the_joined_windows(kind: str) -> None:
    trainer = make_trainer(model=kind, num_layers=2, carry_state=True)
    # The weights must not move between the two steps: an update rule that does nothing.
    trainer.optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.0)
    trainer.step()
    trainer.step()
    offset, B, T = trainer._offset, 4, 8
    lanes = [trainer.dataset.stream_batch(B, T, k, offset)[0] for k in (0, 1)]
    joined = torch.cat(lanes, dim=1)  # (B, 2T): each row's two windows, one after the other
    assert torch.equal(
        joined[:, T - 1 : T + 1],
        trainer.dataset.train[
            offset
            + torch.arange(B)[:, None] * ((len(trainer.dataset.train) - 1 - offset) // B)
            + torch.arange(T - 1, T + 1)
        ].long(),
    )  # the second window starts where the first ended, in the text itself
    trainer.model.eval()
    with torch.no_grad():
        _, whole = trainer.model(joined)
    carried = trainer._carry
    pairs = zip(whole, carried, strict=True) if kind == "lstm" else [(whole, carried)]
    for a, b in pairs:
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_without_carry_every_window_starts_from_zero() -> None:
    trainer = make_trainer()
    trainer.step()
    assert trainer._carry is None and trainer._window is None


def test_the_carry_restarts_when_the_settings_change_and_at_each_pass() -> None:
    trainer = make_trainer(carry_state=True)
    trainer.step()
    assert trainer._carry is not None and trainer._window == 1
    trainer.update_config(trainer.cfg.replace(learning_rate=2e-2))
    assert trainer._carry is None
    trainer.step()
    assert trainer._window == 1
    lane = (len(trainer.dataset.train) - 1 - trainer._offset) // 4  # inputs per lane
    for _ in range(lane // 8):  # to the end of this pass, and one step into the next
        trainer.step()
    assert trainer._window == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": 0.9}, "dropout"),
        ({"dropout": "0.2"}, "dropout"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"weight_decay": 0.5}, "weight_decay"),
        ({"weight_decay": float("inf")}, "weight_decay"),
        ({"carry_state": 1}, "carry_state"),
        ({"carry_state": "true"}, "carry_state"),
    ],
)
def test_bad_values_are_refused_by_the_server(data: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        config.parse(data)
    assert err.value.field == field


def test_the_schema_publishes_the_new_settings_as_live() -> None:
    described = {d["name"]: d for d in config.describe()}
    assert described["dropout"]["max"] == 0.8 and described["weight_decay"]["max"] == 0.1
    assert all(described[n]["live"] for n in ("dropout", "weight_decay", "carry_state"))


def test_dropout_acts_in_training_and_never_in_predictions() -> None:
    model = build_model(TINY.replace(num_layers=2, dropout=0.5), 20)
    x = torch.randint(0, 20, (3, 10))
    assert model.rnn.dropout == 0.5
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])  # a different mask every pass
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])
    plain = build_model(TINY.replace(num_layers=2), 20)  # same seed, same weights, no dropout
    plain.eval()
    torch.testing.assert_close(model(x)[0], plain(x)[0])


def test_a_trainers_predictions_and_validation_ignore_dropout() -> None:
    a, b = make_trainer(dropout=0.5), make_trainer()
    assert a.evaluate() == b.evaluate()
    ask = {"text": "the qu", "k": 3, "length": 0, "seq": 1}
    query = a.task.spec.parse_query("predict", ask)
    assert a.answer("predict", query) == b.answer("predict", query)
    assert a.model.training is False  # evaluate left it in eval mode


def test_weight_decay_reaches_the_optimizer_and_pulls_weights_to_zero() -> None:
    trainer = make_trainer(optimizer="sgd", weight_decay=0.05)
    assert all(g["weight_decay"] == 0.05 for g in trainer.optimizer.param_groups)
    trainer.update_config(trainer.cfg.replace(weight_decay=0.01))
    assert all(g["weight_decay"] == 0.01 for g in trainer.optimizer.param_groups)
    # With no gradient at all the only update left is the decay: theta <- theta (1 - lr wd).
    w = trainer.model.head.weight
    before = w.detach().clone()
    w.grad = torch.zeros_like(w)
    trainer.optimizer.step()
    torch.testing.assert_close(w.detach(), before * (1 - 1e-2 * 0.01))


def test_the_new_settings_train_alone_outside_a_cohort() -> None:
    assert cohort_key(make_trainer()) is not None
    for change in ({"dropout": 0.1}, {"weight_decay": 1e-3}, {"carry_state": True}):
        assert cohort_key(make_trainer(**change)) is None


def test_a_checkpoint_keeps_the_settings(tmp_path) -> None:
    cfg = TINY.replace(dropout=0.3, weight_decay=0.02, carry_state=True)
    trainer = Trainer(TextTask.from_text(TEXT), cfg)
    trainer.step()
    checkpoints.save(trainer, tmp_path / "c.safetensors")
    again = Trainer(TextTask.from_text(TEXT), cfg)
    checkpoints.restore(again, tmp_path / "c.safetensors")
    tensors, meta = checkpoints.read(tmp_path / "c.safetensors", again)
    saved = json.loads(meta["config"])
    assert (saved["dropout"], saved["weight_decay"], saved["carry_state"]) == (0.3, 0.02, True)
    assert all(g["weight_decay"] == 0.02 for g in again.optimizer.param_groups)
    assert again.model.drop.p == 0.3


def export_of(cfg: TrainConfig, drop: tuple[str, ...] = ()) -> bytes:
    """An export of a tiny model of `cfg`, its settings.json without the keys in `drop`."""
    vocab = sorted(set(TEXT))
    weights = {k: v.numpy() for k, v in build_model(cfg, len(vocab)).state_dict().items()}
    source, state = {"corpus": "upload", "text": TEXT}, {"vocab": vocab}
    blob = exchange.export(exchange.write(weights), cfg, spec_for("text"), source, state, 0)
    if not drop:
        return blob
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "settings.json":
                settings = json.loads(data)
                settings["config"] = {k: v for k, v in settings["config"].items() if k not in drop}
                data = json.dumps(settings).encode()
            new.writestr(item.filename, data)
    return out.getvalue()


def test_an_export_keeps_the_settings_and_an_old_one_still_imports(tmp_path) -> None:
    cfg = TINY.replace(model="gru", dropout=0.2, weight_decay=0.01, carry_state=True)
    model = exchange.parse_import(export_of(cfg), tmp_path / "a.safetensors")
    assert (model.config.dropout, model.config.weight_decay, model.config.carry_state) == (
        0.2,
        0.01,
        True,
    )
    old = export_of(TINY.replace(model="gru"), drop=("dropout", "weight_decay", "carry_state"))
    model = exchange.parse_import(old, tmp_path / "b.safetensors")
    assert (model.config.dropout, model.config.weight_decay, model.config.carry_state) == (
        0.0,
        0.0,
        False,
    )
