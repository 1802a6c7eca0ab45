"""Judging a price model on the held-out months, always beside the baselines it must beat.

One-step forecast: the model reads every month's return up to month t (from the
very start of the series, so its state holds the whole past) and predicts r_{t+1};
the predicted price is p_t exp(r_{t+1}). The error of a month is the relative error
of that price, and a forecast is summed up as its root mean square in %:

    RMSE% = 100 sqrt(mean_t (p^_t / p_t - 1)^2)

Baselines, measured on exactly the same held-out months:

    persistence   p^_{t+1} = p_t                 "next month equals this month" (zero return)
    same change   r^_{t+1} = r_t                 "the trend goes on"
    mean change   r^_{t+1} = mean training return

For a stock, persistence is famously hard to beat: if past prices told where a
price goes next, traders would already have moved it there. A model that does not
beat it has learnt nothing usable, however low its training loss.

Roll-out: from month s the model's own predictions are fed back as if they were
the real returns, to imagine the months ahead; persistence's roll-out is a flat line.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from backend.tasks.prices.data import PriceDataset, rmse_pct

BASELINES = ("persistence", "same_change", "mean_change")
# A model must be this much better (or worse) than persistence to be called so: on two
# years of held-out months, a few % of difference is within what chance gives.
MARGIN = 0.05


@torch.no_grad()
def one_step(model: nn.Module, ds: PriceDataset) -> torch.Tensor:
    """The model's predicted price for every month after the first two (N-2,), from the start.

    Entry j is the prediction of `ds.prices[j + 2]` made after reading returns
    r_1 .. r_{j+1}, each from the true past.
    """
    z = ds.z.to(device_of(model))
    out, _ = model(z[None, :-1], None)  # (1, N-2, 1): z^_{t+1} after each z_t
    r_hat = ds.to_returns(out[0, :, 0].cpu())  # (N-2,)
    return ds.prices[1:-1] * torch.exp(r_hat)


def baselines(ds: PriceDataset) -> dict[str, torch.Tensor]:
    """Each baseline's predicted price for every month after the first two (N-2,)."""
    p_prev = ds.prices[1:-1]  # p_t, predicting p_{t+1}
    return {
        "persistence": p_prev.clone(),
        "same_change": p_prev * torch.exp(ds.returns[:-1]),
        "mean_change": p_prev * torch.exp(torch.full_like(p_prev, ds.mean)),
    }


def held_out_errors(model: nn.Module, ds: PriceDataset) -> dict[str, float]:
    """RMSE% of the model and of every baseline over the held-out months only."""
    start = ds.holdout_start - 2  # entry j predicts ds.prices[j + 2]
    truth = ds.prices[ds.holdout_start :]
    errors = {"model": rmse_pct(one_step(model, ds)[start:], truth)}
    for name, predicted in baselines(ds).items():
        errors[name] = rmse_pct(predicted[start:], truth)
    return errors


def device_of(model: nn.Module) -> torch.device:
    """Where the model's weights are (a worker may keep it on a GPU); the CPU if it has none."""
    weight = next(model.parameters(), None)
    return torch.device("cpu") if weight is None else weight.device


def verdict(errors: dict[str, float]) -> str:
    """ "beats", "ties" or "loses": the model against persistence, with a 5% margin either way."""
    ratio = errors["model"] / errors["persistence"]
    if ratio < 1 - MARGIN:
        return "beats"
    return "loses" if ratio > 1 + MARGIN else "ties"


@torch.no_grad()
def rollout(model: nn.Module, ds: PriceDataset, start: int, steps: int) -> torch.Tensor:
    """Prices the model imagines for months start+1 .. start+steps, knowing prices up to `start`.

    The model reads the true returns up to month `start`, then each predicted
    return is fed back as the next input.
    """
    if not 1 <= start < len(ds.prices):
        raise ValueError(f"start must be a month from 1 to {len(ds.prices) - 1}")
    z = ds.z.to(device_of(model))
    out, state = model(z[None, :start], None)  # returns r_1 .. r_start
    z_next = out[:, -1:]  # (1, 1, 1)
    predicted = []
    for _ in range(steps):
        predicted.append(z_next[0, 0, 0])
        out, state = model(z_next, state)
        z_next = out[:, -1:]
    r_hat = ds.to_returns(torch.stack(predicted).cpu())  # (steps,)
    return ds.prices[start] * torch.exp(torch.cumsum(r_hat, dim=0))


def rollout_payload(model: nn.Module, ds: PriceDataset, start: int, steps: int) -> dict[str, Any]:
    """A roll-out and its error against the truth where it is known, beside persistence's."""
    path = rollout(model, ds, start, steps)
    known = min(steps, len(ds.prices) - 1 - start)
    truth = ds.prices[start + 1 : start + 1 + known]
    flat = ds.prices[start].expand(known)
    return {
        "start": start,
        "prices": path.tolist(),
        "model_pct": rmse_pct(path[:known], truth) if known else None,
        "persistence_pct": rmse_pct(flat, truth) if known else None,
    }
