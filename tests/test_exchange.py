"""Export files are read by hand, never unpickled, and must match the model exactly."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from safetensors.numpy import load as load_numpy

from backend.config import TrainConfig
from backend.core.models import build_model
from backend.errors import InvalidInput, TooLarge
from backend.store import exchange
from backend.tasks.registry import spec_for


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_expected_shapes_match_the_real_model(kind: str) -> None:
    cfg = TrainConfig(model=kind, hidden_size=16, num_layers=3)
    model = build_model(cfg, 11)
    real = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert exchange.expected_shapes(cfg, 11) == real


def test_hand_written_safetensors_round_trip_through_the_real_library() -> None:
    arrays = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(4, np.float32)}
    blob = exchange.write(arrays, {"note": "hi"})
    for name, array in load_numpy(blob).items():
        np.testing.assert_array_equal(array, arrays[name])
    for name, array in exchange.tensors(blob).items():
        np.testing.assert_array_equal(array, arrays[name])


def test_weights_that_do_not_fit_are_refused() -> None:
    cfg = TrainConfig(model="lstm", hidden_size=8, num_layers=1)
    model = build_model(cfg, 5)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    exchange.check_weights(exchange.write(weights), cfg, 5)
    with pytest.raises(InvalidInput, match="missing"):
        exchange.check_weights(exchange.write({"head.bias": weights["head.bias"]}), cfg, 5)
    with pytest.raises(InvalidInput, match="shape"):
        exchange.check_weights(exchange.write(weights), cfg.replace(hidden_size=16), 5)
    truncated = exchange.write(weights)[:-8]
    with pytest.raises(InvalidInput, match="offsets"):
        exchange.check_weights(truncated, cfg, 5)


def small_export(extra: dict[str, bytes]) -> bytes:
    """A valid export of a tiny GRU, with `extra` members added."""
    text = "the cat sat on the mat. " * 20
    vocab = sorted(set(text))
    cfg = TrainConfig(model="gru", hidden_size=8, num_layers=1)
    weights = {k: v.numpy() for k, v in build_model(cfg, len(vocab)).state_dict().items()}
    source = {"corpus": "upload", "text": text}
    state = {"vocab": vocab}
    blob = exchange.export(exchange.write(weights), cfg, spec_for("text"), source, state, 0)
    out = io.BytesIO(blob)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as z:
        for name, data in extra.items():
            z.writestr(name, data)
    return out.getvalue()


def test_an_import_streams_its_weights_to_disk(tmp_path) -> None:
    model = exchange.parse_import(small_export({}), tmp_path / "w.safetensors")
    assert model.weights == tmp_path / "w.safetensors" and model.weights.stat().st_size > 0


def test_zips_with_many_members_or_a_huge_unpacked_size_are_refused(tmp_path) -> None:
    many = small_export({f"junk/{i}.txt": b"" for i in range(2000)})
    with pytest.raises(InvalidInput, match="2005 files"):
        exchange.parse_import(many, tmp_path / "w.safetensors")
    bomb = small_export({"padding.bin": bytes(exchange.MAX_IMPORT_BYTES)})  # deflates to ~64 KB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(TooLarge, match="unpacks"):
        exchange.parse_import(bomb, tmp_path / "w.safetensors")


def test_an_export_from_before_tasks_imports_as_a_text_session(tmp_path) -> None:
    text = "the cat sat on the mat. " * 20
    vocab = sorted(set(text))
    cfg = TrainConfig(model="gru", hidden_size=8, num_layers=1)
    weights = {k: v.numpy() for k, v in build_model(cfg, len(vocab)).state_dict().items()}
    settings = {"format": 1, "config": cfg.to_dict(), "vocab": vocab, "step": 3}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("model.safetensors", exchange.write(weights))
        z.writestr("settings.json", json.dumps(settings))
        z.writestr("text.txt", text)
    model = exchange.parse_import(out.getvalue(), tmp_path / "w.safetensors")
    assert model.task == "text" and model.source == {"corpus": "upload", "text": text}


def test_an_export_names_its_task_and_carries_its_source_and_state(tmp_path) -> None:
    with zipfile.ZipFile(io.BytesIO(small_export({}))) as z:
        settings = json.loads(z.read("settings.json"))
        source = json.loads(z.read("source.json"))
        names = set(z.namelist())
    assert settings["format"] == 2 and settings["task"] == "text"
    assert settings["state"]["vocab"] == settings["vocab"] == sorted(set(source["text"]))
    assert {"model.safetensors", "settings.json", "source.json", "sample.py"} <= names
