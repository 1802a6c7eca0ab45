"""A price series as a model-friendly sequence: standardised log returns, split in time.

Prices wander over orders of magnitude (AMZN went from 6 to 135 dollars); what a
model can learn from is the change, the log return of each month,

    r_t = log(p_t / p_{t-1})          (about the change in %, divided by 100)

which is the same size whatever the price level. The returns are standardised,
z_t = (r_t - mean) / std, with the mean and standard deviation of the *training*
part only: the held-out months must not leak into what the model sees.

The split is in time, never at random: the model trains on the first 80% of the
months and is judged on the last 20%, which it has never seen, exactly as a
forecast is judged on a future that had not happened yet.
"""

from __future__ import annotations

import math

import torch

from backend.core.data import SequenceDataset
from backend.tasks.prices.series import Series

HOLDOUT_FRACTION = 0.2
MIN_HOLDOUT = 12  # a year of months, at least


class PriceDataset(SequenceDataset):
    """Standardised returns (N-1, 1): the training months, then the held-out ones."""

    def __init__(self, series: Series, holdout_fraction: float = HOLDOUT_FRACTION) -> None:
        prices = torch.tensor(series.prices, dtype=torch.float64)  # (N,)
        returns = torch.log(prices[1:] / prices[:-1])  # (N-1,): r_1 .. r_{N-1}
        n_val = max(MIN_HOLDOUT, round(len(returns) * holdout_fraction))
        if len(returns) - n_val < 2 * MIN_HOLDOUT:
            raise ValueError(f"{series.name} is too short to hold out {n_val} months")
        train = returns[:-n_val]
        # 1. Standardise with the training part's statistics only.
        self.mean, self.std = float(train.mean()), float(train.std())
        z = ((returns - self.mean) / self.std).float()[:, None]  # (N-1, 1)
        super().__init__(train=z[:-n_val], val=z[-n_val:])
        self.series = series
        self.prices = prices
        self.returns = returns
        self.z = z

    @property
    def holdout_start(self) -> int:
        """The index in `series.prices` of the first held-out month."""
        return len(self.train) + 1

    def to_returns(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised values back to log returns."""
        return z.double() * self.std + self.mean

    def return_scale_pct(self) -> float:
        """The standard deviation of a training month's return, in %: one unit of z."""
        return 100 * self.std

    def __repr__(self) -> str:
        name, months = self.series.name, len(self.prices)
        return f"PriceDataset({name}, months={months}, held out={len(self.val)})"


def rmse_pct(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """Root mean square of the relative error of predicted prices, in % of the true price."""
    return 100 * math.sqrt(float(((predicted / truth - 1) ** 2).mean()))
