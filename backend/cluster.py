"""Cluster mode: several web processes over PostgreSQL, Redis and a Ray cluster of trainers.

Chosen by configuration alone (docs/deploy.md): with PLAYGROUND_RAY_ADDRESS,
PLAYGROUND_MESSAGE_QUEUE and PLAYGROUND_DATABASE_URL set, `create_app` builds the parts
below instead of the embedded ones; with none set, nothing here is used.

Every web process that shows a session holds a copy of it (`Session`), fed by the same
trainer events from Redis, so each sends its own watchers what they need:
  - the database is the source of truth for session records; a process that changes one
    (a pause, a setting, a new link) says so on Redis, and the others reload it
    (`ClusterSessions.refresh`) and send their watchers the new state;
  - emits that every copy makes for the same trainer event (progress, samples) go to the
    process's own watchers only; any other room emit (a class focus, the viewer count)
    goes through Flask-SocketIO's Redis message queue to every process;
  - commands from any process reach the trainer actor holding the session through Ray;
  - the training slots (PLAYGROUND_MAX_RUNNING) are the cluster's, not each process's: a
    start takes one in Redis atomically (a Lua script over the set of running sessions the
    engine keeps), or joins one queue every process shares, first come first served; the
    process that frees a slot starts the queue's head, wherever its owner is connected;
  - the slots in Redis decide whether a session trains, whatever order the messages about it
    arrive in: every start and pause changes them (one Lua script each) before anyone is
    told, and whoever applies a start or a pause (a trainer, a web process's copy, the
    database row) applies it only while the slots agree, so the last change wins everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_socketio import SocketIO

from backend.config import TrainConfig
from backend.engine.messages import Checkpointed, Close, Event, Pause, Start
from backend.errors import Busy, NotFound, StorageFailed
from backend.sessions.registry import Session, Sessions
from backend.store.storage import Storage, metadata
from backend.store.storage import sessions as table
from backend.tasks.registry import spec_for
from backend.web.publisher import SocketPublisher

log = logging.getLogger(__name__)

SETTINGS = ("RAY_ADDRESS", "MESSAGE_QUEUE", "DATABASE_URL")
WATCHERS = "playground:watchers:"  # + session: a hash of web process id -> its watchers
ORPHANED = "playground:orphaned:"  # + session: since when no live web process holds it
QUEUE = "playground:queue"  # sessions waiting for a training slot, in order, cluster-wide
HOLD = "playground:test:hold:"  # + point: a race window a test holds open (PLAYGROUND_TEST_HOLDS)
LOCAL = threading.local()  # set on threads whose emits every copy makes (trainer events)

# A start, atomically: 0 if the session runs (it did, or a slot of ARGV[2] was free), else
# its place in the queue (joined at the back if it was not in it).
CLAIM = """
local running, queue, session, cap = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2])
if redis.call('SISMEMBER', running, session) == 1 then return 0 end
if redis.call('SCARD', running) < cap then
  redis.call('LREM', queue, 0, session)
  redis.call('SADD', running, session)
  return 0
end
local at = redis.call('LPOS', queue, session)
if not at then at = redis.call('RPUSH', queue, session) - 1 end
return at + 1
"""

# Slots freed: move the queue's head into the running set while slots of ARGV[1] are free.
PROMOTE = """
local running, queue, cap = KEYS[1], KEYS[2], tonumber(ARGV[1])
local started = {}
while redis.call('SCARD', running) < cap do
  local session = redis.call('LPOP', queue)
  if not session then break end
  redis.call('SADD', running, session)
  table.insert(started, session)
end
return started
"""
# A pause, or a deletion: leave the running set and the queue; 2 if it ran, 1 if it was queued.
HALT = """
local running, queue, session = KEYS[1], KEYS[2], ARGV[1]
if redis.call('SREM', running, session) == 1 then
  redis.call('LREM', queue, 0, session)
  return 2
end
if redis.call('LREM', queue, 0, session) > 0 then return 1 end
return 0
"""
QUEUE_MOVED = {"queue_moved": True}  # a change note: renumber your queued copies


def clustered(config: dict[str, Any]) -> bool:
    """Whether `config` asks for cluster mode; a partial cluster configuration is an error."""
    given = [name for name in SETTINGS if config.get(name)]
    if given and "RAY_ADDRESS" in given and len(given) < len(SETTINGS):
        missing = ", ".join(f"PLAYGROUND_{n}" for n in SETTINGS if n not in given)
        raise ValueError(f"cluster mode (PLAYGROUND_RAY_ADDRESS) also needs {missing}")
    if config.get("MESSAGE_QUEUE") and not config.get("RAY_ADDRESS"):
        raise ValueError("PLAYGROUND_MESSAGE_QUEUE is for cluster mode: set PLAYGROUND_RAY_ADDRESS")
    return bool(config.get("RAY_ADDRESS"))


def agrees(status: str | None, slot: str) -> bool:
    """Whether a session's `status` is what the cluster's slots say of it (`slot`: "running",
    "queued", or "" for neither)."""
    return (status if status in ("running", "queued") else "") == slot


def storage(config: dict[str, Any]) -> Storage:
    """The database at PLAYGROUND_DATABASE_URL, else SQLite under the data directory."""
    if not config.get("DATABASE_URL"):
        return Storage.in_directory(config["DATA_DIR"])
    return SharedStorage(config["DATABASE_URL"], config["DATA_DIR"])


class SharedStorage(Storage):
    """Storage on a database server (PostgreSQL); checkpoints on a directory every node reads.

    Connections are checked before use, so a restarted database costs one failed request,
    not a broken pool. Several web processes may create the tables at once: one wins.
    """

    def __init__(self, url: str, data_dir: str | Path) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.problems: dict[str, str] = {}
        self.changed: Any = lambda session_id, run=None: None  # set by the engine: tell others
        self.agrees: Any = lambda session_id, status: True  # set by the sessions: the slots' word
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                break
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):  # created concurrently
                time.sleep(0.2 * (attempt + 1))

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A read whose failure (the database unreachable) becomes a clear `StorageFailed`."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            self.report("database", reason)
            raise StorageFailed(f"the database cannot be reached ({reason}); try again") from exc

    def load(self, session_id: str) -> Any:
        with self.reading():
            return super().load(session_id)

    def count(self) -> int:
        with self.reading():
            return super().count()

    def children(self, session_id: str) -> list[str]:
        with self.reading():
            return super().children(session_id)

    def save(self, record: Any) -> None:
        super().save(record)
        self.changed(record.id, RECORD_ONLY)  # settings, source, class mode: not the run status

    def merge_state(self, session_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Overwrite only `fields` of the stored run state, under the row's lock; return it.

        Every web process records a checkpoint's steps and history; none may write back a
        status it read before another process stored a newer one (a pause), nor a status the
        training slots no longer agree with (a start another process's pause overtook): the
        stored status stays then, and the slots decide it.
        """
        row = sa.select(table.c.state).where(table.c.id == session_id).with_for_update()
        with self.writing() as conn:
            stored = conn.execute(row).scalar_one_or_none()
            if stored is None:
                return None
            before = json.loads(stored)
            state = {**before, **fields}
            if "status" in fields and not self.agrees(session_id, fields["status"]):
                state.update(run_status(before))
            conn.execute(
                table.update()
                .where(table.c.id == session_id)
                .values(state=json.dumps(state), updated_at=time.time())
            )
        return state

    def save_state(self, session_id: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """Store the run state (a status the slots refuse excepted, see `merge_state`), tell the
        other web processes; return what is stored now (None: the session is gone)."""
        stored = self.merge_state(session_id, state)
        self.changed(session_id, run_status(stored or state))
        return stored

    def delete(self, session_id: str) -> None:
        super().delete(session_id)
        self.changed(session_id)


class ClusterSocketIO(SocketIO):
    """Flask-SocketIO over the Redis message queue; an emit to one of our own connections
    (a reply, an error) is delivered here directly, so it needs no queue and cannot be lost
    while Redis is away."""

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        to = kwargs.get("to") or kwargs.get("room")
        namespace = kwargs.get("namespace") or "/"
        if isinstance(to, str) and self.server.manager.is_connected(to, namespace):
            kwargs["ignore_queue"] = True
        super().emit(event, *args, **kwargs)


class ClusterPublisher(SocketPublisher):
    """A publisher whose per-copy emits stay in this process (see the module docstring)."""

    def __init__(self, socketio: SocketIO, hz: float, redis_url: str) -> None:
        import redis

        super().__init__(socketio, hz)
        self.redis = redis.Redis.from_url(redis_url)
        self.origin = ""  # this web process, set once the engine has one

    def viewers(self, session: Any) -> None:
        """The viewer count over every web process, to the whole room."""
        self.redis.hset(WATCHERS + session.id, self.origin, len(session.clients))
        total = sum(self.watchers(session.id).values())
        self.socketio.emit("session:viewers", {"viewers": total}, to=session.id)

    def watchers(self, session_id: str) -> dict[str, int]:
        """How many watchers each live web process has on the session."""
        from backend.engine.ray_pool import ALIVE

        counts = self.redis.hgetall(WATCHERS + session_id)
        live = {who.decode(): int(n) for who, n in counts.items()}
        return {who: n for who, n in live.items() if self.redis.exists(ALIVE + who)}

    def to_room(self, session_id: str, event: str, data: dict) -> None:
        local = getattr(LOCAL, "on", False) or threading.current_thread() is self.thread
        self.socketio.emit(event, data, to=session_id, ignore_queue=local)

    def to_client(self, client: str, event: str, data: dict) -> None:
        """To one connection; from a trainer event, only if it is ours (every copy emits it)."""
        local = getattr(LOCAL, "on", False)
        self.socketio.emit(event, data, to=client, ignore_queue=local)


# A change note for a record written without its run state: the others reload the record and
# keep the status they hold (a stored one may be older: a pause stored while the database was
# away reaches them in a note of its own).
RECORD_ONLY = {"record_only": True}


def run_status(state: dict[str, Any]) -> dict[str, Any]:
    """The part of a run state that says whether it trains."""
    return {"status": state.get("status"), "pause_reason": state.get("pause_reason")}


class ClusterSessions(Sessions):
    """The session layer with copies in several web processes, kept in step through Redis."""

    def on_event(self, event: Event) -> None:
        LOCAL.on = True
        try:
            super().on_event(event)
        finally:
            LOCAL.on = False

    def watched_elsewhere(self, session: Session) -> bool:
        """Whether another web process has watchers on `session`."""
        counts = self.publisher.watchers(session.id)
        return any(n for who, n in counts.items() if who != self.publisher.origin)

    def pause_unwatched(self, idle_s: float) -> list[str]:
        """Pause what nobody watches, on any web process, and what no web process holds."""
        try:
            with self.lock:
                for session in self.sessions.values():
                    if session.status == "running" and self.watched_elsewhere(session):
                        session.last_watched = time.monotonic()
            paused = super().pause_unwatched(idle_s)
            return paused + self.pause_orphans(idle_s)
        except Exception:  # Redis or the database away: the housekeeping must go on
            log.exception("pausing unwatched sessions failed; trying again next round")
            return []

    def pause_orphans(self, idle_s: float) -> list[str]:
        """Pause sessions the trainers run, or the queue holds, for no web process any more
        (every one that held them stopped) once that has lasted `idle_s`: as an embedded
        server's restart would. Their slots go to the queue's next sessions."""
        from backend.engine.ray_pool import RUNNING

        redis, paused = self.publisher.redis, []
        for raw in [*redis.smembers(RUNNING), *redis.lrange(QUEUE, 0, -1)]:
            session_id = raw.decode()
            if not self._orphaned(session_id, idle_s):
                continue
            held = int(redis.eval(HALT, 2, RUNNING, QUEUE, session_id))
            if held == 2:
                self.engine.send(Pause(session_id))
            if held:
                paused.append(session_id)
        for session_id in paused:
            self.storage.merge_state(session_id, {"status": "paused", "pause_reason": "idle"})
        if paused:
            log.info("paused %d sessions no web process holds", len(paused))
            with self.lock:
                changed = self._promote()
            self._publish(*changed)
        return paused

    def _orphaned(self, session_id: str, idle_s: float) -> bool:
        """Whether no live web process has held `session_id` for `idle_s` (then it is ours:
        no other process will take it too)."""
        from backend.engine.ray_pool import ALIVE, HOLDERS

        redis, now = self.publisher.redis, time.time()
        holders = redis.smembers(HOLDERS + session_id)
        if any(redis.exists(ALIVE + holder.decode()) for holder in holders):
            redis.delete(ORPHANED + session_id)
            return False
        redis.set(ORPHANED + session_id, now, nx=True)
        since = float(redis.get(ORPHANED + session_id) or now)
        return now - since >= idle_s and bool(redis.delete(ORPHANED + session_id))

    # -- training slots, over the whole cluster (callers hold the lock) --------------------

    @contextlib.contextmanager
    def _slots(self) -> Iterator[Any]:
        """The Redis holding the slots and queue; it unreachable, a clear `Busy`."""
        import redis

        try:
            yield self.publisher.redis
        except redis.ConnectionError as exc:
            raise Busy("the training cluster cannot be reached right now; try again") from exc

    def where(self, session_id: str) -> str:
        """Where the cluster's slots have the session: "running", "queued" or "" (neither)."""
        from backend.engine.ray_pool import RUNNING

        with self._slots() as redis:
            lookup = redis.pipeline(transaction=True)
            running, place = lookup.sismember(RUNNING, session_id).lpos(QUEUE, session_id).execute()
        return "running" if running else "queued" if place is not None else ""

    def slots_agree(self, session_id: str, status: str | None) -> bool:
        """Whether `status` is what the slots say; with Redis away there is no word against it."""
        try:
            return agrees(status, self.where(session_id))
        except Busy:
            return True

    def _run(self, session: Session) -> None:
        """Start training if a slot of the cluster's is free, else join the shared queue."""
        from backend.engine.ray_pool import RUNNING

        before = session.status, session.pause_reason
        session.pause_reason = None
        with self._slots() as redis:
            place = int(redis.eval(CLAIM, 2, RUNNING, QUEUE, session.id, self.max_running))
        if place:
            session.status, session.queue_position = "queued", place
            return
        session.status = "running"
        try:
            self.engine.send(Start(session.id, until=session.budget))
        except Busy:  # its trainer cannot be reached: give the slot back, refuse the start
            with contextlib.suppress(Busy), self._slots() as redis:
                redis.eval(HALT, 2, RUNNING, QUEUE, session.id)
            session.status, session.pause_reason = before
            raise

    def _halt(self, session: Session, status: str, reason: str | None) -> None:
        """Stop training or leave the queue, giving back the slot or place (once: HALT).

        A copy still queued here may have been started by another process a moment ago,
        so the slots say whether the trainer must be told."""
        from backend.engine.ray_pool import RUNNING

        with self._slots() as redis:
            held = int(redis.eval(HALT, 2, RUNNING, QUEUE, session.id))
        if held == 1:  # the places behind it move up
            self.engine.note_change("", QUEUE_MOVED)
        if held == 2 or session.status == "running":
            self.engine.send(Pause(session.id))
        session.status, session.pause_reason = status, reason
        session.items_per_sec = 0.0

    def _promote(self) -> list[Session]:
        """Start the queue's head while slots are free, our copies or not; renumber the rest.

        A session only another process shows is opened here (it attaches to its trainer),
        started and stored: its holders hear of it through the change note.
        """
        from backend.engine.ray_pool import RUNNING

        with self._slots() as redis:
            taken = redis.eval(PROMOTE, 2, RUNNING, QUEUE, self.max_running)
        if taken:
            self.engine.note_change("", QUEUE_MOVED)
        started = [s for s in (self._promoted(raw.decode()) for raw in taken) if s is not None]
        if len(started) < len(taken):  # a slot went to a deleted or paused session: give it on
            started += self._promote()
        return started + self._queue_moved()

    def _promoted(self, session_id: str) -> Session | None:
        """Train a session the queue let through; None if it is gone (its slot given back)
        or its owner paused it meanwhile (the pause gave the slot back)."""
        from backend.engine.ray_pool import RUNNING

        try:
            session = self.sessions.get(session_id) or self.get(session_id)
        except (NotFound, StorageFailed, Busy) as exc:
            log.warning("queued session %s cannot start: %s", session_id, exc)
            self.publisher.redis.srem(RUNNING, session_id)
            return None
        if session.status != "running":  # `get` starts one the slots say runs by itself
            if self.where(session_id) != "running":
                return None
            session.status, session.pause_reason = "running", None
            self._hold("promoted:start")
            self.engine.send(Start(session.id, until=session.budget))
        self._hold("promoted:save")
        self._save_state(session)
        return session

    def _hold(self, point: str) -> None:
        """A race window a test opens: with PLAYGROUND_TEST_HOLDS set, say in Redis that this
        process is at `point` and wait (a minute at most) until the test lets it go on."""
        if not os.environ.get("PLAYGROUND_TEST_HOLDS"):
            return
        redis, deadline = self.publisher.redis, time.monotonic() + 60
        redis.set(HOLD + point, "waiting")
        while redis.get(HOLD + point) == b"waiting" and time.monotonic() < deadline:
            time.sleep(0.05)
        redis.delete(HOLD + point)

    def _queue_moved(self) -> list[Session]:
        """Our queued copies whose place in the shared queue changed, renumbered."""
        with self._slots() as redis:
            order = [raw.decode() for raw in redis.lrange(QUEUE, 0, -1)]
        places = {session_id: at for at, session_id in enumerate(order, start=1)}
        moved = []
        for session in self.sessions.values():
            place = places.get(session.id)
            if session.status == "queued" and place and place != session.queue_position:
                session.queue_position = place
                moved.append(session)
        return moved

    def open_record(self, record: Any, weights: Path | None = None) -> Session:
        """Bring a stored session into memory; one stored running or queued takes its status
        from the slots, not from a claim of its own: another process may have paused it (or
        started it) since it was stored."""
        if record.state.get("status") not in ("running", "queued"):
            return super().open_record(record, weights)
        stopped = dataclasses.replace(record, state={**record.state, "status": "paused"})
        session = super().open_record(stopped, weights)
        slot = self.where(session.id)
        if slot:
            session.status, session.pause_reason = slot, None
        if slot == "running":  # its trainer may not hold it yet, or hold it paused
            self.engine.send(Start(session.id, until=session.budget))
        elif slot == "queued":
            self._queue_moved()
        return session

    def _delete(self, session_id: str) -> None:
        """Delete as the base does, giving back its slot or place in the queue first."""
        with self.lock:
            session = self.sessions.get(session_id)
            if session is not None and session.status in ("running", "queued"):
                self._halt(session, "idle", None)
        super()._delete(session_id)

    def _save_state(self, session: Session, state: dict[str, Any] | None = None) -> None:
        """Store the run state; the other web processes hear of a new status even if that fails.

        A status the slots refused to store (another process's pause or start overtook ours
        between our change and this write) is not kept here either: our copy settles on what
        the slots say, as a change note would make it, so no watcher of ours sees it meanwhile.
        """
        state = state or session.dump_state()
        try:
            stored = self.storage.save_state(session.id, state)
        except StorageFailed as exc:
            self.notify(session, exc.code, exc.message)
            self.engine.note_change(session.id, run=run_status(state))
            return
        if stored is not None and run_status(stored) != run_status(state):
            with self.lock:
                self._settle(session, (stored.get("status"), stored.get("pause_reason")))
                if session.status == "queued":
                    self._queue_moved()

    def refresh(self, session_id: str, run: dict | None = None) -> None:
        """Another web process changed the session: reload our copy and tell our watchers.

        `run` is the status that process holds (it may not be stored: the database away), or
        RECORD_ONLY when only the record changed (the status stays ours).
        """
        if run and run.get("queue_moved"):
            with self.lock:
                moved = self._queue_moved()
            self._publish(*moved)
            return
        keep = bool(run and run.get("record_only"))
        run = None if keep else run
        with self.lock:  # read under it: a record older than a change of ours is never applied
            session = self.sessions.get(session_id)
            if session is None:
                return
            record = self._reload(session, run)
            if record is not None:
                dropped, changed = self._apply(session, record, run, keep)
        if record is None:
            self._gone(session)
            return
        for client in dropped:
            message = "the owner replaced this session's link; ask for the new one"
            self.publisher.to_client(client, "session:revoked", {"message": message})
            self.leave(client)
            self.publisher.remove(client, session_id)
        if changed:
            self.publisher.state(session)

    def _reload(self, session: Session, run: dict | None) -> Any:
        """The stored record (None: deleted); with the database away, ours if a status came."""
        try:
            return self.storage.load(session.id)
        except StorageFailed:
            if not run:
                raise
            return session.record  # take the note's status alone

    def _apply(
        self, session: Session, record: Any, run: dict | None, keep: bool
    ) -> tuple[list[str], bool]:
        """Take another process's change into our copy (callers hold the lock); return the
        viewers whose link was revoked and whether what our watchers see changed."""
        before = session.snapshot("owner")
        ours = session.status, session.pause_reason
        revoked = record.view_token != session.record.view_token
        if record is not session.record:
            self._adopt(session, record, keep_status=keep)
        if run:
            session.status, session.pause_reason = run["status"], run["pause_reason"]
        if not keep:  # a note read late may be older than a start or pause since
            stored = record.state.get("status"), record.state.get("pause_reason")
            self._settle(session, stored, ours)
        if session.status == "queued":  # queued through another process: its place
            self._queue_moved()
        dropped = [c for c, role in session.clients.items() if role == "viewer" and revoked]
        return dropped, session.snapshot("owner") != before

    def _settle(self, session: Session, *others: tuple[str | None, str | None]) -> None:
        """Keep the copy's status only if the slots agree with it, else the first of `others`
        (the stored run status, the status before) they agree with (callers hold the lock)."""
        try:
            slot = self.where(session.id)
        except Busy:
            return  # Redis away: nothing to say against it
        for status, reason in [(session.status, session.pause_reason), *others]:
            if agrees(status, slot):
                session.status, session.pause_reason = status, reason
                return
        session.status, session.pause_reason = slot or "paused", None

    def _adopt(self, session: Session, record: Any, keep_status: bool = False) -> None:
        """Take the stored record and run state, or only the record (callers hold the lock)."""
        state = record.state
        retasked = (record.task, record.source) != (session.record.task, session.record.source)
        session.record, session.config = record, TrainConfig(**record.config)
        if retasked:  # a new source (or task): its spec says the model's sizes
            session.spec = spec_for(record.task)
            session.sizes = session.spec.sizes(record.source)
        if not keep_status:
            session.status = state.get("status", session.status)
            session.pause_reason = state.get("pause_reason")
        session.view_version = state.get("view_version", session.view_version)
        # A model rebuilt elsewhere restarts its history when its trainer reports it `opened`.

    def _on_checkpointed(self, session: Session, event: Checkpointed) -> None:
        """Store what the trainer changed (steps, history), keeping the stored run status."""
        self.storage.report("checkpoints", None)
        with self.lock:
            ours = session.dump_state()
            session.saved_step = event.step
            self.saved.notify_all()
        trained = {k: ours[k] for k in ("step", "items_seen", "history", "samples")}
        try:
            self.storage.merge_state(session.id, trained)
        except StorageFailed as exc:
            self.notify(session, exc.code, exc.message)

    def _gone(self, session: Session) -> None:
        """The session was deleted through another web process: drop our copy and watchers."""
        with self.lock:
            self.sessions.pop(session.id, None)
            session.gen += 1
            watchers = list(session.clients)
            for client in watchers:
                self.clients.pop(client, None)
        self.engine.send(Close(session.id))
        for client in watchers:
            self.publisher.to_client(client, "session:deleted", {"id": session.id})
            self.publisher.remove(client, session.id)
        with self.lock:  # its slot, freed once the last process holding it closed it
            changed = self._promote()
        self._publish(*changed)


def build(config: dict[str, Any], socketio: SocketIO, publisher_hz: float, **limits: Any) -> Any:
    """The session layer and Ray engine of cluster mode, wired to each other."""
    from backend.engine.ray_pool import RayEngine

    store = storage(config)
    publisher = ClusterPublisher(socketio, publisher_hz, config["MESSAGE_QUEUE"])
    manager = ClusterSessions(store, publisher, **limits)
    engine = RayEngine(
        manager.on_event,
        address=config["RAY_ADDRESS"],
        redis_url=config["MESSAGE_QUEUE"],
        device=config["DEVICE"],
        checkpoint_s=config["CHECKPOINT_S"],
        batching=config["BATCH_SESSIONS"],
        on_changed=manager.refresh,
    )
    publisher.origin = engine.origin
    store.changed = engine.note_change
    store.agrees = manager.slots_agree
    return manager, engine
