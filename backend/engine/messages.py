"""Every message between the web process and the training workers, one type per kind.

Commands go down to a worker (control commands on its command queue, queries on its query
queue); events come back up. Each is a plain frozen dataclass of JSON-like fields (no torch
tensors), so it pickles over a multiprocessing queue as it is, and a reader, a type checker
or a debugger can follow one from `Sessions` through `Engine` into `Worker` and back by name.

Between machines (cluster mode's Redis channel) a message travels as JSON naming its type
(`encode`, `decode`), bytes (packed arrays in an answer) as base64: never pickled, since
whatever reads that channel must not run code that another client of the same Redis put there.

The worker dispatches on the type (`Worker.handle`), the session layer folds events by type
(`Sessions.on_event`), and the engine routes on the base class: `Query` to the query queue,
any other `Command` to the command queue.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any

# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    """Something the web process asks of the worker that holds `session`."""

    session: str


@dataclass(frozen=True)
class Open(Command):
    """Build (or rebuild) a session's model on its task; resume from its checkpoint if asked."""

    gen: int  # which build of the session's model this is: events carry it back
    task: str  # a name in backend.tasks.registry
    source: dict[str, Any]  # the task's parsed source
    config: dict[str, Any]  # TrainConfig.to_dict()
    checkpoint: str  # where its weights are saved
    resume: bool = False
    step: int = 0  # the session's step, kept if no checkpoint can be restored
    items_seen: int = 0
    weights: str | None = None  # imported weights (safetensors), already validated
    pace: float = 0.0  # steps per second at most (a lesson's, for a class to watch); 0: no limit


@dataclass(frozen=True)
class Configure(Command):
    """Apply live settings (learning rate, clipping...) without rebuilding the model."""

    config: dict[str, Any]


@dataclass(frozen=True)
class Start(Command):
    """Train this session among the running ones."""

    until: int | None = None  # stop by itself on reaching this step (a lesson's budget)


@dataclass(frozen=True)
class Pause(Command):
    """Stop training it and save its weights."""


@dataclass(frozen=True)
class Step(Command):
    """One optimisation step now, reported at once (the session is paused)."""


@dataclass(frozen=True)
class Save(Command):
    """Checkpoint now, whatever the step (for exports and forks)."""


@dataclass(frozen=True)
class Handoff(Command):
    """Checkpoint and let go: another worker takes the session over from its checkpoint."""


@dataclass(frozen=True)
class Close(Command):
    """Forget the session (its checkpoint stays on disk)."""


@dataclass(frozen=True)
class Shutdown(Command):
    """End the worker process."""

    session: str = ""


@dataclass(frozen=True)
class Query(Command):
    """A question to the session's task (predict, inspect, a roll-out...), for one client.

    `fields` is the query as the task's spec parsed it; only the newest query per
    client and op is answered.
    """

    op: str
    client: str
    seq: int = 0
    fields: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """Something a worker (or the engine) reports about `session`, from model build `gen`."""

    session: str | None
    gen: int | None


@dataclass(frozen=True)
class Ready(Event):
    """A worker process started; it trains on `device`."""

    pid: int
    device: str


@dataclass(frozen=True)
class Opened(Event):
    """The session's model is built (and resumed, if `resumed`)."""

    params: int
    input_size: int
    output_size: int
    describe: dict[str, Any]  # Task.describe(): what the page needs to draw the task
    step: int
    items_seen: int
    resumed: bool


@dataclass(frozen=True)
class Progress(Event):
    """What the session learned since the last message, and how fast."""

    step: int
    items_seen: int
    items_per_sec: float
    batched: int  # sessions its last step trained together (1: alone)
    train: list[list[float | None]]  # [step, loss in the task's unit]
    grad: list[list[float | int | None]]  # [step, gradient norm, clipped 0/1]
    val: list[list[float | None]]  # [step, validation loss]
    # [step, the task's own score in [0, 1]] (`TaskSpec.score`: valid tunes, exact translations)
    score: list[list[float | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Sample(Event):
    """A live sample, as its task made it (for text, {"text": ...})."""

    step: int
    temperature: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Gradients(Event):
    """How far back the gradient reaches (`train:gradients` on the wire)."""

    step: int
    seq_len: int
    h_norms: list[list[float | None]]
    c_norms: list[list[float | None]] | None
    ratio: float | None
    clip_rate: float
    grad_norm: float | None
    clip_threshold: float
    clip: bool
    c_direct: list[list[float | None]] | None = None  # LSTM: dL/dc_t along the forget gates alone

    def to_dict(self) -> dict[str, Any]:
        """The profile as the page receives it."""
        return {
            "step": self.step,
            "seq_len": self.seq_len,
            "h_norms": self.h_norms,
            "c_norms": self.c_norms,
            "ratio": self.ratio,
            "clip_rate": self.clip_rate,
            "grad_norm": self.grad_norm,
            "clip_threshold": self.clip_threshold,
            "clip": self.clip,
            "c_direct": self.c_direct,
        }


@dataclass(frozen=True)
class Answered(Event):
    """A query's answer, for its client."""

    client: str
    op: str
    seq: int
    result: dict[str, Any]


@dataclass(frozen=True)
class Rejected(Event):
    """A query refused (a bad query, a closed session, a restarted worker), for its client."""

    client: str
    op: str
    error: dict[str, Any]  # {"code", "message", "field"?}
    seq: int | None = None


@dataclass(frozen=True)
class Failed(Event):
    """A command or the training of the session failed; it stopped training."""

    op: str  # the command's kind ("open", ...), or "train"
    message: str


@dataclass(frozen=True)
class Notice(Event):
    """Something the session's owner should know (a damaged checkpoint, a failed save)."""

    code: str
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class Checkpointed(Event):
    """The session's weights are saved as of `step`."""

    step: int


@dataclass(frozen=True)
class HandedOff(Event):
    """The worker let the session go (after saving it): its commands may go to the next one."""


@dataclass(frozen=True)
class Misrouted(Event):
    """A query reached a worker the session had left: the engine sends it on."""

    query: Query


@dataclass(frozen=True)
class WorkerLost(Event):
    """The session's worker died; the engine reopens it from its checkpoint (paused if asked)."""

    code: str
    message: str
    paused: bool = False
    worker: int | None = None  # which worker died


def kind(message: Command | Event) -> str:
    """A message's kind as a lowercase name ("open", "answered", ...), for logs and errors."""
    return type(message).__name__.lower()


# ------------------------------------------------------------------------------ on the wire


BYTES = "__bytes__"  # {BYTES: base64}: a bytes value inside a message's fields


def encode(message: Command | Event) -> str:
    """A message as JSON: its type's name and its fields (a nested message, tagged the same).

    TypeError for a field JSON cannot carry (bytes can: see `BYTES`).
    """
    return json.dumps(_tagged(message), default=_bytes_out)


def _bytes_out(value: Any) -> dict[str, str]:
    if isinstance(value, (bytes, bytearray)):
        return {BYTES: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"a {type(value).__name__} cannot travel in a message")


def _bytes_in(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(BYTES), str):
        return base64.b64decode(obj[BYTES], validate=True)
    return obj


def _tagged(message: Command | Event) -> dict[str, Any]:
    fields = {}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        fields[f.name] = _tagged(value) if isinstance(value, (Command, Event)) else value
    return {"type": type(message).__name__, "fields": fields}


def decode(data: str | bytes) -> Command | Event:
    """The message `encode` made; ValueError for anything else (only this module's types)."""
    try:
        return _untagged(json.loads(data, object_hook=_bytes_in))
    except (TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise ValueError(f"not a message: {exc}") from exc


def _untagged(tagged: dict[str, Any]) -> Command | Event:
    cls = TYPES.get(tagged["type"])
    if cls is None:
        raise ValueError(f"not a message type: {tagged['type']!r}")
    fields = dict(tagged["fields"])
    hints = typing.get_type_hints(cls)
    for name, value in fields.items():
        if hints.get(name) in TYPES.values():  # a message inside a message (`Misrouted.query`)
            fields[name] = _untagged(value)
    return cls(**fields)  # unknown or missing fields: TypeError


# Every message type by name, and nothing else: what `decode` may build.
TYPES: dict[str, type[Command] | type[Event]] = {
    cls.__name__: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, (Command, Event))
}
