"""Training a sequence model one step at a time and evaluating it, whatever the task.

One training step on a batch of B random windows of T steps:

  1. forward:   out = model(task.encode(x)), starting each window from the zero state h_0 = 0
  2. loss:      L = task.loss(out, y), e.g. for text the cross-entropy
                L = -(1 / BT) * sum_{b,t} log p(y_{b,t} | x_{b,1..t})   (nats)
  3. backward:  g = dL/dtheta by backpropagation through time over the T steps
  4. clip:      if ||g|| > tau, rescale g <- g * tau / ||g||  (stops exploding gradients)
  5. update:    theta <- optimizer(theta, g), e.g. SGD: theta <- theta - lr * g

With `carry_state` on (a recurrent cell on one long sequence), the windows are not
random: row b of each batch is the window that follows row b of the previous batch
(`SequenceDataset.stream_batch`), and step 1 starts from the state h_T the previous step
ended with instead of zero. The state is detached first, so the gradient still flows
back through T steps only (truncated BPTT), but the forward pass sees the whole text
before the window. The state starts from zero again at each new pass over the text and
whenever the settings change. Validation then runs over windows of `CARRY_VAL_T` steps,
so the loss it reports includes what the model gained from the longer context.

`dropout` (in the model) and `weight_decay` (in the optimizer, an L2 penalty added to
the gradient: g <- g + wd * theta) are the two ways offered against learning a small
text by heart.

Losses are reported in the task's unit, `task.metric(L)`: bits per character for text
(L / ln 2; a model that guesses uniformly among V characters scores log2(V) bits, a
perfect one 0), pixels for a ball, and so on.

`Trainer` knows nothing about web servers or sockets (like minGPT's Trainer), nor about
what the sequence is: the task (`backend.tasks`) brings the data, the encoding, the loss
and the samples and answers. The session layer calls `step`, `evaluate`, `sample` and
`answer` and reports results.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.utils import clip_grad_norm_, get_total_norm

from backend.config import TrainConfig
from backend.core.internals import GradientFlow, gradient_through_time
from backend.core.models import Model, SequenceModel, State, build_model

if TYPE_CHECKING:
    from backend.tasks.base import Task

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
LIVE_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["live"])
# Validation window of a model that carries its state: its training windows may be short
# (32 steps), but what it learnt reaches further back than that.
CARRY_VAL_T = 512


@dataclass(frozen=True)
class StepResult:
    """What one training step did, for the loss chart and the gradient meter."""

    step: int  # steps taken so far, this one included
    loss: float  # training loss on this batch, in the task's unit (bits per character, ...)
    items: int  # time steps in this batch (B * T): characters, words, frames
    grad_norm: float  # global gradient norm before clipping; inf/nan means the update was skipped
    clipped: bool  # whether clipping rescaled the gradient


def build_optimizer(cfg: TrainConfig, params: Any) -> torch.optim.Optimizer:
    """The update rule named by cfg.optimizer at cfg.learning_rate, with cfg.weight_decay."""
    return OPTIMIZERS[cfg.optimizer](params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def detach(state: State) -> State:
    """The same state cut off from the graph that made it (where truncated BPTT stops)."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.detach()
    return tuple(s.detach() for s in state)


class Trainer:
    """Owns one model, its optimizer and its batch random stream; trains it a step at a time."""

    def __init__(self, task: Task, cfg: TrainConfig, device: str | torch.device = "cpu") -> None:
        self.task = task
        self.dataset = task.dataset
        self.cfg = cfg
        self.device = torch.device(device)
        own = task.build_model(cfg)  # a task's own model (an encoder-decoder), or the generic one
        model = own if own is not None else build_model(cfg, task.input_size, task.output_size)
        self.model: Model = model.to(self.device)
        self.optimizer = build_optimizer(cfg, self.model.parameters())
        # Batches come from their own seeded stream: same seed, same batches, same losses.
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.step_count = 0
        self.items_seen = 0  # time steps trained on: characters, words, frames
        # Held while the weights change; a worker answering queries on another thread
        # holds it while it reads them (the worker swaps in a real lock).
        self.write_lock: Any = contextlib.nullcontext()
        # The gradient diagnostic draws its own windows, so it never shifts the training batches.
        self.diag_generator = torch.Generator().manual_seed(cfg.seed + 1)
        # Carried state (truncated BPTT): the lanes' state after the last window, the next
        # window's index in this pass over the lanes (None: no pass begun) and its offset.
        self._carry: State = None
        self._window: int | None = None
        self._offset = 0
        self._val = self._val_windows()

    def _val_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Validation windows, cut once per setting: they never change during a run."""
        T = max(self.cfg.seq_len, CARRY_VAL_T) if self.carries() else self.cfg.seq_len
        x_val, y_val = self.dataset.val_windows(T)
        return x_val.to(self.device), y_val.to(self.device)

    def carries(self) -> bool:
        """Whether training carries the hidden state across windows (see the module doc)."""
        return (
            self.cfg.carry_state
            and isinstance(self.model, SequenceModel)
            and hasattr(self.dataset, "stream_batch")
        )

    # ----------------------------------------------------------------- training

    def step(self) -> StepResult:
        """Train on one batch of windows and report loss and gradient norm."""
        cfg, model = self.cfg, self.model
        model.train()
        x, y = self._batch()
        x, y = x.to(self.device), y.to(self.device)  # (B, T, ...)
        # 1-2. Forward from the zero state, or from where the previous windows ended.
        out, state = model(self.task.encode(x), self._carry)  # (B, T, O)
        if self._window is not None:
            self._carry = detach(state)  # the next window starts here; BPTT stops here
        loss = self.task.loss(out, y)
        # 3. Backward; set_to_none frees the old gradients instead of zeroing them.
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # 4. Global gradient norm, clipped only when asked for.
        grad_norm = self._clip_grads()
        # One host sync for both numbers instead of one .item() each.
        loss_value, norm = torch.stack([loss.detach(), grad_norm]).tolist()
        # 5. Update, unless the gradient overflowed: an inf/nan step would ruin every weight.
        if math.isfinite(norm):
            with self.write_lock:  # readers on other threads never see half-updated weights
                self.optimizer.step()
        items = x.shape[0] * x.shape[1]  # B * T time steps
        self.step_count += 1
        self.items_seen += items
        clipped = cfg.clip and norm > cfg.clip_threshold
        return StepResult(self.step_count, self.task.metric(loss_value), items, norm, clipped)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows, or with a carried state the next window of every lane."""
        cfg = self.cfg
        if not self.carries():
            self._window = None
            return self.dataset.batch(cfg.batch_size, cfg.seq_len, self.generator)
        got = None
        if self._window is not None:
            got = self.dataset.stream_batch(cfg.batch_size, cfg.seq_len, self._window, self._offset)
        if got is None:  # a new pass over the text: fresh cuts, and the state starts at zero
            self.reset_carry()
            self._offset = int(torch.randint(0, cfg.seq_len, (1,), generator=self.generator))
            got = self.dataset.stream_batch(cfg.batch_size, cfg.seq_len, 0, self._offset)
            if got is None:  # too short a text for a window in every lane
                return self.dataset.batch(cfg.batch_size, cfg.seq_len, self.generator)
            self._window = 0
        self._window += 1
        return got

    def reset_carry(self) -> None:
        """Forget the carried state: the next step starts a new pass from the zero state."""
        self._carry, self._window = None, None

    def _clip_grads(self) -> torch.Tensor:
        """The global L2 norm of all gradients, after rescaling them if clipping is on."""
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.clip:
            return clip_grad_norm_(params, self.cfg.clip_threshold)
        return get_total_norm([p.grad for p in params])

    def gradient_flow(self, batch_size: int = 8) -> GradientFlow:
        """||dL/dh_t|| through the BPTT window on a few windows the task picks (a diagnostic
        pass): `Task.highway_windows`, ending where the far past matters if the task knows where.

        The hand-unrolled cells cost more than the fused step, so the caller runs this
        every few seconds, never every step; the model's .grad is left untouched.
        """
        x, y = self.task.highway_windows(batch_size, self.cfg.seq_len, self.diag_generator)
        x = self.task.encode(x.to(self.device))
        return gradient_through_time(self.model, x, y.to(self.device), loss=self.task.loss)

    @torch.no_grad()
    def evaluate(self) -> float:
        """Validation loss in the task's unit over the fixed validation windows."""
        self.model.eval()
        x, y = self._val  # (W, T, ...)
        out, _ = self.model(self.task.encode(x))  # (W, T, O)
        return self.task.metric(self.task.loss(out, y).item())

    @torch.no_grad()
    def score(self) -> float | None:
        """The task's own held-out score in [0, 1] (`Task.score`), or None if it has none."""
        if self.task.spec.score is None:
            return None
        self.model.eval()
        return self.task.score(self.model)

    def update_config(self, cfg: TrainConfig) -> None:
        """Apply the live settings of `cfg`, keeping the weights; others need a new Trainer."""
        if self.cfg.needs_rebuild(cfg):
            fixed = [
                name
                for name, value in cfg.to_dict().items()
                if name not in LIVE_FIELDS and value != getattr(self.cfg, name)
            ]
            raise ValueError(f"changing {', '.join(fixed)} needs a new model")
        if cfg.optimizer != self.cfg.optimizer:
            # A different update rule starts with fresh moments (Adam's m, v etc.).
            self.optimizer = build_optimizer(cfg, self.model.parameters())
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate
            group["weight_decay"] = cfg.weight_decay
        if isinstance(self.model, SequenceModel):
            self.model.set_dropout(cfg.dropout)
        carried_before = self.carries()
        self.cfg = cfg
        self.reset_carry()  # a state carried under other settings is not this run's
        if self.carries() != carried_before:
            self._val = self._val_windows()

    # ------------------------------------------------------- samples and queries

    def sample(
        self, length: int, temperature: float, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """The task's live sample of `length` steps from the current weights."""
        return self.task.sample(self.model, length, temperature, generator)

    def answer(self, op: str, query: dict[str, Any]) -> dict[str, Any]:
        """The task's answer to one parsed query, from the current weights."""
        return self.task.answer(self.model, op, query)

    # -------------------------------------------------------------- checkpoint

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of everything needed to resume this run exactly.

        Weights, optimizer moments, counters and the batch random stream; deep-copied,
        because the live tensors keep changing in place as training goes on.
        """
        return copy.deepcopy(
            {
                "cfg": self.cfg.to_dict(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "step_count": self.step_count,
                "items_seen": self.items_seen,
                "generator": self.generator.get_state(),
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict()` output of a Trainer with the same model settings."""
        self.update_config(TrainConfig(**state["cfg"]))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_count = state["step_count"]
        self.items_seen = state.get("items_seen", state.get("chars_seen", 0))
        self.generator.set_state(state["generator"])


def next_logits(model: Model, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """Outputs (B, O) after one step per row, x (B,) ids or (B, I) vectors, and the new state.

    For an LSTM the step is written out by hand: one fused nn.LSTM call per step
    costs about twice as much (measured: 317 vs 141 us for two rows, hidden 128 x 2),
    which is most of a prediction's time. Other cells are as fast through the module.
    """
    if model.kind != "lstm":
        logits, state = model(x[:, None], state)  # (B, 1, O)
        return logits[:, -1], state
    rnn, inp = model.rnn, None
    h_all, c_all = state if state is not None else (None, None)
    hs, cs = [], []
    for k in range(model.num_layers):
        W_ih, W_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")
        if k == 0 and not x.is_floating_point():
            # W_ih x_t for a one-hot x_t is a column of W_ih: gather instead of multiplying.
            gx = W_ih.index_select(1, x).T + b_ih
        else:
            gx = torch.addmm(b_ih, x.to(W_ih.dtype) if k == 0 else inp, W_ih.T)
        h = h_all[k] if h_all is not None else torch.zeros_like(gx[:, : W_hh.shape[1]])
        c = c_all[k] if c_all is not None else torch.zeros_like(h)
        i, f, g, o = (gx + torch.addmm(b_hh, h, W_hh.T)).chunk(4, dim=1)  # (B, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        inp = torch.sigmoid(o) * torch.tanh(c)  # h_t, the next layer's input
        hs.append(inp)
        cs.append(c)
    return model.head(inp), (torch.stack(hs), torch.stack(cs))
