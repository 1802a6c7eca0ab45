"""HTTP routes under /api: schema, tasks, corpora, creating sessions and replacing sources."""

from __future__ import annotations

import tempfile

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from backend import config, corpora
from backend.config import LIMITS
from backend.errors import BadToken, InvalidInput, TooLarge, UserError
from backend.lessons import catalog as lessons
from backend.lessons.criteria import Criteria
from backend.lessons.experiments import Experiments
from backend.sessions.classroom import Classroom
from backend.sessions.registry import Session, Sessions
from backend.store import exchange
from backend.tasks import registry as tasks
from backend.web.guards import limiter, per_session, rate, token_guard

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def refuse_token_guessers() -> None:
    """An address that sent too many wrong tokens waits, even with a right one."""
    if token():
        token_guard().check(request.remote_addr)


def sessions() -> Sessions:
    return current_app.extensions["playground"]


@bp.get("/health")
def health():
    """Liveness, the training device and how busy the server is."""
    engine = sessions().engine
    problems = dict(sessions().storage.problems)  # a copy: other threads change it
    return {
        "ok": engine.alive(),
        "status": "degraded" if problems or not engine.alive() else "ok",
        "problems": problems,
        "restarts": engine.restarts,
        "device": engine.device,
        "workers": engine.count,
        "running_per_worker": engine.running_per_worker(),
        **sessions().stats(),
    }


@bp.get("/schema")
def schema():
    """Every setting with its bounds, the server's limits and the training device."""
    return {
        "settings": config.describe(),
        "tasks": tasks.describe(),
        "limits": LIMITS.to_dict(),
        "device": sessions().engine.device,
    }


@bp.get("/tasks")
def list_tasks():
    """Every kind of sequence a session can learn: name, one line, unit, views, default source."""
    return {"tasks": tasks.describe(), "default": tasks.DEFAULT_TASK}


@bp.get("/corpora")
def list_corpora():
    """The built-in texts, with their sizes."""
    items = [
        {"id": c.id, "name": c.name, "description": c.description, "chars": len(corpora.load(c.id))}
        for c in corpora.list_corpora()
    ]
    return {"corpora": items}


@bp.post("/sessions")
@limiter.limit(rate("CREATE"))
def create_session():
    """Create a session of a task (text by default) on a source or corpus, with settings."""
    body = json_body(required=False)
    corpus = body.get("corpus")
    if corpus is not None and not isinstance(corpus, str):
        raise InvalidInput("corpus must be a corpus id", field="corpus")
    task = body.get("task", tasks.DEFAULT_TASK)
    links = sessions().create(corpus, body.get("config"), task=task, source=body.get("source"))
    return links, 201


@bp.put("/sessions/<session_id>/text")
def put_text(session_id: str):
    """Replace a session's training text with a corpus or raw UTF-8 text (owner only)."""
    session = sessions().owned(session_id, token())
    if request.mimetype == "application/json":
        corpus = json_body().get("corpus")
        if not isinstance(corpus, str):
            raise InvalidInput("corpus must be a corpus id", field="corpus")
        return sessions().set_source(session, {"corpus": corpus})
    if request.mimetype != "text/plain":
        raise InvalidInput('send text/plain (the text) or application/json ({"corpus": id})')
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the text is not valid UTF-8") from exc
    return sessions().set_source(session, {"corpus": "upload", "text": text.replace("\r\n", "\n")})


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    """Delete a session for good: record, weights, history (owner only)."""
    sessions().delete(sessions().owned(session_id, token()))
    return "", 204


@bp.post("/sessions/<session_id>/fork")
@limiter.limit(rate("FORK"))
def fork(session_id: str):
    """Fork a session into a new one owned by the caller, optionally with its weights."""
    session, role = authorised(session_id)
    weights = json_body(required=False).get("weights", False)
    if not isinstance(weights, bool):
        raise InvalidInput("weights must be true or false", field="weights")
    return classroom().fork(session, role, weights), 201


@bp.get("/sessions/<session_id>/forks")
def forks(session_id: str):
    """The class board: every fork with its settings and validation curve (owner only)."""
    session = sessions().owned(session_id, token())
    return {"forks": classroom().board(session)}


@bp.get("/sessions/<session_id>/export")
def export(session_id: str):
    """Download the trained model: safetensors, settings, vocabulary and a sample script."""
    session, role = authorised(session_id)
    blob = classroom().export(session, role)
    name = f"rnn-playground-{session.config.model}-step{session.step}.zip"
    return Response(
        blob,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/sessions/import")
@limiter.limit(rate("IMPORT"))
def import_model():
    """Start a session from an exported zip (validated; nothing in it is executed)."""
    # A model with its text is larger than the app-wide body cap (sized for texts).
    request.max_content_length = exchange.MAX_IMPORT_BYTES
    upload = request.files.get("file")
    if upload is not None:  # Werkzeug spooled it to a temporary file
        return classroom().import_model(upload.stream), 201
    with tempfile.TemporaryFile() as spooled:  # the raw body, never whole in memory
        exchange.copy_upload(request.stream, spooled)
        return classroom().import_model(spooled), 201


@bp.get("/lessons")
def list_lessons():
    """Every lesson of the course, in the asked language."""
    lang = request.args.get("lang", "en")
    if lang not in lessons.LANGS:
        raise InvalidInput(f"lang must be one of {', '.join(lessons.LANGS)}", field="lang")
    return {"lessons": lessons.describe(lang)}


@bp.post("/lessons/<lesson_id>/start")
@limiter.limit(rate("LESSON"))
def start_lesson(lesson_id: str):
    """Create and start one session per run of a lesson, owned by the caller."""
    return experiments().start(lesson_id, json_body(required=False).get("lang", "en")), 201


@bp.get("/sessions/<session_id>/runs")
def runs(session_id: str):
    """The session and its children side by side (lesson runs, forks), with the lesson's verdict."""
    session, _ = authorised(session_id)
    return {"runs": experiments().runs(session), "verdict": experiments().verdict(session)}


@bp.get("/sessions/<session_id>/gaps")
def gaps(session_id: str):
    """Each lesson run's accuracy on the dependent character against the gap."""
    session, _ = authorised(session_id)
    return experiments().gaps(session)


@bp.post("/sessions/<session_id>/sentiment")
@limiter.limit(rate("SENTIMENT"), key_func=per_session)
def sentiment(session_id: str):
    """Running P(positive) of each lesson run's classifier for a typed sentence."""
    session, _ = authorised(session_id)
    return experiments().sentiment(session, json_body().get("text"))


@bp.get("/sessions/<session_id>/criteria")
def criteria_table(session_id: str):
    """The four criteria of a sequence model, measured on each lesson run, with verdicts."""
    session, _ = authorised(session_id)
    return criteria().table(session)


@bp.post("/sessions/<session_id>/reach")
@limiter.limit(rate("SENTIMENT"), key_func=per_session)  # typed and debounced, like sentiment
def reach(session_id: str):
    """How much each lesson run's prediction after a typed text depends on each character."""
    session, _ = authorised(session_id)
    return criteria().reach(session, json_body().get("text"))


def criteria() -> Criteria:
    """The lessons' criteria measurements, made on first use beside `experiments()`."""
    return current_app.extensions.setdefault("criteria", Criteria(experiments()))


def experiments() -> Experiments:
    return current_app.extensions["experiments"]


def classroom() -> Classroom:
    return current_app.extensions["classroom"]


def token() -> str | None:
    """The caller's token: the X-Session-Token header, or ?t= for plain download links."""
    return request.headers.get("X-Session-Token") or request.args.get("t")


def authorised(session_id: str) -> tuple[Session, str]:
    session = sessions().get(session_id)
    return session, sessions().role(session, token())


def json_body(required: bool = True) -> dict:
    try:
        data = request.get_json(silent=True)
    except RecursionError as exc:  # JSON nested thousands deep
        raise InvalidInput("the body is nested too deeply") from exc
    if data is None and not required and not request.get_data():
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


@bp.app_errorhandler(UserError)
def user_error(exc: UserError):
    if isinstance(exc, BadToken):
        token_guard().failed(request.remote_addr)
    return jsonify(error=exc.to_dict()), exc.http_status


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge):
    limit = request.max_content_length or LIMITS.max_text_bytes
    exc = TooLarge(f"the request is larger than {limit / 1024 / 1024:.0f} MB")
    return jsonify(error=exc.to_dict()), 413


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """JSON errors under /api (404 for unknown routes, 405 for wrong methods, ...)."""
    if not request.path.startswith("/api/"):
        return exc
    codes = {404: "not_found", 405: "method_not_allowed", 429: "rate_limited", 500: "internal"}
    code = codes.get(exc.code or 400, "bad_request")
    return jsonify(error={"code": code, "message": exc.description}), exc.code
