"""The price task as the web process sees it: which series, and the two queries it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.tasks.base import TaskSpec
from backend.tasks.prices.series import SERIES
from backend.tasks.text.queries import bounded_int

MAX_ROLLOUT = 120  # months imagined ahead in one roll-out: ten years


@dataclass(frozen=True)
class PricesSpec(TaskSpec):
    """A prices source is {"series": name}: a stock symbol or "seasonal"."""

    def parse_source(self, source: Any) -> dict[str, Any]:
        """The source with a known series name."""
        source = super().parse_source(source)
        if source["series"] not in SERIES:
            raise InvalidInput(f"series must be one of {', '.join(SERIES)}", field="series")
        return source

    def parse_query(self, op: str, query: Any) -> dict[str, Any]:
        """`predict`: the held-out forecast; `rollout`: `steps` months imagined from month `start`;
        `inspect`: Look inside the series (`TaskSpec.parse_steps_inspect`).

        `start` is an index into the series' months (None: the last training month),
        checked against the series' length by the task.
        """
        query = super().parse_query(op, query)
        if op == "inspect":  # Look inside the series, month by month
            return self.parse_steps_inspect(query)
        seq = query.get("seq", 0)
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidInput("seq must be a non-negative integer", field="seq")
        if op == "predict":
            return {"seq": seq}
        start = query.get("start")
        if start is not None and (isinstance(start, bool) or not isinstance(start, int)):
            raise InvalidInput("start must be a whole number", field="start")
        steps = bounded_int(query, "steps", 24, 1, MAX_ROLLOUT)
        return {"seq": seq, "start": start, "steps": steps}

    def sizes(self, source: dict[str, Any]) -> tuple[int, int]:
        """One standardised return in, the next one out."""
        return 1, 1


SPEC = PricesSpec(
    name="prices",
    title="Prices",
    summary="Read a price series month by month and predict next month, against persistence.",
    unit="% error",
    item="month",
    views=("prices", "inspect"),
    queries=("predict", "rollout", "inspect"),
    inspects="steps",  # Look inside reads the series' months, labelled "2004-03"
    default_source={"series": "AAPL"},
)
