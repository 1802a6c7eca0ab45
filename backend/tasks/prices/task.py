"""Next month's price: each step is a month's standardised log return, in and out.

The input at step t is one number, z_t, the month's return standardised with the
training statistics (see `data`); the head gives one number, the predicted z_{t+1},
and the loss is the mean squared error

    L = mean_t (z^_{t+1} - z_{t+1})^2,

shown as the RMSE of the predicted month's change in % (100 std sqrt(L)), which
is close to the relative error of the predicted price. Every evaluation reports
the persistence baseline, "next month's price equals this month's", on the same
held-out months (see `forecast`), and whether the model beats it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from backend.core.internals import MAX_STEPS
from backend.errors import InvalidInput
from backend.tasks.base import Task
from backend.tasks.prices import forecast
from backend.tasks.prices.data import PriceDataset
from backend.tasks.prices.series import load
from backend.tasks.prices.spec import MAX_ROLLOUT, SPEC

SAMPLE_PAST_END = 12  # months a live sample's roll-out goes past the last known month

CONTEXT_MONTHS = 24  # months before the held-out part that the chart shows


class PricesTask(Task):
    """One session's series: returns as one-number steps, MSE, forecasts beside persistence."""

    spec = SPEC
    input_size = 1
    output_size = 1

    def __init__(self, source: dict[str, Any], dataset: PriceDataset) -> None:
        self.source = source
        self.dataset = dataset

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> PricesTask:
        """Read the series; `seasonal` is generated with a fixed seed, the same in every session,
        so a class compares its models on the same months."""
        return cls(source, PriceDataset(load(source["series"])))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised returns (B, T, 1) are already the input vectors."""
        return x.float()

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean squared error between the predicted and the true next returns (B, T, 1)."""
        return ((out - y) ** 2).mean()

    def metric(self, loss: float) -> float:
        """Mean squared error in standard units -> RMSE of the month's change, in %."""
        return self.dataset.return_scale_pct() * math.sqrt(max(loss, 0.0))

    def sample(
        self, model: nn.Module, length: int, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """The chart's payload: the held-out forecast and a roll-out of `length` months.

        A forecast is the expected change, so temperature has nothing to sharpen here.
        """
        start = self.dataset.holdout_start - 1
        # Through the held-out months and a year past the data, not the sample's full length:
        # ten years imagined ahead would squash the months that can be checked into the axis.
        ahead = len(self.dataset.prices) - 1 - start + SAMPLE_PAST_END
        return self.forecast(model, start, min(length, ahead, MAX_ROLLOUT))

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """`predict`: the held-out forecast beside the baselines; `rollout`: months imagined;
        `inspect`: gates and states over the series' months."""
        if op == "predict":
            return {"seq": query["seq"], **self.forecast(model, self.dataset.holdout_start - 1, 0)}
        if op == "rollout":
            start = self.dataset.holdout_start - 1 if query["start"] is None else query["start"]
            if not 1 <= start < len(self.dataset.prices):
                raise InvalidInput(
                    f"start must be a month from 1 to {len(self.dataset.prices) - 1}",
                    field="start",
                )
            payload = forecast.rollout_payload(model, self.dataset, start, query["steps"])
            return {"seq": query["seq"], "rollout": payload}
        if op == "inspect":
            return self.trace_steps(model, query)
        raise ValueError(f"the prices task does not answer {op!r}")

    def inspect_steps(self) -> tuple[torch.Tensor, list[str]]:
        """Look inside reads the series' last MAX_STEPS months: each step's input is the
        month's standardised return z_t (1,), labelled by the month it ends ("2004-03")."""
        z = self.dataset.z[-MAX_STEPS:]  # (T, 1); z_t is the return into month t + 1
        dates = self.dataset.series.dates[len(self.dataset.z) - len(z) + 1 :]
        return self.encode(z), list(dates)

    def forecast(self, model: nn.Module, start: int, steps: int) -> dict[str, Any]:
        """Truth, the model's one-step prices, persistence and a roll-out, from the context on."""
        ds = self.dataset
        first = max(2, ds.holdout_start - CONTEXT_MONTHS)  # one_step's entry j is month j + 2
        predicted = forecast.one_step(model, ds)
        errors = forecast.held_out_errors(model, ds)
        return {
            "first": first,  # month index of the first point drawn
            "holdout_start": ds.holdout_start,
            "dates": list(ds.series.dates[first:]),
            "truth": ds.prices[first:].tolist(),
            "prediction": predicted[first - 2 :].tolist(),
            "persistence": ds.prices[first - 1 : -1].tolist(),
            "errors": errors,
            "verdict": forecast.verdict(errors),  # against persistence: beats, ties or loses
            "rollout": forecast.rollout_payload(model, ds, start, steps) if steps else None,
        }

    def describe(self) -> dict[str, Any]:
        """The whole series, its split and what the baselines score on the held-out months."""
        ds = self.dataset
        truth = ds.prices[ds.holdout_start :]
        start = ds.holdout_start - 2
        baselines = {
            name: forecast.rmse_pct(predicted[start:], truth)
            for name, predicted in forecast.baselines(ds).items()
        }
        return {
            "series": ds.series.name,
            "real": ds.series.real,
            "dates": list(ds.series.dates),
            "prices": ds.prices.tolist(),
            "holdout_start": ds.holdout_start,
            "train_months": len(ds.train),
            "holdout_months": len(ds.val),
            "return_mean_pct": 100 * ds.mean,
            "return_std_pct": 100 * ds.std,
            "baselines": baselines,
        }

    def state(self) -> dict[str, Any]:
        """Nothing beyond the source: the series and its statistics are rebuilt exactly."""
        return {}


TASK = PricesTask
