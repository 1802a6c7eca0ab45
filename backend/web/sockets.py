"""Socket.IO handlers: each validates, calls the session layer and replies.

Every event is `area:verb`. Errors go back to the sender only, as an `error` event with
a stable `code` (see docs/protocol.md); nothing a client sends can crash the server.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room, leave_room

from backend.errors import BadToken, InvalidInput, UserError
from backend.sessions.classroom import Classroom
from backend.sessions.registry import Sessions
from backend.web.guards import TokenGuard

log = logging.getLogger(__name__)

# Socket messages are small (texts go over HTTP), so cap them well below the text limit.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_DIGITS = 100  # longer integers are no number a handler takes (and slow to convert)


class WireJson:
    """JSON for socket packets: an integer too long to be a number reads as infinity.

    The handler's validation then refuses it with an `error` reply, where the default
    decoder would drop the whole packet with a traceback and answer nothing.
    """

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        return json.loads(data, parse_int=parse_int, **kwargs)


def parse_int(digits: str) -> int | float:
    if len(digits) <= MAX_DIGITS:
        return int(digits)
    log.warning("socket message with a %d-digit integer: read as infinity", len(digits))
    return float("inf") if not digits.startswith("-") else float("-inf")


def register(
    socketio: SocketIO, sessions: Sessions, classroom: Classroom, tokens: TokenGuard
) -> None:
    """Attach every handler to `socketio`."""

    def reply(event: str, data: Any) -> None:
        socketio.emit(event, data, to=request.sid)

    def handler(event: str) -> Callable:
        """Register `fn(data)` for `event`, turning any UserError into an `error` reply."""

        def wrap(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def run(data: Any = None, *extra: Any) -> None:
                try:
                    if data is None:
                        data = {}
                    if not isinstance(data, dict) or extra:
                        raise InvalidInput(f"{event} takes one JSON object")
                    fn(data)
                except UserError as exc:
                    reply("error", {**exc.to_dict(), "event": event})
                except Exception:
                    log.exception("socket event %s failed", event)
                    reply("error", {"code": "internal", "message": "server error", "event": event})

            socketio.on_event(event, run)
            return fn

        return wrap

    def owned() -> Any:
        return sessions.client(request.sid, owner=True)[0]

    @handler("session:join")
    def join(data: dict) -> None:
        """Join a session's room in the role the token grants, then send its state."""
        previous = sessions.clients.get(request.sid)
        tokens.check(request.remote_addr)
        try:
            session, role = sessions.join(request.sid, data.get("session"), data.get("token"))
        except BadToken:
            tokens.failed(request.remote_addr)
            raise
        if previous and previous.session != session.id:
            leave_room(previous.session)
        join_room(session.id)
        reply("session:state", session.snapshot(role))

    @handler("train:config")
    def configure(data: dict) -> None:
        """Change settings (owner only)."""
        sessions.configure(owned(), data.get("config"))

    @handler("train:start")
    def start(data: dict) -> None:
        """Start or resume training (owner only)."""
        sessions.start(owned())

    @handler("train:pause")
    def pause(data: dict) -> None:
        """Pause training (owner only)."""
        sessions.pause(owned())

    @handler("train:step")
    def step(data: dict) -> None:
        """One optimisation step while paused (owner only)."""
        sessions.step(owned())

    @handler("train:reset")
    def reset(data: dict) -> None:
        """Fresh weights from the seed (owner only)."""
        sessions.reset(owned())

    @handler("predict:query")
    def predict(data: dict) -> None:
        """The task's prediction for this client's input; answered as predict:result."""
        sessions.query(request.sid, "predict", data)

    @handler("inspect:query")
    def inspect(data: dict) -> None:
        """Gates, states and saliency for this client's input; answered as inspect:result."""
        sessions.query(request.sid, "inspect", data)

    @handler("task:query")
    def task_query(data: dict) -> None:
        """Any other query of the session's task ({"op": ..., ...}); answered as <op>:result."""
        op = data.get("op") if isinstance(data, dict) else None
        sessions.query(request.sid, op, {k: v for k, v in data.items() if k != "op"})

    @handler("link:renew")
    def renew(data: dict) -> None:
        """Replace the view link; viewers on the old one are dropped (owner only)."""
        classroom.renew_view_link(owned())

    @handler("class:settings")
    def class_settings(data: dict) -> None:
        """Locks, hidden panels and follow-me for viewers (owner only)."""
        classroom.configure(owned(), data)

    @handler("class:focus")
    def class_focus(data: dict) -> None:
        """Relay the owner's typed text, unit or lesson to the room (owner only)."""
        classroom.focus(owned(), data)

    @socketio.on("ping:echo")
    def echo(data: Any = None) -> None:
        """Send the payload straight back (round-trip measurements)."""
        reply("ping:echo", data)

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        sessions.leave(request.sid)

    @socketio.on("*")
    def unknown(event: str, *_: Any) -> None:
        reply(
            "error", {"code": "unknown_event", "message": f"unknown event: {event}", "event": event}
        )
