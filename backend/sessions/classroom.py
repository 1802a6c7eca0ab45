"""Running a class on one session: links, class mode, forks, the class board, export/import.

Built on the session layer (`Sessions`): every verb checks the caller's role from its token
or joined connection, on the server, whatever the page shows.

- Links: the owner can revoke and renew the view link; viewers on the old one are dropped.
- Class mode: the owner locks viewer actions (`LOCKABLE`, refused on the server), hides
  panels (`HIDEABLE`; hidden samples are not even sent) and turns on "follow me", which
  relays the owner's focus (typed text, selected unit, open lesson) to every viewer.
- Forks: anyone allowed gets their own session with the same text and settings and,
  optionally, the weights; the original's owner sees every fork on the class board.
- Export/import: see `backend.store.exchange`.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from typing import IO, Any

from backend.config import LIMITS
from backend.errors import Busy, Forbidden, InvalidInput, StorageFailed, WorkerRestarted
from backend.sessions.registry import (
    Session,
    Sessions,
    check_model_size,
    classroom_view,
    derive_view_token,
)
from backend.store import exchange
from backend.store.storage import digest

LOCKABLE = ("predict", "fork", "export", "inspect")
HIDEABLE = ("settings", "samples", "chart", "predict", "inspect", "lessons")
BOARD_POINTS = 200


class Classroom:
    """Sharing verbs over a `Sessions` registry."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    # -- links -----------------------------------------------------------------------------

    def renew_view_link(self, session: Session) -> None:
        """New view token; everyone watching through the old one is dropped."""
        reg = self.sessions
        with reg.lock:
            if session.owner_token is None:  # renewed by an owner, so never the case
                raise Forbidden("only the session's owner can do that")
            version = session.view_version + 1
            token = derive_view_token(session.owner_token, session.link_id, version)
            record = dataclasses.replace(session.record, view_token=digest(token))
            reg.storage.save(record)  # first: a refused request changes nothing
            session.record, session.view_version = record, version
            reg.storage.save_state(session.id, session.dump_state())
            dropped = [c for c, role in session.clients.items() if role == "viewer"]
        for client in dropped:
            reg.publisher.to_client(
                client,
                "session:revoked",
                {"message": "the owner replaced this session's link; ask for the new one"},
            )
            reg.leave(client)
            reg.publisher.remove(client, session.id)
        reg.publisher.state(session)

    # -- class mode ------------------------------------------------------------------------

    def configure(self, session: Session, data: dict[str, Any]) -> None:
        """Change locks, hidden panels and follow-me (owner only)."""
        current = classroom_view(session.record.classroom)
        for key, allowed in (("locks", LOCKABLE), ("hidden", HIDEABLE)):
            if key in data:
                current[key] = choose(data[key], allowed, key)
        if "follow" in data:
            if not isinstance(data["follow"], bool):
                raise InvalidInput("follow must be true or false", field="follow")
            current["follow"] = data["follow"]
        unknown = sorted(set(data) - {"locks", "hidden", "follow"})
        if unknown:
            raise InvalidInput(f"unknown class setting: {unknown[0]}", field=unknown[0])
        with self.sessions.lock:  # keep what class mode does not own (lesson, sealed)
            classroom = {**session.record.classroom, **current}
            record = dataclasses.replace(session.record, classroom=classroom)
            self.sessions.storage.save(record)  # first: a refused request changes nothing
            session.record = record
            self.sessions.storage.save_state(session.id, session.dump_state())
        self.sessions.publisher.state(session)

    def focus(self, session: Session, data: dict[str, Any]) -> None:
        """The owner's focus, relayed live to viewers who follow (owner only)."""
        focus = dict(session.record.classroom.get("focus", {}))
        if "text" in data:
            if not isinstance(data["text"], str) or len(data["text"]) > LIMITS.max_query_chars:
                raise InvalidInput(
                    f"text must be a string of at most {LIMITS.max_query_chars} characters",
                    field="text",
                )
            focus["text"] = data["text"]
        for key in ("unit", "layer"):
            if key in data:
                value = data[key]
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 4096
                ):
                    raise InvalidInput(f"{key} must be a whole number or null", field=key)
                focus[key] = value
        for key in ("lesson", "view"):
            if key in data:
                if data[key] is not None and (
                    not isinstance(data[key], str) or len(data[key]) > 64
                ):
                    raise InvalidInput(f"{key} must be a short name or null", field=key)
                focus[key] = data[key]
        with self.sessions.lock:
            session.record.classroom = {**session.record.classroom, "focus": focus}
        self.sessions.publisher.to_room(session.id, "class:focus", focus)

    # -- forks -----------------------------------------------------------------------------

    def fork(self, session: Session, role: str, with_weights: bool) -> dict[str, str]:
        """A new session owned by the caller: same task, source and settings; weights if asked."""
        session.refuse_locked(role, "fork")
        reg = self.sessions
        check_model_size(session.config, session.sizes)
        source = reg.checkpoint_now(session) if with_weights else None
        with reg.lock:
            state = session.dump_state() if with_weights else {}
            record, links = reg.new_record(
                session.config,
                session.record.task,
                session.record.source,
                parent_id=session.id,
                state={**state, "status": "paused" if state else "idle", "pause_reason": None},
                classroom={"sealed": True} if with_weights and sealed(session, role) else {},
            )
            if source is not None:
                target = reg.storage.checkpoint_path(record.id)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                except OSError as exc:  # a full disk: take the new record back
                    self._forget(record.id)
                    raise StorageFailed(f"could not copy the weights: {exc.strerror}") from exc
            reg.open_record(record)
        return links

    def _forget(self, session_id: str) -> None:
        """Remove a session this request had just stored, so a refusal leaves nothing behind."""
        try:
            self.sessions.storage.delete(session_id)
        finally:
            self.sessions.remove_files(session_id)

    def board(self, session: Session) -> list[dict[str, Any]]:
        """Every fork of this session with its settings and validation curve (owner only)."""
        rows = []
        for child_id in self.sessions.storage.children(session.id):
            child = self.sessions.get(child_id)
            history = child.history
            rows.append(
                {
                    "id": child.id,
                    "config": child.config.to_dict(),
                    "status": child.status,
                    "step": child.step,
                    "viewers": len(child.clients),
                    "val_step": history.val_step[-BOARD_POINTS:],
                    "val": history.val[-BOARD_POINTS:],
                    "best_val": min((v for v in history.val if v is not None), default=None),
                }
            )
        return rows

    # -- export / import -------------------------------------------------------------------

    def export(self, session: Session, role: str) -> bytes:
        """The session's model as a zip: weights, settings, task state and source, task files."""
        session.refuse_locked(role, "export")
        if session.record.classroom.get("sealed"):
            raise Forbidden("this fork carries weights whose export the original's owner locked")
        if session.config.model not in exchange.GATES:
            raise InvalidInput("export covers the recurrent models (RNN, LSTM, GRU) only")
        checkpoint = self.sessions.checkpoint_now(session).read_bytes()
        return exchange.export(
            exchange.weights_from_checkpoint(checkpoint),
            session.config,
            session.spec,
            session.record.source,
            exchange.task_state_from_checkpoint(checkpoint),
            session.step,
        )

    def import_model(self, upload: IO[bytes]) -> dict[str, str]:
        """A new session from an exported zip, validated before anything loads it."""
        reg = self.sessions
        imports = reg.storage.data_dir / "imports"
        imports.mkdir(parents=True, exist_ok=True)
        part = imports / f"upload-{secrets.token_hex(8)}.part"
        try:
            model = exchange.parse_import(upload, part)
            with reg.lock:
                record, links = reg.new_record(
                    model.config, model.task, model.source, state={"status": "paused"}
                )
                weights = part.rename(imports / f"{record.id}.safetensors")
                session = reg.open_record(record, weights=weights)
        finally:
            part.unlink(missing_ok=True)
        try:
            reg.checkpoint_now(session)  # from now on its checkpoint holds the weights
        except Busy:
            return links  # the housekeeping sweep removes the file once a checkpoint exists
        except (StorageFailed, WorkerRestarted):
            reg.delete(session)  # its owner never gets the links: leave no orphan behind
            raise
        weights.unlink(missing_ok=True)
        return links


def sealed(session: Session, role: str) -> bool:
    """Whether weights forked by `role` must stay unexported: the lock travels with them."""
    locked = role != "owner" and "export" in session.record.classroom.get("locks", ())
    return locked or bool(session.record.classroom.get("sealed"))


def choose(values: Any, allowed: tuple[str, ...], field: str) -> list[str]:
    """Validate a list of names against `allowed`."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{field} must be a list of names", field=field)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"{field} can only name {', '.join(allowed)} (got {unknown[0]})", field=field
        )
    return sorted(set(values))
