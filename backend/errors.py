"""Errors a user can cause, each with a stable code the API and socket layer report as-is."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by a request: `code` is for machines, the message for people."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class InvalidInput(UserError):
    code = "invalid"


class TooLarge(UserError):
    code = "too_large"
    http_status = 413


class Forbidden(UserError):
    code = "forbidden"
    http_status = 403


class NotFound(UserError):
    code = "not_found"
    http_status = 404


class NotJoined(UserError):
    code = "not_joined"


class Full(UserError):
    code = "full"
    http_status = 503


class Busy(UserError):
    code = "busy"
    http_status = 503


class StorageFailed(UserError):
    code = "storage_failed"
    http_status = 503


class WorkerRestarted(UserError):
    code = "worker_restarted"
    http_status = 503


class RateLimited(UserError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        return {**super().to_dict(), "retry_after": self.retry_after}


class BadToken(Forbidden):
    """A token that opens nothing: counted against the caller's address (token guessing)."""
