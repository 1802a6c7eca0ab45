"""Export and import of trained models: safetensors + JSON settings + a standalone script.

An export is a zip with
- `model.safetensors`: the weights only, named as in `CharRNN.state_dict()`;
- `settings.json`: `{"format": 1, "config": {...}, "vocab": [...], "step": n}`;
- `text.txt`: the training text, so an imported model can keep training;
- `sample.py`: a short PyTorch script that loads the two files and generates text.

Uploaded files are untrusted. Everything here is plain byte and JSON parsing (no pickle,
no torch): the safetensors header is read by hand and every tensor's name, dtype, shape
and byte range must be exactly what the declared settings and vocabulary imply, and every
value finite, before a worker ever loads it.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend import config
from backend.config import LIMITS, TrainConfig
from backend.errors import InvalidInput, TooLarge

FORMAT = 1
SAMPLE_SCRIPT = Path(__file__).with_name("sample_script.py")
MAX_IMPORT_BYTES = 64 * 1024 * 1024
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@dataclass
class Imported:
    """A validated upload: settings, vocabulary, training text and weights (safetensors bytes)."""

    config: TrainConfig
    vocab: list[str]
    text: str
    weights: bytes


def expected_shapes(cfg: TrainConfig, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of the model these settings build, with its shape (no model is built)."""
    hidden = cfg.hidden_size
    if cfg.model in ("window", "bag"):  # one hidden layer on the window's or bag's features
        inputs = cfg.window * vocab_size if cfg.model == "window" else vocab_size
        return {
            "hidden.weight": (hidden, inputs),  # W_xh
            "head.weight": (vocab_size, hidden),  # W_hy
            "head.bias": (vocab_size,),  # b_y
        }
    rows = GATES[cfg.model] * hidden
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(cfg.num_layers):
        inputs = vocab_size if k == 0 else hidden
        shapes[f"rnn.weight_ih_l{k}"] = (rows, inputs)
        shapes[f"rnn.weight_hh_l{k}"] = (rows, hidden)
        shapes[f"rnn.bias_ih_l{k}"] = (rows,)
        shapes[f"rnn.bias_hh_l{k}"] = (rows,)
    shapes["head.weight"] = (vocab_size, hidden)
    shapes["head.bias"] = (vocab_size,)
    return shapes


def param_count(cfg: TrainConfig, vocab_size: int) -> int:
    """How many numbers the model these settings build holds."""
    return sum(math.prod(shape) for shape in expected_shapes(cfg, vocab_size).values())


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors JSON header and where the tensor bytes start."""
    if len(data) < 8:
        raise InvalidInput("model.safetensors is not a safetensors file")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(len(data) - 8, 1024 * 1024):
        raise InvalidInput("model.safetensors has a malformed header")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("model.safetensors has a malformed header") from exc
    if not isinstance(header, dict):
        raise InvalidInput("model.safetensors has a malformed header")
    return header, 8 + size


def tensors(data: bytes) -> dict[str, np.ndarray]:
    """Every tensor of a float32 safetensors file, as read-only arrays (checked, not trusted)."""
    header, start = read_header(data)
    header.pop("__metadata__", None)
    out, end = {}, start
    for name, info in sorted(header.items(), key=lambda kv: _offsets(kv)[0]):
        if not isinstance(info, dict) or info.get("dtype") != "F32":
            raise InvalidInput(f"tensor {name} must be float32")
        shape, (lo, hi) = info.get("shape"), _offsets((name, info))
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise InvalidInput(f"tensor {name} has a malformed shape")
        if start + lo != end or hi - lo != 4 * int(np.prod(shape)) or start + hi > len(data):
            raise InvalidInput(f"tensor {name} has inconsistent byte offsets")
        out[name] = np.frombuffer(data, dtype="<f4", count=(hi - lo) // 4, offset=start + lo)
        out[name] = out[name].reshape(shape)
        end = start + hi
    if end != len(data):
        raise InvalidInput("model.safetensors has trailing bytes")
    return out


def _offsets(item: tuple[str, Any]) -> tuple[int, int]:
    name, info = item
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
    ):
        raise InvalidInput(f"tensor {name} has malformed byte offsets")
    if not 0 <= offsets[0] <= offsets[1]:
        raise InvalidInput(f"tensor {name} has malformed byte offsets")
    return offsets[0], offsets[1]


def check_weights(data: bytes, cfg: TrainConfig, vocab_size: int) -> None:
    """Raise InvalidInput unless `data` holds exactly this model's weights, all finite."""
    found = tensors(data)
    expected = expected_shapes(cfg, vocab_size)
    if set(found) != set(expected):
        missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        raise InvalidInput(f"weights do not match the settings (missing {missing}, extra {extra})")
    for name, shape in expected.items():
        if tuple(found[name].shape) != shape:
            raise InvalidInput(
                f"{name} has shape {list(found[name].shape)}, expected {list(shape)}"
            )
        if not np.isfinite(found[name]).all():
            raise InvalidInput(f"{name} holds values that are not finite")


def write(named: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file of float32 arrays (the format is simple enough to write by hand)."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    chunks, offset = [], 0
    for name, array in named.items():
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def weights_from_checkpoint(checkpoint: bytes) -> bytes:
    """The model part of one of our training checkpoints, renamed to plain state_dict keys."""
    header, start = read_header(checkpoint)
    weights = {}
    for name, info in header.items():
        if name.startswith("model."):
            lo, hi = _offsets((name, info))
            raw = np.frombuffer(checkpoint, dtype="<f4", count=(hi - lo) // 4, offset=start + lo)
            weights[name[len("model.") :]] = raw.reshape(info["shape"])
    return write(dict(sorted(weights.items())))


def vocab_from_checkpoint(checkpoint: bytes) -> list[str]:
    header, _ = read_header(checkpoint)
    return json.loads(header["__metadata__"]["vocab"])


def export(weights: bytes, cfg: TrainConfig, vocab: list[str], text: str, step: int) -> bytes:
    """The downloadable zip."""
    settings = {"format": FORMAT, "config": cfg.to_dict(), "vocab": vocab, "step": step}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.safetensors", weights)
        z.writestr("settings.json", json.dumps(settings, indent=2, ensure_ascii=False))
        z.writestr("text.txt", text)
        z.writestr("sample.py", SAMPLE_SCRIPT.read_text())
    return out.getvalue()


def parse_import(blob: bytes) -> Imported:
    """Validate an uploaded export zip; raise InvalidInput/TooLarge with a clear message."""
    if len(blob) > MAX_IMPORT_BYTES:
        raise TooLarge(f"model files are limited to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    try:
        z = zipfile.ZipFile(io.BytesIO(blob))
        members = {i.filename: i for i in z.infolist()}
    except zipfile.BadZipFile as exc:
        raise InvalidInput("upload the .zip that Export produced") from exc
    for name in ("model.safetensors", "settings.json", "text.txt"):
        if name not in members:
            raise InvalidInput(f"the zip has no {name}")
        if members[name].file_size > MAX_IMPORT_BYTES:  # a zip bomb stops here
            raise TooLarge(f"{name} is too large")
    settings = _settings(z.read("settings.json"))
    cfg = config.parse(settings["config"])
    vocab = _vocab(settings["vocab"])
    text = _text(z.read("text.txt"), vocab)
    weights = z.read("model.safetensors")
    check_weights(weights, cfg, len(vocab))
    return Imported(cfg, vocab, text, weights)


def _settings(raw: bytes) -> dict[str, Any]:
    try:
        settings = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("settings.json is not valid JSON") from exc
    if not isinstance(settings, dict) or settings.get("format") != FORMAT:
        raise InvalidInput(f"settings.json must be format {FORMAT}")
    if not isinstance(settings.get("config"), dict):
        raise InvalidInput("settings.json has no config")
    return settings


def _vocab(vocab: Any) -> list[str]:
    ok = isinstance(vocab, list) and all(isinstance(c, str) and len(c) == 1 for c in vocab)
    if not ok or not 1 < len(vocab) <= LIMITS.max_vocab or len(set(vocab)) != len(vocab):
        raise InvalidInput("the vocabulary must be a list of distinct single characters")
    if vocab != sorted(vocab):
        raise InvalidInput("the vocabulary must be sorted")
    return vocab


def _text(raw: bytes, vocab: list[str]) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("text.txt is not UTF-8") from exc
    if len(raw) > LIMITS.max_text_bytes:
        raise TooLarge("text.txt is larger than the text limit")
    if sorted(set(text)) != vocab:
        raise InvalidInput("text.txt does not have the model's vocabulary")
    return text
