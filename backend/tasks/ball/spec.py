"""The ball task as the web process sees it: the box's physics, and thrown balls to predict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.tasks.ball.physics import FRAME
from backend.tasks.base import TaskSpec

INPUTS = ("image", "coords")  # what the model sees of each step: the frame, or (x, y)
# Each physical constant of the box: its allowed range, as the page's sliders show it.
RANGES: dict[str, tuple[float, float]] = {
    "gravity": (0.0, 30.0),  # box heights per second squared
    "restitution": (0.0, 1.0),  # fraction of the speed a bounce keeps
    "friction": (0.0, 1.0),  # Coulomb coefficient on the floor
}
MAX_OBSERVED = 120  # positions a query may give (8 seconds at 15 frames a second)
MAX_AHEAD = 90  # steps a roll-out may imagine
MAX_SPEED = 10.0  # box widths per second: faster throws cross the box in under two frames
DEFAULT_AHEAD = 30  # steps a roll-out imagines when the query does not say
THROW_STEPS = 45  # steps a thrown ball is followed when the query does not say (3 s)


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    """`value` as a float in [lo, hi], or InvalidInput naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number", field=name)
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo:g} and {hi:g} (got {value:g})", field=name)
    return float(value)


def _point(value: Any, name: str, lo: float = 0.0, hi: float = 1.0) -> list[float]:
    """`value` as a pair [a, b] of numbers in [lo, hi] (a position in the box by default)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidInput(f"{name} must be a pair [x, y]", field=name)
    return [_number(v, name, lo, hi) for v in value]


def _steps(query: dict, default: int) -> int:
    """The number of steps to imagine ahead, 1..MAX_AHEAD."""
    steps = query.get("steps", default)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_AHEAD:
        raise InvalidInput(f"steps must be a whole number from 1 to {MAX_AHEAD}", field="steps")
    return steps


@dataclass(frozen=True)
class BallSpec(TaskSpec):
    """A source is the box's physics and what the model sees; queries are throws to predict."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The source with every field checked: `input` one of INPUTS, each constant in range."""
        source = super().parse_source(source)  # a JSON object of known keys, defaults filled in
        if source["input"] not in INPUTS:
            raise InvalidInput(f"input must be one of {', '.join(INPUTS)}", field="input")
        for name, (lo, hi) in RANGES.items():
            source[name] = _number(source[name], name, lo, hi)
        return source

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """`predict` and `rollout` read observed positions; `throw` reads a start and a velocity.

        predict  {"positions": [[x, y], ...]}                 1..MAX_OBSERVED points in [0, 1]^2
        rollout  {"positions": [...], "steps": n}             n steps imagined after the last one
        throw    {"position": [x, y], "velocity": [vx, vy], "steps": n}   a ball thrown in the box
        inspect  {"position"?, "saliency"?, "surgery"?}        Look inside a held-out throw
        """
        query = super().parse_query(op, query)  # a JSON object, for an op this task answers
        if op == "inspect":  # Look inside a held-out throw, frame by frame
            return self.parse_steps_inspect(query)
        # The client's sequence number travels on untouched: the session layer checks it.
        parsed = {"seq": query["seq"]} if "seq" in query else {}
        if op == "throw":
            return {
                **parsed,
                "position": _point(query.get("position"), "position"),
                "velocity": _point(query.get("velocity"), "velocity", -MAX_SPEED, MAX_SPEED),
                "steps": _steps(query, THROW_STEPS),
            }
        positions = query.get("positions")
        if not isinstance(positions, list) or not 1 <= len(positions) <= MAX_OBSERVED:
            raise InvalidInput(
                f"positions must be a list of 1 to {MAX_OBSERVED} points [x, y]", field="positions"
            )
        parsed["positions"] = [_point(p, "positions") for p in positions]
        if op == "rollout":
            parsed["steps"] = _steps(query, DEFAULT_AHEAD)
        return parsed

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON plus each source field's choices or range, for the start form."""
        fields: dict[str, Any] = {"input": {"choices": list(INPUTS)}}
        fields.update({name: {"min": lo, "max": hi} for name, (lo, hi) in RANGES.items()})
        return {**super().to_dict(), "source_fields": fields}

    def sizes(self, source: dict[str, Any]) -> tuple[int, int]:
        """A flattened S x S frame (or x, y) in; the next step (dx, dy) out."""
        return (FRAME * FRAME if source["input"] == "image" else 2), 2


SPEC = BallSpec(
    name="ball",
    title="Bouncing ball",
    summary="Watch a thrown ball frame by frame and guess where it will be in the next frame.",
    unit="px",
    item="frame",
    views=("ball", "inspect"),
    queries=("predict", "rollout", "throw", "inspect"),
    inspects="steps",  # Look inside follows a held-out throw, labelled by frame
    default_source={"input": "image", "gravity": 9.8, "restitution": 0.8, "friction": 0.2},
)
