"""What a task is: the one place that knows what a time step of a sequence means.

A task owns everything that depends on what the sequence *is*: where its data comes
from and how it is split, how one time step becomes an input vector, the size of the
model's output, the loss and the unit it is shown in, its samples, the queries it
answers and the views the page opens for it. Everything else (the trainer, workers,
cohorts, checkpoints, export/import, storage, the protocol) holds a task and never
asks which one it is.

A task comes in two halves, so that the web process never imports torch:

  TaskSpec   torch-free: name, one-line description, unit, views, default source,
             and the validation of a user's source and queries (`<task>/spec.py`)
  Task       torch side, one instance per session, built inside a worker from the
             parsed source: data, encoding, loss, metric, samples, answers (`<task>/task.py`)

Both are found by name through `backend.tasks.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from backend.errors import InvalidInput

if TYPE_CHECKING:  # torch stays out of the web process
    import torch
    from torch import nn

    from backend.core.data import SequenceDataset


def inspect_fields(query: dict[str, Any], seq: Any) -> dict[str, Any]:
    """The fields every `inspect` query shares, checked: {seq, position, surgery, saliency}
    (the surgery is checked against the model later, in the worker)."""
    position = query.get("position")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput("seq must be a non-negative integer", field="seq")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        raise InvalidInput("position must be a whole number", field="position")
    surgery = query.get("surgery")
    if surgery is not None and not isinstance(surgery, dict):
        raise InvalidInput("surgery must be an object", field="surgery")
    saliency = query.get("saliency", True)
    if not isinstance(saliency, bool):
        raise InvalidInput("saliency must be true or false", field="saliency")
    return {"seq": seq, "position": position, "surgery": surgery, "saliency": saliency}


@dataclass(frozen=True)
class TaskSpec:
    """A task as the web process sees it: names, unit, views and input validation.

    Subclass it in `<task>/spec.py` to refine `parse_source` and `parse_query`; the
    defaults accept a JSON object of the keys of `default_source` and a JSON object
    for any op named in `queries`.
    """

    name: str  # registry key, stored with each session: "text", "words", "ball", "prices"
    title: str  # shown in the task picker, e.g. "Characters"
    summary: str  # one line shown at session start
    unit: str  # the metric's unit on the loss chart: "bits/char", "bits/word", "px", "% error"
    item: str  # what one time step is, for rates and counts: "char", "word", "frame", "day"
    views: tuple[str, ...]  # frontend views it opens: "predict", "inspect", "ball", ...
    queries: tuple[str, ...]  # query ops it answers, each validated by parse_query
    default_source: dict[str, Any] = field(default_factory=dict)  # a new session's source
    # The settings a new session of this task starts from, over TrainConfig's defaults
    # (chosen by measurement for this task); what the user sends goes over these.
    default_config: dict[str, Any] = field(default_factory=dict)
    # Queries that may take seconds (training a classifier): each runs on a thread of its
    # own and without the weights' lock, so keystrokes and training never wait for them.
    slow_queries: tuple[str, ...] = ()
    # Queries only the server asks (a lesson's measurements, checked where it asks them):
    # a client sending one over `task:query` is refused.
    server_queries: tuple[str, ...] = ()
    # The task's own held-out figure, a share in [0, 1] measured with each validation
    # (valid tunes, exact translations), drawn beside the loss; its i18n key is
    # `score.<score>`. None: the task has none.
    score: str | None = None
    # The model kinds (TrainConfig.model) this task trains; None: every cell and baseline.
    models: tuple[str, ...] | None = None
    # What Look inside traces when `views` names "inspect": "typed", the predict box's text
    # (an `inspect` query carries it); "steps", steps the task picks and labels itself
    # (`Task.inspect_steps`: a ball's frames, a series' months), asked without a text.
    inspects: str = "typed"

    def parse_source(self, source: Any) -> dict[str, Any]:
        """`source` checked and completed with the defaults; InvalidInput if it is not valid.

        The result is what `Task.build` receives and what is stored with the session,
        so it must be JSON and enough to rebuild the task's data exactly.
        """
        return {**self.default_source, **self.source_object(source, self.default_source)}

    def source_object(self, source: Any, fields: Iterable[str]) -> dict[str, Any]:
        """`source` as a JSON object with no field outside `fields` (the default source when
        None); InvalidInput otherwise. The first check of every task's `parse_source`."""
        if source is None:
            return dict(self.default_source)
        if not isinstance(source, dict):
            raise InvalidInput("source must be a JSON object", field="source")
        unknown = sorted(set(source) - set(fields))
        if unknown:
            raise InvalidInput(
                f"unknown source field(s) for {self.name}: {', '.join(unknown)}", field="source"
            )
        return dict(source)

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """One query of kind `op` checked; InvalidInput if this task does not answer it."""
        if op not in self.queries or op in self.server_queries:
            raise InvalidInput(f"a {self.name} session does not answer {op!r}", field="op")
        if not isinstance(query, dict):
            raise InvalidInput("a query must be a JSON object", field="query")
        return dict(query)

    def parse_steps_inspect(self, query: dict[str, Any]) -> dict[str, Any]:
        """An `inspect` query of a task that `inspects` "steps" (no text): `inspect_fields`."""
        return inspect_fields(query, query.get("seq", 0))

    def check_model(self, kind: str) -> None:
        """InvalidInput unless this task trains models of kind `kind` (TrainConfig.model)."""
        if self.models is not None and kind not in self.models:
            raise InvalidInput(
                f"a {self.name} session trains {', '.join(self.models)}, not {kind}", field="model"
            )

    def weight_shapes(self, cfg: Any, source: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
        """Every tensor of the task's own model (`Task.build_model`) for `cfg`, by name, so an
        import can be checked without torch; None for the generic model (from `sizes`)."""
        return None

    def sizes(self, source: dict[str, Any]) -> tuple[int, int] | None:
        """(input_size, output_size) a parsed source gives, so the web process can refuse a
        model over the parameter cap before a worker builds it; None if only the worker knows."""
        return None

    def export_files(self, source: dict[str, Any], state: dict[str, Any]) -> dict[str, str]:
        """Files of the task's own to put in an export zip beside the weights (name -> text)."""
        return {}

    def summarize_source(self, source: dict[str, Any]) -> dict[str, Any]:
        """What the page is told about a session's source (small: no bulk data)."""
        return dict(source)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `GET /api/tasks` and of `session:state`'s `task`."""
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "unit": self.unit,
            "item": self.item,
            "views": list(self.views),
            "queries": list(self.queries),
            "default_source": dict(self.default_source),
            "default_config": dict(self.default_config),
            "score": self.score,
            "models": list(self.models) if self.models is not None else None,
            "inspects": self.inspects,
        }


class Task(ABC):
    """One session's task inside a worker: its data, how steps are encoded, loss and queries.

    The trainer calls, per step, `dataset.batch` -> `encode` -> model -> `loss`, and shows
    `metric(loss)` in `spec.unit`. Everything else a session shows of its model goes
    through `sample`, `answer` and `describe`.
    """

    spec: ClassVar[TaskSpec]
    dataset: SequenceDataset  # batch(B, T, gen) -> (x, y); val_windows(T) -> (x, y)
    input_size: int  # size of the vector fed to the recurrent core per step
    output_size: int  # size of the head's output per step

    @classmethod
    @abstractmethod
    def build(cls, source: dict[str, Any], seed: int) -> Task:
        """The task for a parsed source; data is generated or read here, at run time."""

    @classmethod
    def restore(cls, source: dict[str, Any], seed: int, state: dict[str, Any]) -> Task:
        """The task as it was when `state()` was taken (a checkpoint or an import).

        By default the task is rebuilt from its source; a task whose build is not
        reproducible (a vocabulary capped by frequency, say) reads `state` instead.
        """
        return cls.build(source, seed)

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Dataset inputs (B, T[, ...]) -> float input vectors (B, T, input_size)."""

    @abstractmethod
    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar training loss (mean over the batch) from head outputs (B, T, output_size)."""

    @abstractmethod
    def metric(self, loss: float) -> float:
        """A mean training loss in the unit shown on the loss chart (spec.unit)."""

    @abstractmethod
    def sample(
        self, model: nn.Module, length: int, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """The live sample payload of `length` steps (the page's sample view draws it)."""

    @abstractmethod
    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """The answer to one query parsed by `spec.parse_query` (predict, rollout, ...)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the page needs to draw this task (vocabulary, frame size, baselines, ...)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON kept in checkpoints and exports, read back by `restore`."""

    def build_model(self, cfg: Any) -> nn.Module | None:
        """A model of the task's own for `cfg` (an encoder-decoder, say), or None for the
        generic one (`backend.core.models.build_model` on input_size and output_size).

        Its forward takes `encode(x)` and returns (out, state), as the generic model does,
        and the same cfg.seed must give the same weights.
        """
        return None

    def inspect_steps(self) -> tuple[torch.Tensor, list[str]]:
        """The steps Look inside traces when `spec.inspects` is "steps": their input vectors,
        already encoded (T, input_size), and the label the page shows for each ("12", "2004-03")."""
        raise NotImplementedError(f"{self.spec.name} traces what is typed, not steps of its own")

    def trace_steps(self, model: nn.Module, query: dict[str, Any]) -> dict[str, Any]:
        """The answer to an `inspect` query parsed by `spec.parse_steps_inspect`: every gate
        and state over `inspect_steps`, its saliency and the outputs (`internals.inspect_steps`)."""
        from backend.core.internals import inspect_steps  # torch, in the worker only

        x, labels = self.inspect_steps()
        answer = inspect_steps(
            model, x, labels, query["position"], query["surgery"], query["saliency"]
        )
        return {**answer, "item": self.spec.item}  # what a step is, to name it: "frame 12"

    def score(self, model: nn.Module) -> float | None:
        """The task's own held-out figure named by `spec.score`, a share in [0, 1]
        (None when the spec names none). Runs with each validation, so keep it to a second."""
        return None

    def cohort_key(self) -> Hashable | None:
        """Tasks with equal keys can train in one batched cohort; None never batches.

        The cohort (`backend.engine.cohort`) is written for categorical tasks: ids in
        (B, T), cross-entropy over `output_size` classes out. A task that returns a key
        also provides `start_id() -> int` and `sample_from_ids(ids) -> dict` (the sample
        payload for ids the cohort drew).
        """
        return None

    def highway_windows(
        self, n: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` windows (x, y) for the gradient view, whose last step is where the far past
        matters (a recall), so that the view shows how far back its gradient reaches.

        By default `n` random training windows: a task with no such place has no better ones.
        """
        return self.dataset.batch(n, seq_len, generator)

    def answerer(self, trainer: Any) -> Any | None:
        """An object that answers many clients' `predict` queries in one batch, or None.

        It needs `refresh(running, lock)` and `answer(queries, continued) -> list[dict]`
        (see `backend.tasks.text.answering`); without one, each query goes to `answer`.
        """
        return None
