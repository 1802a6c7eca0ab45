"""Validation of the text task's queries: next-character predictions and looks inside the model."""

from __future__ import annotations

from typing import Any

from backend.config import LIMITS
from backend.errors import InvalidInput
from backend.tasks.base import inspect_fields


def parse_query(query: Any) -> dict[str, Any]:
    """Validate a `predict:query` payload; fill in defaults."""
    if not isinstance(query, dict):
        raise InvalidInput("predict:query needs an object")
    text, seq = query.get("text"), query.get("seq")
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", field="text")
    if len(text) > LIMITS.max_query_chars:
        raise InvalidInput(f"text is limited to {LIMITS.max_query_chars} characters", field="text")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput("seq must be a non-negative integer", field="seq")
    return {
        "text": text,
        "seq": seq,
        "k": bounded_int(query, "k", 5, 1, LIMITS.max_top_k),
        "temperature": bounded_float(query, "temperature", 0.8, 0.05, 2.0),
        "length": bounded_int(query, "length", 120, 0, LIMITS.max_continuation),
    }


def parse_inspect(query: Any) -> dict[str, Any]:
    """Validate an `inspect:query` payload (the surgery is checked against the model later)."""
    if not isinstance(query, dict):
        raise InvalidInput("inspect:query needs an object")
    text = query.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= LIMITS.max_inspect_chars:
        raise InvalidInput(f"text must be 1 to {LIMITS.max_inspect_chars} characters", field="text")
    return {"text": text, **inspect_fields(query, query.get("seq"))}


def bounded_int(data: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return value


def bounded_float(data: dict, name: str, default: float, lo: float, hi: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be a number from {lo:g} to {hi:g}", field=name)
    return float(value)
