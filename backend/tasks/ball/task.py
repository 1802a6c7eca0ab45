"""The ball task: watch a thrown ball frame by frame and predict where it is next.

Each time step t of a sequence is one frame of a throw filmed at 15 frames a second
(see `physics`). The dataset holds positions p_t in the unit box; `encode` turns
them into what the model sees, either the S x S frame, flattened (the course's
"image of a ball"), or the coordinates themselves, centred: 2 p_t - 1.

The model does not predict p_{t+1} itself but the step the ball makes next, in
pixels of the frame, a quantity of the order of a few pixels whatever the position:

  y_t = S (p_{t+1} - p_t)                          (2,)   the target at step t
  L   = 1 / (2BT) sum_{b,t} ||yhat_{b,t} - y_{b,t}||^2    mean squared error, px^2 per axis
  px  = sqrt(2 L)                                         root mean squared distance, pixels

so the next position the page draws is p_t + yhat_t / S, and the error shown in
pixels is the distance between where the ball went and where the model said.

Two baselines without learning, measured on the same held-out throws as the model:

  stay                yhat_t = 0                   "the ball stays where it is"
  constant velocity   yhat_t = y_{t-1} (0 at t=0)  "it keeps the step it just made"

Constant velocity is exact in free flight but for gravity, g dt^2 S ~ 1 px a step,
and wrong at every bounce. Beating it means the model has learnt gravity and the
walls from watching frames. One frame alone shows where the ball is, never where it
goes: velocity needs at least two frames, which is what the recurrent state keeps.

A roll-out feeds the model its own predictions: the predicted position, drawn as a
frame when the model sees images, becomes the next input. Errors then compound,
and the imagined trajectory shows what the model believes the physics is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from backend.tasks.ball import physics
from backend.tasks.ball.physics import DT, FRAME, RADIUS, World
from backend.tasks.ball.spec import SPEC
from backend.tasks.base import Task

VAL_THROWS = 64  # held-out throws, the same for every run of a seed
DEFAULT_SEQ_LEN = 64  # the window length the baselines are given for until a trainer asks
SAMPLE_THROWS = 16  # held-out throws the live sample picks from
SAMPLE_STEPS = 45  # a live sample, in steps: 3 s, played in full between two samples
AHEAD = 15  # steps (1 s) imagined ahead from every step of a sample or a throw

# Recurrent state between calls: h (L, B, H), (h, c) for an LSTM, or None for zeros.
State = torch.Tensor | tuple[torch.Tensor, ...] | None


def split(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (B, T+1, 2) -> inputs x = p_1..p_T (B, T, 2), targets y = S (p_{t+1} - p_t)."""
    return positions[:, :-1], (positions[:, 1:] - positions[:, :-1]) * FRAME


def baselines_px(positions: np.ndarray) -> dict[str, float]:
    """Errors in pixels of "stay" and "constant velocity" on trajectories (W, L, 2)."""
    steps = np.diff(np.asarray(positions, dtype=np.float64), axis=1) * FRAME  # (W, L-1, 2)
    previous = np.concatenate([np.zeros_like(steps[:, :1]), steps[:, :-1]], axis=1)

    def rmse(err: np.ndarray) -> float:
        return float(np.sqrt((err**2).sum(-1).mean()))

    return {"stay": rmse(steps), "constant_velocity": rmse(steps - previous)}


class BallDataset:
    """Throws generated on the fly for training, and a fixed set of held-out throws.

    Same API as `SequenceDataset`. Every window is a throw followed for T steps from
    the moment it leaves the hand, as on the page: `batch` gives B fresh throws, and
    `val_windows` the same VAL_THROWS held-out throws every time, so training and
    validation losses measure the same thing, and runs of one seed the same throws.
    """

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        # A stream of its own ([seed, 1]) keeps the held-out throws out of training's way.
        rng = np.random.default_rng([seed, 1])
        self.val_throws = physics.throws(VAL_THROWS, rng)  # p0, v0: (W, 2) each
        p0, v0 = physics.throws(SAMPLE_THROWS, rng)
        self.sample_throws = list(zip(p0.tolist(), v0.tolist(), strict=True))
        self.seq_len = DEFAULT_SEQ_LEN  # the T of the latest validation windows
        self._held_out: dict[int, np.ndarray] = {}

    def held_out(self, seq_len: int) -> np.ndarray:
        """The held-out throws followed for seq_len + 1 steps: positions (W, T+1, 2)."""
        if seq_len not in self._held_out:
            p0, v0 = self.val_throws
            path = physics.simulate(p0, v0, seq_len + 1, self.world).astype(np.float32)
            self._held_out[seq_len] = path
        return self._held_out[seq_len]

    def batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` fresh throws: positions x (B, T, 2) and next steps y (B, T, 2) in px."""
        # One draw from the trainer's generator seeds NumPy: same generator, same throws.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = np.random.default_rng([seed, 0])
        path = physics.trajectories(batch_size, seq_len + 1, self.world, rng)
        return split(torch.from_numpy(path))

    def val_windows(
        self, seq_len: int, max_items: int = VAL_THROWS * DEFAULT_SEQ_LEN
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The held-out throws, each followed for `seq_len` steps: x, y (W, T, 2)."""
        self.seq_len = seq_len
        throws = max(1, min(VAL_THROWS, max_items // seq_len))
        return split(torch.from_numpy(self.held_out(seq_len)[:throws]))

    def baselines(self, seq_len: int | None = None) -> dict[str, float]:
        """ "Stay" and "constant velocity" in pixels on the validation windows of seq_len."""
        return baselines_px(self.held_out(seq_len or self.seq_len))

    def __len__(self) -> int:
        return VAL_THROWS * (self.seq_len + 1)


class BallTask(Task):
    """A ball in a box filmed frame by frame; the model predicts its next step."""

    spec = SPEC
    output_size = 2  # (dx, dy) in pixels

    def __init__(self, source: dict[str, Any], seed: int) -> None:
        self.source = dict(source)
        self.seed = seed
        self.world = World(
            gravity=source["gravity"],
            restitution=source["restitution"],
            friction=source["friction"],
        )
        self.images = source["input"] == "image"
        self.input_size = FRAME * FRAME if self.images else 2
        self.dataset = BallDataset(self.world, seed)

    @classmethod
    def build(cls, source: dict[str, Any], seed: int) -> BallTask:
        return cls(source, seed)

    @property
    def baselines(self) -> dict[str, float]:
        """The baselines on the validation windows the trainer measures the model on."""
        return self.dataset.baselines()

    # ------------------------------------------------------------ training side

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Positions (B, T, 2) -> frames flattened (B, T, S*S), or centred coordinates (B, T, 2)."""
        if not self.images:
            return 2 * x.float() - 1
        x = x.float()
        centres = torch.arange(FRAME, device=x.device, dtype=x.dtype) + 0.5  # (S,)
        dx = centres - x[..., 0, None, None] * FRAME  # (B, T, 1, S)
        dy = centres[:, None] - (1 - x[..., 1, None, None]) * FRAME  # (B, T, S, 1)
        frames = physics.disc_coverage(dx, dy, RADIUS * FRAME)  # (B, T, S, S)
        return frames.flatten(-2)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the predicted steps, px^2 per axis."""
        return F.mse_loss(out, y.to(out.dtype))

    def metric(self, loss: float) -> float:
        """Root mean squared distance between predicted and true next position, in pixels."""
        return float(np.sqrt(2 * max(loss, 0.0)))

    # ------------------------------------------------------------- the page side

    def sample(
        self, model: nn.Module, length: int, temperature: float, generator: torch.Generator
    ) -> dict[str, Any]:
        """One held-out throw, with the model's next-step guesses and its imagined paths.

        Predictions are deterministic, so `temperature` plays no part.
        """
        i = int(torch.randint(0, SAMPLE_THROWS, (1,), generator=generator))
        p0, v0 = self.dataset.sample_throws[i]
        steps = max(2, min(length, SAMPLE_STEPS))
        return {"throw": i, **self.follow(model, p0, v0, steps)}

    def answer(self, model: nn.Module, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """`predict`: the next step after each observed one; `rollout`: imagined steps after
        the last; `throw`: a ball thrown in this box, followed as a live sample is; `inspect`:
        gates and states over a held-out throw."""
        if op == "throw":
            return self.follow(model, query["position"], query["velocity"], query["steps"])
        if op == "inspect":
            return self.trace_steps(model, query)
        observed = torch.tensor(query["positions"]).clamp(RADIUS, 1 - RADIUS)  # (T, 2)
        predicted = self.next_positions(model, observed)
        out: dict[str, Any] = {"predicted": _rounded(predicted), "next": _rounded(predicted[-1])}
        if op == "rollout":
            out["ahead"] = _rounded(self.imagine(model, observed[None], query["steps"])[0])
        return out

    def inspect_steps(self) -> tuple[torch.Tensor, list[str]]:
        """Look inside follows the first held-out throw of the live samples for SAMPLE_STEPS
        frames, each labelled by its index: the frames (or coordinates) the model reads."""
        p0, v0 = self.dataset.sample_throws[0]
        path = physics.simulate(np.array([p0]), np.array([v0]), SAMPLE_STEPS, self.world)[0]
        x = self.encode(torch.from_numpy(path.astype(np.float32)))  # (T, S*S) or (T, 2)
        return x, [str(t) for t in range(len(x))]

    def follow(
        self, model: nn.Module, p0: list[float], v0: list[float], steps: int
    ) -> dict[str, Any]:
        """A throw from p0 at v0 for `steps` steps: truth, next-step guesses, imagined paths."""
        truth = physics.simulate(np.array([p0]), np.array([v0]), steps, self.world)[0]
        observed = torch.from_numpy(truth.astype(np.float32))  # (n, 2)
        predicted = self.next_positions(model, observed)  # (n, 2): guess of p_{t+1}
        ahead = self.ahead_from_every_step(model, observed, AHEAD)  # (n, AHEAD, 2)
        err = (predicted[:-1] - observed[1:]).pow(2).sum(-1).mean().sqrt().item() * FRAME
        return {
            "truth": _rounded(observed),
            "predicted": _rounded(predicted),
            "ahead": _rounded(ahead),
            "error_px": round(err, 3),
            "baselines": baselines_px(truth[None]),
            "dt": DT,
        }

    @torch.no_grad()
    def next_positions(self, model: nn.Module, observed: torch.Tensor) -> torch.Tensor:
        """The model's guess of p_{t+1} after reading p_1..p_t, for every t: (T, 2)."""
        out, _ = self._forward(model, observed[None], None)  # (1, T, 2)
        return self._advance(observed, out[0])

    @torch.no_grad()
    def imagine(self, model: nn.Module, observed: torch.Tensor, steps: int) -> torch.Tensor:
        """`steps` positions after the observed ones (B, T, 2), each fed back in: (B, steps, 2)."""
        out, state = self._forward(model, observed, None)
        return self._roll(model, observed[:, -1], out[:, -1], state, steps)

    @torch.no_grad()
    def ahead_from_every_step(
        self, model: nn.Module, observed: torch.Tensor, steps: int
    ) -> torch.Tensor:
        """From every step t of one throw (T, 2), what the model imagines next: (T, steps, 2)."""
        # 1. Read the throw one step at a time, keeping the state after each step.
        outs, states, state = [], [], None
        for t in range(len(observed)):
            out, state = self._forward(model, observed[None, t : t + 1], state)
            outs.append(out[:, -1])
            states.append(state)
        # 2. Roll all T futures out at once: step t's state is row t of one batch.
        return self._roll(model, observed, torch.cat(outs), _stack_states(states), steps)

    def _roll(
        self, model: nn.Module, p: torch.Tensor, out: torch.Tensor, state: State, steps: int
    ) -> torch.Tensor:
        """Feed predictions back: from positions p (B, 2) and last outputs (B, 2), `steps` more."""
        path = []
        for _ in range(steps):
            p = self._advance(p, out)
            path.append(p)
            out, state = self._forward(model, p[:, None], state)
            out = out[:, -1]
        return torch.stack(path, dim=1)  # (B, steps, 2)

    def _forward(
        self, model: nn.Module, positions: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State]:
        """The model on positions (B, T, 2), from `state`: outputs (B, T, 2) on the CPU, state."""
        device = next(model.parameters()).device
        out, state = model(self.encode(positions.to(device)), state)
        return out.float().cpu(), state

    @staticmethod
    def _advance(p: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The next position p + yhat / S, kept inside the box the ball cannot leave."""
        return (p + out / FRAME).clamp(RADIUS, 1 - RADIUS)

    def describe(self) -> dict[str, Any]:
        """What the ball view needs to draw, and the baselines the model should beat."""
        return {
            "frame": FRAME,
            "dt": DT,
            "radius": RADIUS,
            "box": [0.0, 1.0],
            "input": self.source["input"],
            "world": {k: self.source[k] for k in ("gravity", "restitution", "friction")},
            "baselines": self.baselines,
            "val_throws": VAL_THROWS,
            "val_steps": self.dataset.seq_len,
            "ahead": AHEAD,
        }

    def state(self) -> dict[str, Any]:
        """The camera and clock, enough with the source and seed to rebuild the same data."""
        return {"frame": FRAME, "dt": DT, "radius": RADIUS}


def _stack_states(states: list[State]) -> State:
    """Per-step states of one sequence (batch 1 each) as one batch: batch is dim 1, as for h."""
    first = states[0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states, strict=True))
    return torch.cat(states, dim=1)


def _rounded(t: torch.Tensor) -> list:
    """A tensor as nested lists of floats with 4 decimals (a tenth of a pixel is 0.004)."""
    return np.round(t.double().numpy(), 4).tolist()


TASK = BallTask
