"""The settings schema: one declaration drives validation and the published schema."""

from __future__ import annotations

import pytest

from backend import config
from backend.config import TrainConfig
from backend.errors import InvalidInput


def test_parse_merges_partial_settings_over_a_base() -> None:
    base = TrainConfig(hidden_size=64)
    cfg = config.parse({"model": "gru", "learning_rate": 0.01}, base=base)
    assert (cfg.model, cfg.learning_rate, cfg.hidden_size) == ("gru", 0.01, 64)
    assert config.parse({"hidden_size": 32.0}).hidden_size == 32  # JSON 32.0 is a whole number


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"hidden_size": 7}, "hidden_size"),
        ({"hidden_size": 600}, "hidden_size"),
        ({"hidden_size": 12.5}, "hidden_size"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": "0.1"}, "learning_rate"),
        ({"model": "cnn"}, "model"),
        ({"clip": "yes"}, "clip"),
        ({"seq_len": True}, "seq_len"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ],
)
def test_parse_rejects_out_of_range_and_malformed_values(data: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        config.parse(data)
    assert err.value.field == field


def test_parse_rejects_non_objects() -> None:
    with pytest.raises(InvalidInput):
        config.parse(["hidden_size", 8])


def test_describe_publishes_every_field_with_its_bounds() -> None:
    described = {s["name"]: s for s in config.describe()}
    assert list(described) == [f for f in TrainConfig.__dataclass_fields__]
    assert described["hidden_size"]["type"] == "int"
    assert (described["hidden_size"]["min"], described["hidden_size"]["max"]) == (8, 512)
    assert described["model"]["choices"] == ("rnn", "lstm", "gru", "window", "bag")
    assert described["learning_rate"]["scale"] == "log" and described["learning_rate"]["live"]
    assert all(s["help"] for s in described.values())


def test_only_non_live_changes_need_a_new_model() -> None:
    cfg = TrainConfig()
    assert not cfg.needs_rebuild(cfg.replace(learning_rate=0.1, clip=False, temperature=1.2))
    assert cfg.needs_rebuild(cfg.replace(hidden_size=64))
    assert cfg.needs_rebuild(cfg.replace(seed=1))
