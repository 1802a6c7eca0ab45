"""The single-page app: `/` and every session link serve the built `static/index.html`."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("pages", __name__)


@bp.get("/")
@bp.get("/s/<session_id>")
def index(session_id: str | None = None):
    """The app shell; the page reads the session and token from its own URL."""
    static = current_app.static_folder
    try:
        response = send_from_directory(static, "index.html", max_age=0)
    except Exception:
        return (
            "The frontend is not built: run `npm run build` (scripts/serve.sh does it).",
            503,
            {"Content-Type": "text/plain; charset=utf-8"},
        )
    response.headers["Cache-Control"] = "no-cache"
    return response
