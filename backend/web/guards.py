"""The web edge's guards: rate limits, same-origin writes, security headers, honest 500s.

- Rate limits count per client address (Flask-Limiter, in memory: one server process) on
  the routes that create work: sessions, lesson starts, forks, imports; and wrong tokens,
  over HTTP and `session:join` alike. Defaults leave room for a class of 30 sharing one
  public address (see docs/reliability.md); `PLAYGROUND_RATE_*` settings change them.
- State-changing requests from another site are refused: a browser always sends `Origin`
  on a cross-site POST, PUT or DELETE; clients that are not browsers send none.
- Every response carries a Content-Security-Policy and its companions, and no source map
  is served.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import InternalServerError, NotFound

from backend.errors import Forbidden, RateLimited

log = logging.getLogger(__name__)

# Per client address unless said otherwise; a class of 30 behind one NAT address stays below.
DEFAULTS: dict[str, Any] = {
    "RATE_LIMITS": True,  # false turns every limit below off
    "RATE_CREATE": "120 per minute",  # new sessions (a page opened on /)
    "RATE_LESSON": "60 per minute",  # lesson starts (each creates a session per run)
    "RATE_FORK": "120 per minute",  # forks, with or without weights
    "RATE_IMPORT": "60 per minute",  # model imports (zips up to 64 MB each)
    "RATE_BAD_TOKEN": "120 per minute",  # requests and joins with a token that opens nothing
    "RATE_SENTIMENT": "1200 per minute",  # per session: 30 typists, debounced, stay below
    "GAPS_EVERY_S": 5.0,  # per session: one accuracy-vs-gap measurement at most this often
}

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")

limiter = Limiter(
    get_remote_address,
    storage_uri="memory://",
    headers_enabled=True,
    retry_after="delta-seconds",
    strategy="moving-window",
)


def rate(name: str) -> Any:
    """A limit read from the app's settings when a request comes (`RATE_<NAME>`)."""
    return lambda: current_app.config[f"RATE_{name}"]


def per_session() -> str:
    """Rate-limit key for per-session views: the session in the URL."""
    return "session:" + str((request.view_args or {}).get("session_id", ""))


class TokenGuard:
    """Counts wrong tokens per address; past the limit, even a right token waits."""

    def __init__(self, limit: str, enabled: bool = True) -> None:
        self.limit = parse_limit(limit)
        self.enabled = enabled
        self.window = MovingWindowRateLimiter(MemoryStorage())

    def check(self, address: str | None) -> None:
        """RateLimited if `address` has used up its wrong tokens."""
        if self.enabled and not self.window.test(self.limit, "token", address or "?"):
            reset, _ = self.window.get_window_stats(self.limit, "token", address or "?")
            wait = max(1, int(reset - time.time()) + 1)
            raise RateLimited(
                f"too many wrong links from this address; try again in {wait} s", retry_after=wait
            )

    def failed(self, address: str | None) -> None:
        if self.enabled:
            self.window.hit(self.limit, "token", address or "?")


def token_guard() -> TokenGuard:
    return current_app.extensions["token_guard"]


def init_app(app: Flask) -> None:
    """Attach the limiter, the origin check, the headers and the JSON error bodies."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATE_LIMITS"])
    limiter.init_app(app)
    app.extensions["token_guard"] = TokenGuard(
        app.config["RATE_BAD_TOKEN"], enabled=bool(app.config["RATE_LIMITS"])
    )
    app.before_request(refuse_cross_site)
    app.before_request(refuse_source_maps)
    app.after_request(secure_headers)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(RateLimited, rate_limited_here)
    app.register_error_handler(InternalServerError, internal)


def refuse_cross_site() -> Any:
    """403 for a write whose `Origin` is another site (a cross-site form or script)."""
    if request.method not in WRITES:
        return None
    origin = request.headers.get("Origin")
    cross = request.headers.get("Sec-Fetch-Site") == "cross-site"
    if origin is None and not cross:
        return None  # not a browser (curl, scripts): nothing to forge
    if not cross and urlsplit(origin or "").netloc == request.host:
        return None
    error = Forbidden("requests from another site are refused")
    return jsonify(error=error.to_dict()), 403


def refuse_source_maps() -> Any:
    """Source maps stay on the build machine, whatever lies in static/."""
    if request.path.endswith(".map"):
        raise NotFound()
    return None


def secure_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def rate_limited(exc: RateLimitExceeded) -> Any:
    """429 `rate_limited`; Flask-Limiter adds Retry-After (seconds) to the response."""
    error = RateLimited(f"too many requests from here ({exc.description}); try again shortly")
    limit = limiter.current_limit
    if limit is not None:
        error.retry_after = max(1, int(limit.reset_at - time.time()))
    response = jsonify(error=error.to_dict())
    response.headers["Retry-After"] = str(error.retry_after)
    return response, 429


def rate_limited_here(exc: RateLimited) -> Any:
    response = jsonify(error=exc.to_dict())
    response.headers["Retry-After"] = str(exc.retry_after)
    return response, 429


def internal(exc: InternalServerError) -> Any:
    """500 `internal`, as documented; the traceback goes to the log, not to the client."""
    error = {"code": "internal", "message": "server error; the session is unchanged"}
    return jsonify(error=error), 500
