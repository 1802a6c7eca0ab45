"""Export and import of trained models: safetensors + JSON settings + a standalone script.

An export is a zip with
- `model.safetensors`: the weights only, named as in `SequenceModel.state_dict()`;
- `settings.json`: `{"format": 2, "task": name, "config": {...}, "step": n, "state": {...}}`
  with the task's state (`Task.state()`, e.g. the vocabulary) also spread at the top level,
  so a script can read `settings["vocab"]` as it did before tasks;
- `source.json`: the task's source, so an imported model can keep training on the same data;
- the task's own files (`TaskSpec.export_files`): for text, `text.txt` and `sample.py`, a
  short PyTorch script that loads the weights and generates text.
Format 1 (before tasks) had `vocab` in the settings and the text in `text.txt`; it still imports.

Uploaded files are untrusted. Everything here is plain byte and JSON parsing (no pickle,
no torch): the safetensors header is read by hand and every tensor's name, dtype, shape
and byte range must be exactly what the declared settings and the task's sizes imply, and every
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
from typing import IO, Any

import numpy as np

from backend import config
from backend.config import LIMITS, TrainConfig
from backend.errors import InvalidInput, TooLarge
from backend.store.storage import LEGACY_TASK
from backend.tasks.base import TaskSpec
from backend.tasks.registry import spec_for

FORMAT = 2
LEGACY_FORMAT = 1  # one text per session, before tasks
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 16  # an export holds 4 files; thousands of entries is an attack, not a model
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 2 * LIMITS.max_text_bytes + 1024 * 1024  # a text source, JSON-escaped
MAX_WEIGHTS_BYTES = 4 * LIMITS.max_params + 1024 * 1024  # float32 weights and their header
CHUNK = 1024 * 1024  # members are copied this much at a time, never held whole
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@dataclass
class Imported:
    """A validated upload: settings, task, its parsed source and weights (a safetensors file)."""

    config: TrainConfig
    task: str
    source: dict[str, Any]
    weights: Path


def expected_shapes(
    cfg: TrainConfig, input_size: int, output_size: int | None = None
) -> dict[str, tuple[int, ...]]:
    """Every tensor of the model these settings build, with its shape (no model is built).

    `input_size` and `output_size` are the task's (both the vocabulary size for text).
    """
    hidden = cfg.hidden_size
    outputs = input_size if output_size is None else output_size
    if cfg.model in ("window", "bag"):  # one hidden layer on the window's or bag's features
        inputs = cfg.window * input_size if cfg.model == "window" else input_size
        return {
            "hidden.weight": (hidden, inputs),  # W_xh
            "head.weight": (outputs, hidden),  # W_hy
            "head.bias": (outputs,),  # b_y
        }
    rows = GATES[cfg.model] * hidden
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(cfg.num_layers):
        inputs = input_size if k == 0 else hidden
        shapes[f"rnn.weight_ih_l{k}"] = (rows, inputs)
        shapes[f"rnn.weight_hh_l{k}"] = (rows, hidden)
        shapes[f"rnn.bias_ih_l{k}"] = (rows,)
        shapes[f"rnn.bias_hh_l{k}"] = (rows,)
    shapes["head.weight"] = (outputs, hidden)
    shapes["head.bias"] = (outputs,)
    return shapes


def param_count(cfg: TrainConfig, input_size: int, output_size: int | None = None) -> int:
    """How many numbers the model these settings build holds."""
    shapes = expected_shapes(cfg, input_size, output_size)
    return sum(math.prod(shape) for shape in shapes.values())


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors JSON header and where the tensor bytes start."""
    if len(data) < 8:
        raise InvalidInput("model.safetensors is not a safetensors file")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(len(data) - 8, 1024 * 1024):
        raise InvalidInput("model.safetensors has a malformed header")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
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
        if not (isinstance(shape, list) and all(_dimension(n) for n in shape)):
            raise InvalidInput(f"tensor {name} has a malformed shape")
        if start + lo != end or hi - lo != 4 * math.prod(shape) or start + hi > len(data):
            raise InvalidInput(f"tensor {name} has inconsistent byte offsets")
        out[name] = np.frombuffer(data, dtype="<f4", count=(hi - lo) // 4, offset=start + lo)
        out[name] = out[name].reshape(shape)
        end = start + hi
    if end != len(data):
        raise InvalidInput("model.safetensors has trailing bytes")
    return out


def _dimension(n: Any) -> bool:
    """A plausible tensor dimension (huge ones would overflow numpy's sizes)."""
    return isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31


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


def check_weights(
    data: bytes, cfg: TrainConfig, input_size: int, output_size: int | None = None
) -> None:
    """Raise InvalidInput unless `data` holds exactly this model's weights, all finite."""
    check_tensors(data, expected_shapes(cfg, input_size, output_size))


def check_tensors(data: bytes, expected: dict[str, tuple[int, ...]]) -> None:
    """Raise InvalidInput unless `data` holds exactly the tensors `expected`, all finite."""
    found = tensors(data)
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


def task_state_from_checkpoint(checkpoint: bytes) -> dict[str, Any]:
    """The task state a training checkpoint was saved with (a vocabulary before tasks)."""
    header, _ = read_header(checkpoint)
    meta = header["__metadata__"]
    if "task_state" in meta:
        return json.loads(meta["task_state"])
    return {"vocab": json.loads(meta["vocab"])}


def export(
    weights: bytes,
    cfg: TrainConfig,
    spec: TaskSpec,
    source: dict[str, Any],
    state: dict[str, Any],
    step: int,
) -> bytes:
    """The downloadable zip."""
    settings = {
        **state,
        "format": FORMAT,
        "task": spec.name,
        "config": cfg.to_dict(),
        "step": step,
        "state": state,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.safetensors", weights)
        z.writestr("settings.json", json.dumps(settings, indent=2, ensure_ascii=False))
        z.writestr("source.json", json.dumps(source, ensure_ascii=False))
        for name, content in spec.export_files(source, state).items():
            z.writestr(name, content)
    return out.getvalue()


def parse_import(upload: bytes | IO[bytes], weights: Path) -> Imported:
    """Validate an uploaded export zip, its weights streamed to `weights`; raise a clear error.

    Members are read a chunk at a time against their own caps (whatever sizes the zip
    declares), so a zip bomb or a parade of parallel uploads never sits in memory.
    """
    stream = io.BytesIO(upload) if isinstance(upload, bytes) else upload
    try:
        z = zipfile.ZipFile(stream)
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InvalidInput("upload the .zip that Export produced") from exc
    with z:
        members = _members(infos)
        settings = _settings(_read(z, members["settings.json"], MAX_SETTINGS_BYTES))
        cfg = config.parse(settings["config"])
        if settings["format"] == LEGACY_FORMAT:
            task, source = _legacy_source(z, members, settings)
        else:
            task = settings.get("task")
            source = _json(_read(z, _member(members, "source.json"), MAX_SOURCE_BYTES))
        spec = spec_for(task)
        source = spec.parse_source(source)
        spec.check_model(cfg.model)
        _copy(z, members["model.safetensors"], weights, MAX_WEIGHTS_BYTES)
    expected = spec.weight_shapes(cfg, source)  # a task's own model; None: the generic one
    if expected is None:
        sizes = spec.sizes(source)
        if sizes is None:
            raise InvalidInput(f"a {spec.name} model cannot be imported")
        expected = expected_shapes(cfg, *sizes)
    check_tensors(weights.read_bytes(), expected)  # at most MAX_WEIGHTS_BYTES
    return Imported(cfg, spec.name, source, weights)


def _legacy_source(
    z: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], settings: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A format-1 export: one text, whose vocabulary the settings name."""
    vocab = _vocab(settings.get("vocab"))
    text = _text(_read(z, _member(members, "text.txt"), LIMITS.max_text_bytes), vocab)
    return LEGACY_TASK, {"corpus": "upload", "text": text}


def _member(members: dict[str, zipfile.ZipInfo], name: str) -> zipfile.ZipInfo:
    if name not in members:
        raise InvalidInput(f"the zip has no {name}")
    return members[name]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput("source.json is not valid JSON") from exc


def _members(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The export's members by name, once the zip's size and member count look like one."""
    if len(infos) > MAX_MEMBERS:
        raise InvalidInput(f"the zip holds {len(infos)} files; an export holds a few")
    if sum(i.file_size for i in infos) > MAX_IMPORT_BYTES:
        raise TooLarge(f"the zip unpacks to more than {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    members = {i.filename: i for i in infos}
    for name in ("model.safetensors", "settings.json"):
        if name not in members:
            raise InvalidInput(f"the zip has no {name}")
    return members


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, refused as soon as they pass `limit`."""
    out = io.BytesIO()
    _stream(z, info, out, limit)
    return out.getvalue()


def _copy(z: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> None:
    with target.open("wb") as out:
        _stream(z, info, out, limit)


def _stream(z: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], limit: int) -> None:
    if info.file_size > limit:
        raise TooLarge(f"{info.filename} is too large")
    try:
        with z.open(info) as member:
            while chunk := member.read(CHUNK):
                if out.tell() + len(chunk) > limit:  # a size the zip lied about
                    raise TooLarge(f"{info.filename} is too large")
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InvalidInput(f"{info.filename} cannot be unpacked: the zip is damaged") from exc


def copy_upload(stream: IO[bytes], target: IO[bytes]) -> None:
    """Spool a raw request body to a file, refusing it past MAX_IMPORT_BYTES."""
    copied = 0
    while chunk := stream.read(CHUNK):
        copied += len(chunk)
        if copied > MAX_IMPORT_BYTES:
            raise TooLarge(f"model files are limited to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
        target.write(chunk)
    target.seek(0)


def _settings(raw: bytes) -> dict[str, Any]:
    try:
        settings = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput("settings.json is not valid JSON") from exc
    if not isinstance(settings, dict) or settings.get("format") not in (FORMAT, LEGACY_FORMAT):
        raise InvalidInput(f"settings.json must be format {FORMAT} (or {LEGACY_FORMAT})")
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
