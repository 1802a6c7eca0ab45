"""Everything the server keeps on disk, behind one module.

Sessions live in an embedded SQLite database through SQLAlchemy Core, so another database
is a change of URL. By default the data directory is `instance/` under the project; nothing
needs to be started before the server. Owner and view tokens are stored only as SHA-256 digests.

A write that fails (a full disk, a read-only database) raises `StorageFailed` and is
remembered in `problems` until the same kind of write succeeds again, so health can say
the server is degraded. One server at a time may use a data directory (`lock_directory`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from backend.errors import StorageFailed

log = logging.getLogger(__name__)

LOCK_FILE = "server.lock"

metadata = sa.MetaData()

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner_digest", sa.String(64), nullable=False),
    sa.Column("view_token", sa.String(64), nullable=False, index=True),
    sa.Column("config", sa.Text, nullable=False),  # JSON of TrainConfig
    # Which task (backend.tasks) and its source, as JSON: enough to rebuild the task's data.
    # Added by `migrate`; NULL in rows from before tasks, which are text sessions.
    sa.Column("task", sa.String(32), nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    # Before tasks a session was one text: kept for those rows. New rows keep a short label
    # of the source here and an empty text (the source holds everything).
    sa.Column("text_source", sa.String(64), nullable=False),  # corpus id or "upload"
    sa.Column("text", sa.Text, nullable=False),
    # Run state as of the last checkpoint: status, step, loss history, samples (JSON).
    sa.Column("state", sa.Text, nullable=False, default="{}"),
    # Class mode: locks, hidden panels, follow-me (JSON), and the session this one forked from.
    sa.Column("classroom", sa.Text, nullable=False, default="{}"),
    sa.Column("parent_id", sa.String(32), nullable=True, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


def migrate(engine: sa.Engine) -> None:
    """Add the columns of later versions to a database made by an earlier one.

    Rows from before tasks keep NULL there and read as text sessions (`legacy_source`),
    so an old data directory opens unchanged; nothing is rewritten until a row is saved.
    """
    present = {c["name"] for c in sa.inspect(engine).get_columns("sessions")}
    missing = {name: kind for name, kind in ADDED_COLUMNS.items() if name not in present}
    if not missing:
        return
    with engine.begin() as conn:
        for name, kind in missing.items():
            conn.execute(sa.text(f"ALTER TABLE sessions ADD COLUMN {name} {kind}"))
    log.info("database migrated: added %s", ", ".join(missing))


def legacy_source(row: Any) -> dict[str, Any]:
    """A row from before tasks was a text session: its text and where it came from."""
    return {"corpus": row.text_source, "text": row.text}


def source_label(source: dict[str, Any], task: str) -> str:
    """A short name of a source for the old `text_source` column (a corpus id, or the task)."""
    label = source.get("corpus") or task
    return str(label)[:64]


def digest(token: str) -> str:
    """The stored form of a secret token."""
    return hashlib.sha256(token.encode()).hexdigest()


# The columns `migrate` adds to a database made before them, with their SQL type.
ADDED_COLUMNS = {"task": "VARCHAR(32)", "source": "TEXT"}
LEGACY_TASK = "text"  # what every session was before tasks


@dataclass
class SessionRecord:
    """A session's durable part: who may do what, its settings, its task and the task's source."""

    id: str
    owner_digest: str
    view_token: str  # its digest (in the clear in databases from before digests)
    config: dict[str, Any]
    task: str  # a name in backend.tasks.registry.TASKS
    source: dict[str, Any]  # the task's parsed source (TaskSpec.parse_source)
    state: dict[str, Any] = field(default_factory=dict)
    classroom: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None


class DirectoryInUse(RuntimeError):
    """Another server already uses this data directory."""


def lock_directory(data_dir: str | Path) -> IO[str]:
    """Take the data directory for this server alone; keep the returned file open to hold it.

    Two servers on one directory would both train the same sessions and write the same files.
    The lock (`flock`) is released by the kernel when the process ends, even by `kill -9`.
    """
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    handle = (path / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DirectoryInUse(
            f"the data directory {path} is in use by another server ({holder}); "
            "stop it, or set PLAYGROUND_DATA_DIR to another directory"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class Storage:
    """Reads and writes session records; one instance per app."""

    def __init__(self, url: str, data_dir: str | Path) -> None:
        self.engine = sa.create_engine(url)
        self.data_dir = Path(data_dir)
        self.problems: dict[str, str] = {}  # what failed, by kind ("database", "checkpoints")
        metadata.create_all(self.engine)
        migrate(self.engine)

    def report(self, kind: str, problem: str | None) -> None:
        """Remember that writes of `kind` fail (or, with None, work again)."""
        if problem is None:
            self.problems.pop(kind, None)
        else:
            self.problems[kind] = problem

    @contextlib.contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A database transaction whose failure to write becomes `StorageFailed`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, OSError) as exc:
            reason = str(getattr(exc, "orig", None) or exc)
            log.error("writing to the database failed: %s", reason)
            self.report("database", reason)
            raise StorageFailed(
                f"the server could not save this ({reason}); nothing was changed"
            ) from exc
        self.report("database", None)

    @classmethod
    def in_directory(cls, data_dir: str | Path) -> Storage:
        """SQLite database and checkpoints under `data_dir`."""
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path / 'playground.db'}", path)

    def save(self, record: SessionRecord) -> None:
        """Insert the record, or replace it but for its run state.

        The run state has writers of its own (`save_state`, and in cluster mode `merge_state`):
        an update must not put back the state the record was loaded with, or a settings change
        would briefly store a stale status, and for good if the state's own write then failed.
        """
        now = time.time()
        row = {
            "owner_digest": record.owner_digest,
            "view_token": record.view_token,
            "config": json.dumps(record.config),
            "task": record.task,
            "source": json.dumps(record.source),
            "text_source": source_label(record.source, record.task),
            "text": "",
            "state": json.dumps(record.state),
            "classroom": json.dumps(record.classroom),
            "parent_id": record.parent_id,
            "updated_at": now,
        }
        update = {name: value for name, value in row.items() if name != "state"}
        this = sessions.c.id == record.id
        with self.writing() as conn:
            done = conn.execute(sessions.update().where(this).values(**update))
            if done.rowcount == 0:
                conn.execute(sessions.insert().values(id=record.id, created_at=now, **row))

    def load(self, session_id: str) -> SessionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sessions.select().where(sessions.c.id == session_id)).first()
        if row is None:
            return None
        return SessionRecord(
            id=row.id,
            owner_digest=row.owner_digest,
            view_token=row.view_token,
            config=json.loads(row.config),
            task=row.task or LEGACY_TASK,
            source=json.loads(row.source) if row.source else legacy_source(row),
            state=json.loads(row.state),
            classroom=json.loads(row.classroom),
            parent_id=row.parent_id,
        )

    def save_state(self, session_id: str, state: dict[str, Any]) -> None:
        """Record the run state alone (cheap: the text is not rewritten)."""
        with self.writing() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .values(state=json.dumps(state), updated_at=time.time())
            )

    def checkpoint_path(self, session_id: str) -> Path:
        """Where a session's weights are checkpointed (safetensors)."""
        return self.data_dir / "checkpoints" / f"{session_id}.safetensors"

    def children(self, session_id: str) -> list[str]:
        """Ids of the sessions forked from this one, oldest first."""
        query = (
            sa.select(sessions.c.id)
            .where(sessions.c.parent_id == session_id)
            .order_by(sessions.c.created_at)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one()

    def delete(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.id == session_id))

    def untouched_since(self, moment: float) -> list[str]:
        """Ids of the sessions last changed before `moment` (a time.time())."""
        query = sa.select(sessions.c.id).where(sessions.c.updated_at < moment)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(sessions.c.id)).scalars())
