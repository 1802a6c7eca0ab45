"""The one place that sends server messages to browsers.

Progress is coalesced: whatever the step rate, each session's room gets at most
`hz` `train:progress` messages a second, each carrying every point since the last one.
Emits go into each connection's own send queue, so a slow client never slows training,
the engine reader or other clients.
"""

from __future__ import annotations

import threading
from typing import Any

from flask_socketio import SocketIO

POINTS = ("train", "grad", "val")  # lists a progress message accumulates between flushes


class SocketPublisher:
    """Implements sessions.Publisher over Flask-SocketIO rooms (one room per session id)."""

    def __init__(self, socketio: SocketIO, hz: float) -> None:
        self.socketio = socketio
        self.period = 1.0 / hz
        self.pending: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._flush_forever, name="publisher", daemon=True)
        self.thread.start()

    def state(self, session: Any) -> None:
        """`session:state` to every watcher, each in its own role."""
        for client, role in list(session.clients.items()):
            self.to_client(client, "session:state", session.snapshot(role))

    def viewers(self, session: Any) -> None:
        self.to_room(session.id, "session:viewers", {"viewers": len(session.clients)})

    def progress(self, session_id: str, update: dict) -> None:
        """Merge an update into the session's pending progress message."""
        with self.lock:
            pending = self.pending.get(session_id)
            if pending is None:
                self.pending[session_id] = {**update, **{k: list(update[k]) for k in POINTS}}
                return
            points = {k: pending[k] + update[k] for k in POINTS}
            pending.update(update)
            pending.update(points)

    def to_room(self, session_id: str, event: str, data: dict) -> None:
        self.socketio.emit(event, data, to=session_id)

    def to_client(self, client: str, event: str, data: dict) -> None:
        self.socketio.emit(event, data, to=client)

    def remove(self, client: str, session_id: str) -> None:
        """Take a connection out of a session's room (its link was revoked)."""
        self.socketio.server.leave_room(client, session_id, namespace="/")

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
        for session_id, update in pending.items():
            self.to_room(session_id, "train:progress", update)

    def _flush_forever(self) -> None:
        while not self.stopped.wait(self.period):
            self.flush()

    def stop(self) -> None:
        self.stopped.set()
