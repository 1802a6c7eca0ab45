"""The session layer: who may do what to which session, and what every watcher sees.

It sits between the thin edges (HTTP routes, socket handlers) and the training engine:
edges call its verbs with already-parsed arguments, it checks roles and limits, records the
durable part through `storage`, sends commands to the engine, and turns the engine's events
into session state and messages for the `publisher`. It never touches torch or Flask.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from backend import config as settings
from backend.config import LIMITS, TrainConfig
from backend.engine.messages import (
    Answered,
    Checkpointed,
    Close,
    Configure,
    Event,
    Failed,
    Gradients,
    Notice,
    Open,
    Opened,
    Pause,
    Progress,
    Query,
    Rejected,
    Sample,
    Save,
    Start,
    Step,
    WorkerLost,
)
from backend.errors import (
    BadToken,
    Busy,
    Forbidden,
    Full,
    InvalidInput,
    NotFound,
    NotJoined,
    StorageFailed,
    TooLarge,
    UserError,
    WorkerRestarted,
)
from backend.store.exchange import param_count
from backend.store.storage import SessionRecord, Storage, digest
from backend.tasks.base import TaskSpec
from backend.tasks.registry import DEFAULT_TASK, spec_for

log = logging.getLogger(__name__)

MAX_HISTORY = 2000
MAX_SAMPLES = 10
QUERY_RETRY_S = 5.0  # a query unanswered this long is presumed lost: the next one goes out


class Publisher(Protocol):
    """Where session updates go (the Socket.IO side implements it)."""

    def state(self, session: Session) -> None: ...
    def viewers(self, session: Session) -> None: ...
    def progress(self, session_id: str, update: dict) -> None: ...
    def to_room(self, session_id: str, event: str, data: dict) -> None: ...
    def to_client(self, client: str, event: str, data: dict) -> None: ...
    def remove(self, client: str, session_id: str) -> None: ...


@dataclass
class History:
    """Loss curves for late joiners; training points are thinned evenly past MAX_HISTORY."""

    step: list[int] = field(default_factory=list)
    train: list[float | None] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    # The task's own score (`TaskSpec.score`), a share in [0, 1], kept like `val`.
    score_step: list[int] = field(default_factory=list)
    score: list[float | None] = field(default_factory=list)
    grad: list[float | None] = field(default_factory=list)  # norm before clipping, per kept step
    clipped: list[int] = field(default_factory=list)  # 1 where clipping fired
    stride: int = 1  # keep every stride-th training point
    seen: int = 0

    def add(self, train: list, grad: list, val: list, score: list = ()) -> None:
        for (step, loss), (_, norm, clipped) in zip(train, grad, strict=True):
            if self.seen % self.stride == 0:
                self.step.append(int(step))
                self.train.append(loss)
                self.grad.append(norm)
                self.clipped.append(clipped)
            self.seen += 1
        if len(self.step) > MAX_HISTORY:
            self.stride *= 2
            for name in ("step", "train", "grad", "clipped"):
                setattr(self, name, getattr(self, name)[::2])
        for step, loss in val:
            self.val_step.append(int(step))
            self.val.append(loss)
        for step, share in score:
            self.score_step.append(int(step))
            self.score.append(share)

    def to_dict(self) -> dict:
        return {
            "step": self.step,
            "train": self.train,
            "grad": self.grad,
            "clipped": self.clipped,
            "val_step": self.val_step,
            "val": self.val,
            "score_step": self.score_step,
            "score": self.score,
        }

    def truncate(self, step: int) -> None:
        """Forget points after `step` (the run went back to a checkpoint)."""
        keep = sum(s <= step for s in self.step)
        for name in ("step", "train", "grad", "clipped"):
            setattr(self, name, getattr(self, name)[:keep])
        keep = sum(s <= step for s in self.val_step)
        self.val_step, self.val = self.val_step[:keep], self.val[:keep]
        keep = sum(s <= step for s in self.score_step)
        self.score_step, self.score = self.score_step[:keep], self.score[:keep]

    def dump(self) -> dict:
        """Everything, thinning state included, for storage."""
        return {**self.to_dict(), "stride": self.stride, "seen": self.seen}

    @classmethod
    def load(cls, data: dict) -> History:
        return cls(**data) if data else cls()


@dataclass
class Session:
    """One task on its source, one model and its run, as the web process knows them."""

    record: SessionRecord
    config: TrainConfig
    spec: TaskSpec  # the session's task, torch-free
    sizes: tuple[int, int] | None  # the model's (input_size, output_size), once known
    gen: int = 0
    status: str = "idle"  # idle | running | queued | paused
    queue_position: int = 0  # 1-based while queued
    saved_step: int = -1  # step of the checkpoint last confirmed by the worker
    save_error: UserError | None = None  # why the checkpoint asked for will not come
    gradients: dict | None = None  # the latest gradient-through-time profile
    pause_reason: str | None = None
    step: int = 0
    items_seen: int = 0  # time steps trained on (characters, words, frames...)
    items_per_sec: float = 0.0
    params: int = 0
    described: dict = field(default_factory=dict)  # the worker's Task.describe(), once opened
    history: History = field(default_factory=History)
    samples: deque = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    device: str = "cpu"  # where its model trains
    clients: dict[str, str] = field(default_factory=dict)  # socket id -> role
    last_watched: float = field(default_factory=time.monotonic)
    view_version: int = 0  # how often the view link was renewed (the view token derives from it)
    owner_token: str | None = None  # seen on an owner's request (memory only): gives view_url

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def budget(self) -> int | None:
        """The step a lesson run stops at by itself; None for other sessions, or to run on."""
        meta = self.record.classroom.get("lesson") or {}
        return None if meta.get("run_on") else meta.get("steps")

    def refuse_locked(self, role: str, action: str) -> None:
        """Forbidden if the owner locked `action` for viewers (class mode)."""
        if role != "owner" and action in self.record.classroom.get("locks", ()):
            raise Forbidden(f"the session's owner has locked {action} for viewers")

    def dump_state(self) -> dict[str, Any]:
        """The run state worth surviving a restart (weights go to the checkpoint)."""
        return {
            "status": self.status,
            "pause_reason": self.pause_reason,
            "step": self.step,
            "items_seen": self.items_seen,
            "history": self.history.dump(),
            "samples": list(self.samples),
            "view_version": self.view_version,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.status = state.get("status", "idle")
        self.pause_reason = state.get("pause_reason")
        self.step = state.get("step", 0)
        self.items_seen = state.get("items_seen", state.get("chars_seen", 0))
        self.history = History.load(state.get("history", {}))
        self.samples.extend(state.get("samples", []))
        self.view_version = state.get("view_version", 0)

    def snapshot(self, role: str) -> dict[str, Any]:
        """Everything a client needs to draw the session, as seen by `role`."""
        source = self.spec.summarize_source(self.record.source)
        out = {
            "id": self.id,
            "role": role,
            "config": self.config.to_dict(),
            "task": self.spec.to_dict(),
            "source": source,
            "text": source,  # the name before tasks, kept for older pages
            "status": self.status,
            "pause_reason": self.pause_reason,
            "queue_position": self.queue_position if self.status == "queued" else None,
            "step": self.step,
            "items_seen": self.items_seen,
            "chars_seen": self.items_seen,  # the name before tasks, kept for older pages
            "params": self.params,
            "described": self.described,
            "device": self.device,
            "history": self.history.to_dict(),
            "samples": self.visible_samples(role),
            "gradients": self.gradients,
            "viewers": len(self.clients),
            "classroom": classroom_view(self.record.classroom),
            "parent": self.record.parent_id,
            "lesson": self.record.classroom.get("lesson"),
        }
        if role == "owner" and (token := self.view_token()):
            out["view_url"] = view_url(self.id, token)
        return out

    def view_token(self) -> str | None:
        """The current view token, once an owner's token has been seen (only a digest is kept)."""
        if not is_digest(self.record.view_token):  # stored in the clear before digests
            return self.record.view_token
        if self.owner_token is None:
            return None
        return derive_view_token(self.owner_token, self.link_id, self.view_version)

    @property
    def link_id(self) -> str:
        """Whose id the view token derives from: a lesson's runs share their main run's link."""
        lesson_run = self.record.classroom.get("lesson") and self.record.parent_id
        return self.record.parent_id if lesson_run else self.id

    def visible_samples(self, role: str) -> list[dict]:
        hidden = role != "owner" and "samples" in self.record.classroom.get("hidden", ())
        return [] if hidden else list(self.samples)


def classroom_view(classroom: dict[str, Any]) -> dict[str, Any]:
    """Class-mode settings with their defaults filled in."""
    return {
        "locks": classroom.get("locks", []),
        "hidden": classroom.get("hidden", []),
        "follow": classroom.get("follow", False),
        "focus": classroom.get("focus", {}),
    }


def view_url(session_id: str, token: str) -> str:
    return f"/s/{session_id}?t={token}"


def derive_view_token(owner_token: str, session_id: str, version: int) -> str:
    """A view token computed from the owner's, so the server stores digests of both only."""
    mac = hmac.new(owner_token.encode(), f"view:{session_id}:{version}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def is_digest(stored: str) -> bool:
    return len(stored) == 64 and all(c in "0123456789abcdef" for c in stored)


def check_model_size(cfg: TrainConfig, sizes: tuple[int, int] | None) -> None:
    """Refuse models over the parameter cap, naming the settings to lower.

    `sizes` is the task's (input_size, output_size); None when only a worker can tell,
    and then the worker's `opened` event reports the count.
    """
    if sizes is None:
        return
    params = param_count(cfg, *sizes)
    if params > LIMITS.max_params:
        raise TooLarge(
            f"this model would have {params:,} parameters; the limit is {LIMITS.max_params:,}"
            " (lower hidden_size or num_layers)",
            field="hidden_size",
        )


def check_task_model(cfg: TrainConfig, spec: TaskSpec, source: dict[str, Any]) -> None:
    """Refuse a model kind the task does not train, or its own model over the parameter cap."""
    spec.check_model(cfg.model)
    shapes = spec.weight_shapes(cfg, source)  # a task's own model (None: the generic one)
    params = sum(math.prod(shape) for shape in shapes.values()) if shapes else 0
    if params > LIMITS.max_params:
        raise TooLarge(
            f"this model would have {params:,} parameters; the limit is {LIMITS.max_params:,}"
            " (lower hidden_size or num_layers)",
            field="hidden_size",
        )


@dataclass
class Client:
    """A joined socket connection: which session and in which role."""

    session: str
    role: str
    latest: dict[str, int] = field(default_factory=dict)  # newest seq asked, per query kind
    text_len: dict[str, int] = field(default_factory=dict)  # length of that query's text
    # One query per kind at the worker at a time: when it was sent, and the newest one
    # that arrived meanwhile (sent when the answer comes), so a flood costs its sender alone.
    asked_at: dict[str, float] = field(default_factory=dict)
    parked: dict[str, dict] = field(default_factory=dict)


class Sessions:
    """All sessions of this server; every public method is safe to call from any thread."""

    def __init__(
        self,
        storage: Storage,
        publisher: Publisher,
        max_running: int = 8,
        max_sessions: int = 5000,
    ) -> None:
        self.storage = storage
        self.publisher = publisher
        self.engine: Any = None
        self.device = "cpu"
        self.sessions: dict[str, Session] = {}
        self.clients: dict[str, Client] = {}
        self.queue: list[str] = []  # sessions waiting for a training slot, first come first served
        self.max_running = max_running  # sessions training at once; the rest queue
        self.max_sessions = max_sessions  # sessions stored in all
        self.lock = threading.RLock()
        self.saved = threading.Condition(self.lock)  # signalled when a checkpoint lands
        self.waiting: dict[str, tuple[dict, threading.Event]] = {}  # `ask` replies, by key
        # How each worker event is folded in, by its type (`backend.engine.messages`).
        self.handlers: dict[type[Event], Callable[[Session, Any], None]] = {
            Opened: self._on_opened,
            Checkpointed: self._on_checkpointed,
            Notice: self._on_notice,
            WorkerLost: self._on_worker_lost,
            Progress: self._on_progress,
            Sample: self._on_sample,
            Answered: self._on_answered,
            Rejected: self._on_rejected,
            Gradients: self._on_gradients,
            Failed: self._on_failed,
        }

    def attach(self, engine: Any) -> None:
        """Connect the training engine (created after us, since it calls back into us)."""
        self.engine = engine
        self.device = engine.device

    # -- creating and finding --------------------------------------------------------------

    def create(
        self,
        corpus: str | None = None,
        config: Any = None,
        task: Any = DEFAULT_TASK,
        source: Any = None,
    ) -> dict[str, str]:
        """A new session of `task` on `source` (or a built-in corpus); returns its links."""
        spec = spec_for(task)
        cfg = settings.parse(config or {}, base=settings.parse(dict(spec.default_config)))
        if corpus is not None and source is None:
            source = {"corpus": corpus}
        source = spec.parse_source(source)
        check_task_model(cfg, spec, source)
        check_model_size(cfg, spec.sizes(source))
        record, links = self.new_record(cfg, spec.name, source)
        with self.lock:
            self.open_record(record)
        return links

    def new_record(
        self,
        cfg: TrainConfig,
        task: str,
        source: dict[str, Any],
        owner_token: str | None = None,
        view_token: str | None = None,
        **extra: Any,
    ) -> tuple[SessionRecord, dict[str, str]]:
        """Store a new session (within the global cap); return it with its secret links.

        `owner_token` and `view_token` let several sessions (a lesson's runs) share one owner
        link and one view link.
        """
        self.check_room(1)
        owner_token = owner_token or secrets.token_urlsafe(32)
        session_id = secrets.token_urlsafe(16)
        view_token = view_token or derive_view_token(owner_token, session_id, 0)
        extra["state"] = {**extra.get("state", {}), "view_version": 0}
        record = SessionRecord(
            id=session_id,
            owner_digest=digest(owner_token),
            view_token=digest(view_token),
            config=cfg.to_dict(),
            task=task,
            source=source,
            **extra,
        )
        self.storage.save(record)
        links = {
            "id": record.id,
            "owner_token": owner_token,
            "view_token": view_token,
            "owner_url": view_url(record.id, owner_token),
            "view_url": view_url(record.id, view_token),
        }
        return record, links

    def check_room(self, count: int) -> None:
        """Full unless `count` more sessions fit under the cap (checked before creating any)."""
        if self.storage.count() + count > self.max_sessions:
            raise Full(
                "this server holds as many sessions as it can; ask its admin to raise the cap"
            )

    def open_record(self, record: SessionRecord, weights: Path | None = None) -> Session:
        """Bring a stored session into memory; its model resumes from its last checkpoint.

        `weights` (validated safetensors) replace the initial weights of a new session.
        """
        spec = spec_for(record.task)
        session = Session(
            record=record,
            config=TrainConfig(**record.config),
            spec=spec,
            sizes=spec.sizes(record.source),
            device=self.device,
        )
        session.load_state(record.state)
        self.sessions[record.id] = session
        self._build(session, resume=True, weights=weights)
        if session.status in ("running", "queued"):  # the server stopped mid-training: carry on
            session.status = "paused"
            self._run(session)
        return session

    def _build(self, session: Session, resume: bool = False, weights: Path | None = None) -> None:
        """(Re)build the session's model on its worker; a fresh model forgets the run."""
        session.gen += 1
        session.items_per_sec = 0.0
        session.params = param_count(session.config, *session.sizes) if session.sizes else 0
        if not resume:
            session.step = session.items_seen = 0
            session.history = History()
            session.samples.clear()
        self.engine.send(
            Open(
                session.id,
                gen=session.gen,
                task=session.record.task,
                source=session.record.source,
                config=session.config.to_dict(),
                checkpoint=str(self.storage.checkpoint_path(session.id)),
                resume=resume,
                step=session.step,
                items_seen=session.items_seen,
                weights=str(weights) if weights else None,
                pace=(session.record.classroom.get("lesson") or {}).get("pace", 0.0),
            )
        )

    def _save_state(self, session: Session, state: dict[str, Any] | None = None) -> None:
        """Record the run state; a failed write is the owner's to know, not the request's.

        Training, pausing and the queue go on in memory when the disk is full or read-only
        (refusing a pause would be worse): the owner gets a `storage_failed` notice instead.
        """
        try:
            self.storage.save_state(session.id, state or session.dump_state())
        except StorageFailed as exc:
            self.notify(session, exc.code, exc.message)

    def notify(self, session: Session, code: str, message: str) -> None:
        """A `session:notice` to the session's owners: something happened they should know."""
        log.warning("session %s: %s: %s", session.id, code, message)
        with self.lock:
            owners = [c for c, role in session.clients.items() if role == "owner"]
        for client in owners:
            self.publisher.to_client(client, "session:notice", {"code": code, "message": message})

    def get(self, session_id: Any) -> Session:
        """The live session, loaded from storage if this process has not seen it yet."""
        if not isinstance(session_id, str) or not session_id:
            raise InvalidInput("session must be a session id")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                record = self.storage.load(session_id)
                if record is None:
                    raise NotFound("no such session")
                session = self.open_record(record)
            return session

    def role(self, session: Session, token: Any) -> str:
        """'owner' or 'viewer' for this token; Invalid without one, BadToken for a wrong one."""
        if not isinstance(token, str) or not token:
            raise InvalidInput("a session link's token is needed", field="token")
        stored = session.record.view_token
        if hmac.compare_digest(digest(token), session.record.owner_digest):
            session.owner_token = token
            return "owner"
        presented = digest(token) if is_digest(stored) else token
        if hmac.compare_digest(presented.encode(), stored.encode()):
            return "viewer"
        raise BadToken("this link's token is not valid for the session")

    def owned(self, session_id: str, token: Any) -> Session:
        """The session if `token` is its owner's; Forbidden otherwise."""
        session = self.get(session_id)
        if self.role(session, token) != "owner":
            raise Forbidden("only the session's owner can do that")
        return session

    # -- watchers --------------------------------------------------------------------------

    def join(self, client: str, session_id: Any, token: Any) -> tuple[Session, str]:
        """Attach a socket connection to a session in the role its token grants."""
        session = self.get(session_id)
        role = self.role(session, token)
        with self.lock:
            self.leave(client)
            self.clients[client] = Client(session.id, role)
            session.clients[client] = role
            session.last_watched = time.monotonic()
        self.publisher.viewers(session)
        return session, role

    def leave(self, client: str) -> None:
        """Detach a connection (on disconnect or before joining another session)."""
        with self.lock:
            joined = self.clients.pop(client, None)
            session = self.sessions.get(joined.session) if joined else None
            if session is None:
                return
            session.clients.pop(client, None)
            session.last_watched = time.monotonic()
        self.publisher.viewers(session)

    def client(self, client: str, owner: bool = False) -> tuple[Session, Client]:
        """The session a connection joined; raises if it has not, or is not the owner."""
        with self.lock:
            joined = self.clients.get(client)
            if joined is None:
                raise NotJoined("join a session first (session:join)")
            if owner and joined.role != "owner":
                raise Forbidden("only the session's owner can do that")
            return self.sessions[joined.session], joined

    # -- owner verbs -----------------------------------------------------------------------

    def configure(self, session: Session, changes: Any) -> None:
        """Apply validated setting changes; non-live ones rebuild the model."""
        with self.lock:
            new = settings.parse(changes, base=session.config)
            check_task_model(new, session.spec, session.record.source)
            check_model_size(new, session.sizes)
            rebuild = session.config.needs_rebuild(new)
            record = dataclasses.replace(session.record, config=new.to_dict())
            self.storage.save(record)  # first: a refused request changes nothing
            session.config, session.record = new, record
            if rebuild:
                self._build(session)
                if session.status == "running":  # keep training, on the new model
                    self.engine.send(Start(session.id, until=session.budget))
                elif session.status == "paused":
                    session.status, session.pause_reason = "idle", None
            else:
                self.engine.send(Configure(session.id, config=new.to_dict()))
            self._save_state(session)
        if not rebuild:  # a rebuilt model's state goes out once the worker has opened it
            self.publisher.state(session)

    def set_source(self, session: Session, source: Any) -> dict[str, Any]:
        """Replace the task's source (for text: a corpus or an upload); the model starts afresh."""
        source = session.spec.parse_source(source)
        sizes = session.spec.sizes(source)
        check_model_size(session.config, sizes)
        with self.lock:
            record = dataclasses.replace(session.record, source=source)
            self.storage.save(record)  # first: a refused request changes nothing
            session.record, session.sizes = record, sizes
            self._halt(session, "idle", None)
            self._build(session)
            changed = self._promote()
            self._save_state(session)
        self._publish(session, *changed)
        return session.spec.summarize_source(source)

    def start(self, session: Session) -> None:
        """Train, or wait in the queue when every training slot is taken.

        A lesson trains as one: every run starts, and a run past its budget runs on.
        """
        runs = self.lesson_runs(session)
        with self.lock:
            for run in runs:
                if run.status not in ("running", "queued"):
                    self._mark_lesson(run, run_on=run.budget is not None and run.step >= run.budget)
                    self._run(run)
                    self._save_state(run)
        self._publish(*runs)

    def pause(self, session: Session, reason: str = "user") -> None:
        """Stop training; the owner's pause stops every run of a lesson."""
        self._pause(self.lesson_runs(session), reason)

    def _pause(self, runs: list[Session], reason: str) -> None:
        with self.lock:
            for run in runs:
                if run.status in ("running", "queued"):
                    self._halt(run, "paused", reason)
                    self._save_state(run)
            changed = self._promote()
        self._publish(*runs, *changed)

    def step(self, session: Session) -> None:
        with self.lock:
            if session.status in ("running", "queued"):
                raise InvalidInput("pause training before stepping one step at a time")
            session.status, session.pause_reason = "paused", "user"
            self.engine.send(Step(session.id))
            self._save_state(session)
        self.publisher.state(session)

    def reset(self, session: Session) -> None:
        """Fresh weights from the seed, for every run of a lesson, each with its budget again."""
        runs = self.lesson_runs(session)
        with self.lock:
            for run in runs:
                self._halt(run, "idle", None)
                self._mark_lesson(run, run_on=False)
                self._build(run)
                self._save_state(run)
            changed = self._promote()
        self._publish(*runs, *changed)

    # -- lessons ---------------------------------------------------------------------------

    def lesson_runs(self, session: Session) -> list[Session]:
        """Every run of the lesson `session` is one of, main run first; else `session` alone."""
        if not session.record.classroom.get("lesson"):
            return [session]
        main = self.get(session.record.parent_id) if session.record.parent_id else session
        children = [self.get(child) for child in self.storage.children(main.id)]
        return [main] + [run for run in children if run.record.classroom.get("lesson")]

    def _mark_lesson(self, run: Session, run_on: bool) -> None:
        """Record whether a lesson run goes on past its budget (callers hold the lock)."""
        meta = run.record.classroom.get("lesson")
        if not meta or bool(meta.get("run_on")) == run_on:
            return
        run.record.classroom = {**run.record.classroom, "lesson": {**meta, "run_on": run_on}}
        self.storage.save(run.record)

    def _end_of_budget(self, session: Session) -> None:
        """A lesson run that reached its budget stops there by itself.

        The worker stops it on the very step (`Start.until`); this marks it paused, and
        catches a run that trained on past it (restarted from a move without the budget)."""
        with self.lock:
            ended = session.status == "running" and session.budget is not None
            ended = ended and session.step >= session.budget
        if ended:
            self._pause([session], "budget")

    # -- training slots (callers hold the lock) --------------------------------------------

    def _run(self, session: Session) -> None:
        """Start training now if a slot is free, else join the queue."""
        session.pause_reason = None
        if self._running() < self.max_running:
            session.status = "running"
            self.engine.send(Start(session.id, until=session.budget))
        else:
            session.status = "queued"
            self.queue.append(session.id)
            self._renumber()

    def _halt(self, session: Session, status: str, reason: str | None) -> None:
        """Stop training or leave the queue, ending in `status`."""
        if session.status == "running":
            self.engine.send(Pause(session.id))
        elif session.status == "queued":
            self.queue.remove(session.id)
            self._renumber()
        session.status, session.pause_reason = status, reason
        session.items_per_sec = 0.0

    def _promote(self) -> list[Session]:
        """Start queued sessions while slots are free; return every session whose state moved."""
        started = []
        while self.queue and self._running() < self.max_running:
            session = self.sessions[self.queue.pop(0)]
            session.status = "running"
            self.engine.send(Start(session.id, until=session.budget))
            self._save_state(session)
            started.append(session)
        if not started:
            return []
        self._renumber()
        return started + [self.sessions[q] for q in self.queue]

    def _running(self) -> int:
        return sum(s.status == "running" for s in self.sessions.values())

    def _renumber(self) -> None:
        for position, session_id in enumerate(self.queue, start=1):
            self.sessions[session_id].queue_position = position

    def _publish(self, *sessions: Session) -> None:
        for session in {s.id: s for s in sessions}.values():  # each once, in order
            self.publisher.state(session)

    # -- anyone joined ---------------------------------------------------------------------

    def query(self, client: str, op: Any, query: Any) -> None:
        """Queue one of the session's task's queries (`predict`, `inspect`, a roll-out...).

        The task's spec validates it; only the client's newest query of each kind is answered.
        """
        session, joined = self.client(client)
        if not isinstance(op, str):
            raise InvalidInput("op must be the name of a query", field="op")
        query = session.spec.parse_query(op, query)
        session.refuse_locked(joined.role, op)
        if isinstance(query.get("seq"), bool) or not isinstance(query.get("seq"), int):
            raise InvalidInput("seq must be a non-negative integer", field="seq")
        with self.lock:
            if query["seq"] <= joined.latest.get(op, -1):
                return  # older than one already asked
            joined.latest[op] = query["seq"]
            joined.text_len[op] = len(query.get("text", ""))
            if time.monotonic() - joined.asked_at.get(op, -QUERY_RETRY_S) < QUERY_RETRY_S:
                joined.parked[op] = query  # one is at the worker: this one waits for its answer
                return
            joined.asked_at[op] = time.monotonic()
            self.engine.send(Query(session.id, op, client, seq=query["seq"], fields=query))

    def _send_parked(self, session: Session, event: Answered | Rejected) -> None:
        """A client's query was answered or refused: send the one that waited behind it."""
        op = event.op
        with self.lock:
            joined = self.clients.get(event.client)
            if joined is None or joined.session != session.id:
                return
            joined.asked_at.pop(op, None)
            query = joined.parked.pop(op, None)
            if query is not None:
                joined.asked_at[op] = time.monotonic()
                self.engine.send(Query(session.id, op, event.client, query["seq"], fields=query))

    # -- engine events (one reader thread) -------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Fold one worker event into session state and pass it on to the watchers."""
        if isinstance(event, (Answered, Rejected)) and self._reply(event):
            return  # the server's own question (`ask`): its unique key needs no build check
        with self.lock:
            session = self.sessions.get(event.session or "")
            if session is None or event.gen != session.gen:
                return  # a session or a model build that no longer exists
            handler = self.handlers.get(type(event))
        if handler is not None:
            handler(session, event)

    def _on_opened(self, session: Session, event: Opened) -> None:
        with self.lock:
            session.params = event.params
            session.described = event.describe
            session.sizes = (event.input_size, event.output_size)
            if session.step != event.step:  # history ran ahead of the last checkpoint
                session.history.truncate(event.step)
                if event.step == 0:
                    session.samples.clear()
                session.step, session.items_seen = event.step, event.items_seen
        self.publisher.state(session)

    def _on_checkpointed(self, session: Session, event: Checkpointed) -> None:
        self.storage.report("checkpoints", None)
        with self.lock:
            state = session.dump_state()
            session.saved_step = event.step
            self.saved.notify_all()
        self._save_state(session, state)

    def _on_notice(self, session: Session, event: Notice) -> None:
        """Something the owner should know: a damaged checkpoint, a failed save."""
        if event.detail:
            log.warning("session %s: %s", session.id, event.detail)
        if event.code == "storage_failed":
            self.storage.report("checkpoints", event.message)
            self._fail_save(session, StorageFailed(event.message))
        self.notify(session, event.code, event.message)

    def _on_worker_lost(self, session: Session, event: WorkerLost) -> None:
        """Its worker died: it is reopened from its checkpoint; a save waited for will not come.

        The engine reopens it paused when this keeps happening: the page must say so too.
        """
        self._fail_save(session, WorkerRestarted(event.message + "; try again"))
        self.notify(session, event.code, event.message)
        if not event.paused:
            return
        with self.lock:
            changed: list[Session] = []
            if session.status == "running":
                session.status, session.pause_reason = "paused", "error"
                session.items_per_sec = 0.0
                changed = self._promote()
                self._save_state(session)
        self._publish(session, *changed)

    def _fail_save(self, session: Session, error: UserError) -> None:
        with self.lock:
            session.save_error = error
            self.saved.notify_all()

    def ask(self, session: Session, op: str, timeout: float = 60.0, **payload: Any) -> dict:
        """Ask the session's worker a question on the server's own behalf and wait for it."""
        key = f"ask:{secrets.token_hex(8)}"
        reply: dict[str, Any] = {}
        done = threading.Event()
        with self.lock:
            self.waiting[key] = (reply, done)
        self.engine.send(Query(session.id, op, client=key, seq=0, fields=payload))
        answered = done.wait(timeout)
        with self.lock:
            self.waiting.pop(key, None)
        if not answered:
            raise Busy("the server is too busy to answer that right now; try again")
        if "error" in reply and reply["error"]["code"] == WorkerRestarted.code:
            raise WorkerRestarted(reply["error"]["message"])
        if "error" in reply:
            error = UserError(reply["error"]["message"], field=reply["error"].get("field"))
            error.code = reply["error"]["code"]
            raise error
        return reply["result"]

    def checkpoint_now(self, session: Session, timeout: float = 20.0) -> Path:
        """Have the worker save the session's current weights; return the checkpoint's path."""
        with self.lock:
            session.saved_step, session.save_error = -1, None
            self.engine.send(Save(session.id))
            done = self.saved.wait_for(
                lambda: session.saved_step >= 0 or session.save_error is not None, timeout
            )
            if session.save_error is not None:
                raise session.save_error
            if not done:
                raise Busy("the server is too busy to save the model right now; try again")
        return self.storage.checkpoint_path(session.id)

    def _on_progress(self, session: Session, event: Progress) -> None:
        with self.lock:
            session.step, session.items_seen = event.step, event.items_seen
            session.items_per_sec = event.items_per_sec
            session.history.add(event.train, event.grad, event.val, event.score)
            update = {
                "step": session.step,
                "items_seen": session.items_seen,
                "items_per_sec": session.items_per_sec,
                "unit": session.spec.unit,
                "item": session.spec.item,
                # The names before tasks, kept for older pages and scripts.
                "chars_seen": session.items_seen,
                "chars_per_sec": session.items_per_sec,
                "batched": event.batched,
                "status": session.status,
                "train": event.train,
                "grad": event.grad,
                "val": event.val,
                "score": event.score,
            }
            stopped = session.status != "running"  # steps the worker took before it paused
        self.publisher.progress(session.id, update)
        if stopped:  # the paused state already sent named an earlier step: correct it
            self.publisher.state(session)
        self._end_of_budget(session)

    def _on_sample(self, session: Session, event: Sample) -> None:
        sample = {"step": event.step, "temperature": event.temperature, **event.payload}
        with self.lock:
            session.samples.append(sample)
            hidden = "samples" in session.record.classroom.get("hidden", ())
            watchers = [c for c, role in session.clients.items() if role == "owner" or not hidden]
        if hidden:  # class mode hides samples from viewers: send to those allowed only
            for client in watchers:
                self.publisher.to_client(client, "train:sample", sample)
        else:
            self.publisher.to_room(session.id, "train:sample", sample)

    def _on_answered(self, session: Session, event: Answered) -> None:
        self._send_parked(session, event)
        op = event.op
        with self.lock:
            joined = self.clients.get(event.client)
            if joined is None or event.seq < joined.latest.get(op, -1):
                return  # the client left, or typed again: this answer is stale
            text_len = joined.text_len.get(op, 0)
        result = {"seq": event.seq, "text_len": text_len, **event.result}
        self.publisher.to_client(event.client, f"{op}:result", result)

    def _reply(self, event: Answered | Rejected) -> bool:
        """Hand an answer or refusal to the `ask` waiting for it; False if none is (a client's)."""
        with self.lock:
            waiting = self.waiting.get(event.client)
        if waiting is None:
            return False
        if isinstance(event, Answered):
            reply: dict[str, Any] = {"result": event.result}
        else:
            reply = {"error": event.error}
        waiting[0].update(reply)
        waiting[1].set()
        return True

    def _on_rejected(self, session: Session, event: Rejected) -> None:
        self._send_parked(session, event)
        error = {**event.error, "event": f"{event.op}:query"}
        self.publisher.to_client(event.client, "error", error)

    def _on_gradients(self, session: Session, event: Gradients) -> None:
        profile = event.to_dict()
        with self.lock:
            session.gradients = profile
        self.publisher.to_room(session.id, "train:gradients", profile)

    def _on_failed(self, session: Session, event: Failed) -> None:
        log.warning("session %s: %s failed: %s", session.id, event.op, event.message)
        with self.lock:
            self._halt(session, "paused", "error")
            changed = self._promote()
            self._save_state(session)
        error = {"code": "training_failed", "message": event.message, "event": event.op}
        self.publisher.to_room(session.id, "error", error)
        self._publish(session, *changed)

    # -- housekeeping ----------------------------------------------------------------------

    def pause_unwatched(self, idle_s: float) -> list[str]:
        """Pause running sessions nobody has watched for `idle_s` seconds; return their ids."""
        now = time.monotonic()
        with self.lock:
            stale = [
                s
                for s in self.sessions.values()
                if s.status == "running" and not s.clients and now - s.last_watched > idle_s
            ]
        for session in stale:
            self._pause([session], "idle")
        return [s.id for s in stale]

    def evict_unwatched(self, idle_s: float) -> list[str]:
        """Drop idle, unwatched sessions from memory (they come back from storage on demand)."""
        now = time.monotonic()
        with self.lock:
            idle = [
                s
                for s in self.sessions.values()
                if s.status in ("idle", "paused")
                and not s.clients
                and now - s.last_watched > idle_s
            ]
            for session in idle:
                self.engine.send(Close(session.id))
                del self.sessions[session.id]
                self._save_state(session)  # its last use, for `remove_abandoned`
        return [s.id for s in idle]

    def delete(self, session: Session) -> None:
        """Remove a session for good; a lesson goes as one unit, every run of it together."""
        owner = session.record.owner_digest
        for run in self.lesson_runs(session):
            if run.record.owner_digest == owner:  # a fork someone else made stays theirs
                self._delete(run.id)

    def _delete(self, session_id: str) -> None:
        """Forget one session: its watchers are told, its record and files go."""
        watchers: list[str] = []
        with self.lock:
            session = self.sessions.pop(session_id, None)
            if session is not None:
                if session.status == "queued":
                    self.queue.remove(session_id)
                    self._renumber()
                session.status = "idle"
                session.gen += 1  # whatever the worker still sends about it is ignored
                self.engine.send(Close(session_id))
                watchers = list(session.clients)
                for client in watchers:
                    self.clients.pop(client, None)
            self.storage.delete(session_id)
            changed = self._promote()
        self.remove_files(session_id)
        for client in watchers:
            self.publisher.to_client(client, "session:deleted", {"id": session_id})
            self.publisher.remove(client, session_id)
        self._publish(*changed)

    def remove_files(self, session_id: str) -> None:
        """A session's checkpoints and imported weights (a late save is swept later)."""
        checkpoint = self.storage.checkpoint_path(session_id)
        for folder in (checkpoint.parent, self.storage.data_dir / "imports"):
            for path in folder.glob(f"{session_id}.*"):
                path.unlink(missing_ok=True)

    def remove_abandoned(self, idle_s: float) -> list[str]:
        """Delete sessions nobody changed or watched for `idle_s` seconds; return their ids."""
        removed = []
        for session_id in self.storage.untouched_since(time.time() - idle_s):
            with self.lock:
                if session_id in self.sessions:  # in memory: watched lately, or training
                    continue
                self.storage.delete(session_id)
            self.remove_files(session_id)
            removed.append(session_id)
        if removed:
            log.info("removed %d abandoned sessions", len(removed))
        return removed

    def sweep_files(self, grace_s: float = 3600.0) -> None:
        """Remove files of deleted sessions, and imported weights a checkpoint now holds.

        Only files untouched for `grace_s` go: none that an upload or a save is writing.
        """
        known = self.storage.ids()
        checkpoints = self.storage.checkpoint_path("x").parent
        saved = {p.name.split(".")[0] for p in checkpoints.glob("*.*")}
        for folder in (checkpoints, self.storage.data_dir / "imports"):
            for path in folder.glob("*.*"):
                session_id = path.name.split(".")[0]
                used = session_id in known and (folder == checkpoints or session_id not in saved)
                try:
                    if not used and time.time() - path.stat().st_mtime > grace_s:
                        path.unlink()
                except FileNotFoundError:
                    pass  # removed meanwhile

    def stats(self) -> dict[str, int]:
        with self.lock:
            running = sum(s.status == "running" for s in self.sessions.values())
            return {
                "sessions": len(self.sessions),
                "running": running,
                "clients": len(self.clients),
            }
