"""One declarative schema for every setting a user can change.

Each setting is a field of a frozen dataclass whose metadata carries its bounds,
choices, help text and whether it can change while a model trains (`live`).
That single declaration drives server-side validation (`parse`), the JSON served
at `GET /api/schema` (`describe`) and, through it, the controls the browser
generates and the settings carried in a share link. Adding a knob is one field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from backend.errors import InvalidInput


def setting(
    default: Any,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    scale: str = "linear",
    live: bool = False,
    group: str = "model",
) -> Any:
    """Declare one setting: its default, bounds and the one line that explains it."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "choices": choices,
        "scale": scale,
        "live": live,
        "group": group,
    }
    return field(default=default, metadata=meta)


MODEL_KINDS = ("rnn", "lstm", "gru", "window", "bag")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
ACTIVATIONS = ("tanh", "relu")
INITS = ("default", "identity")


@dataclass(frozen=True)
class TrainConfig:
    """How one session's model is built and trained."""

    model: str = setting(
        "lstm",
        choices=MODEL_KINDS,
        help="Recurrent cell (vanilla RNN, LSTM or GRU), or a baseline without recurrence: "
        "a fixed window of the last characters, or a bag of every character seen so far.",
    )
    hidden_size: int = setting(
        128, min=8, max=512, help="Units in each recurrent layer's hidden state h_t."
    )
    num_layers: int = setting(2, min=1, max=3, help="Recurrent layers stacked on each other.")
    window: int = setting(
        8,
        min=1,
        max=64,
        help="Fixed-window model only: how many previous characters n it sees; others ignore it.",
    )
    activation: str = setting(
        "tanh",
        choices=ACTIVATIONS,
        help="Vanilla RNN nonlinearity: tanh, or relu (try identity init); LSTM/GRU ignore it.",
    )
    init: str = setting(
        "default",
        choices=INITS,
        help="Recurrent weights W_hh at the start: PyTorch's uniform default, or the identity "
        "with zero biases (IRNN; every gate block for LSTM/GRU).",
    )
    init_scale: float = setting(
        1.0,
        min=0.1,
        max=10.0,
        scale="log",
        help="Multiplies the initial W_hh: large values make gradients explode, small ones vanish.",
    )
    dropout: float = setting(
        0.0,
        min=0.0,
        max=0.8,
        live=True,
        help="Recurrent cells only: during training, each unit of the top layer's h_t (and of "
        "h_t between layers) is zeroed with this probability and the rest scaled up; "
        "predictions and validation use every unit. Against learning the text by heart.",
    )
    seq_len: int = setting(
        64,
        min=4,
        max=256,
        help="BPTT window: characters the loss is backpropagated through.",
        group="training",
    )
    batch_size: int = setting(
        32, min=1, max=256, help="Windows trained on at once per step.", group="training"
    )
    learning_rate: float = setting(
        3e-3,
        min=1e-5,
        max=1.0,
        scale="log",
        live=True,
        help="Step size of the optimizer.",
        group="training",
    )
    weight_decay: float = setting(
        0.0,
        min=0.0,
        max=0.1,
        live=True,
        help="Each update also pulls every weight toward zero, by learning rate x this x the "
        "weight (PyTorch's weight_decay: an L2 penalty added to the gradient).",
        group="training",
    )
    carry_state: bool = setting(
        False,
        live=True,
        help="Recurrent cells on one long sequence only: each batch row reads the text in "
        "consecutive windows and starts from the hidden state the previous window ended "
        "with (truncated BPTT), so the model learns from more than one window of context.",
        group="training",
    )
    optimizer: str = setting(
        "adam",
        choices=OPTIMIZERS,
        live=True,
        help="Update rule: Adam, plain SGD or RMSprop.",
        group="training",
    )
    clip: bool = setting(
        True,
        live=True,
        help="Rescale the gradient when its norm exceeds the threshold (stops explosions).",
        group="training",
    )
    clip_threshold: float = setting(
        1.0,
        min=0.01,
        max=100.0,
        scale="log",
        live=True,
        help="Largest gradient norm allowed when clipping is on.",
        group="training",
    )
    seed: int = setting(
        0, min=0, max=2**31 - 1, help="Random seed: same seed, same run.", group="training"
    )
    temperature: float = setting(
        0.8,
        min=0.05,
        max=2.0,
        live=True,
        help="Sampling temperature of the live samples: low is safe, high is adventurous.",
        group="sampling",
    )

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with `changes` applied (unvalidated; use `parse` for user input)."""
        return dataclasses.replace(self, **changes)

    def needs_rebuild(self, other: TrainConfig) -> bool:
        """True if going from self to `other` changes something only a fresh model can take."""
        return any(
            getattr(self, f.name) != getattr(other, f.name)
            for f in dataclasses.fields(self)
            if not f.metadata["live"]
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Check one user-supplied value against its field's declaration and return it typed."""
    meta, kind = f.metadata, f.type
    if kind in ("bool", bool):
        if not isinstance(value, bool):
            raise InvalidInput(f"{f.name} must be true or false", field=f.name)
        return value
    if kind in ("str", str):
        if not isinstance(value, str) or value not in meta["choices"]:
            raise InvalidInput(
                f"{f.name} must be one of {', '.join(meta['choices'])}", field=f.name
            )
        return value
    # Numbers: JSON has no int/float split, so accept 3.0 for an int but not 3.5.
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not finite:
        raise InvalidInput(f"{f.name} must be a number", field=f.name)
    if not meta["min"] <= value <= meta["max"]:  # exact even for a 400-digit integer
        shown = f"{value:g}" if abs(value) < 1e15 else "a number that large"
        raise InvalidInput(
            f"{f.name} must be between {meta['min']:g} and {meta['max']:g} (got {shown})",
            field=f.name,
        )
    if kind in ("int", int):
        if value != int(value):
            raise InvalidInput(f"{f.name} must be a whole number", field=f.name)
        return int(value)
    return float(value)


def parse(data: Any, base: TrainConfig | None = None) -> TrainConfig:
    """Validate a (possibly partial) settings dict from a user and merge it over `base`.

    Raises InvalidInput naming the first offending field; unknown keys are errors too,
    so a typo never silently does nothing.
    """
    base = base or TrainConfig()
    if not isinstance(data, dict):
        raise InvalidInput("settings must be an object")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown setting: {unknown[0]}", field=unknown[0])
    changes = {name: _coerce(fields[name], value) for name, value in data.items()}
    return base.replace(**changes)


def describe() -> list[dict[str, Any]]:
    """The schema as JSON-ready dicts, in declaration order, for `/api/schema`."""
    out = []
    for f in dataclasses.fields(TrainConfig):
        kind = {"int": "int", "float": "float", "bool": "bool", "str": "choice"}[str(f.type)]
        out.append({"name": f.name, "type": kind, "default": f.default, **f.metadata})
    return out


@dataclass(frozen=True)
class Limits:
    """Server-enforced caps on what one request or session may ask for."""

    max_text_bytes: int = 2 * 1024 * 1024  # pasted or uploaded training text, UTF-8
    min_text_chars: int = 200  # enough for a training window and a validation split
    max_vocab: int = 512  # distinct characters in a training text
    max_params: int = 4_000_000  # weights in one model (16 MB as float32)
    max_query_chars: int = 1000  # text typed into the prediction box
    max_inspect_chars: int = 300  # text traced gate by gate (payload grows with it)
    max_top_k: int = 20  # next-character candidates returned per query
    max_continuation: int = 400  # characters of greedy / sampled continuation
    idle_pause_s: float = 600.0  # a running session nobody watches pauses after this
    progress_hz: float = 10.0  # most progress messages a room receives per second

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


LIMITS = Limits()
