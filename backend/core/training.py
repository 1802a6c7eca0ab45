"""Training a character model one step at a time, evaluating it, and asking it for text.

One training step on a batch of B random windows of T characters:

  1. forward:   logits = model(x), starting each window from the zero state h_0 = 0
  2. loss:      L = -(1 / BT) * sum_{b,t} log p(y_{b,t} | x_{b,1..t})   (cross-entropy, nats)
  3. backward:  g = dL/dtheta by backpropagation through time over the T steps
  4. clip:      if ||g|| > tau, rescale g <- g * tau / ||g||  (stops exploding gradients)
  5. update:    theta <- optimizer(theta, g), e.g. SGD: theta <- theta - lr * g

Losses are reported in bits per character, L / ln 2: a model that guesses uniformly
among V characters scores log2(V) bits, a perfect one 0.

Generation feeds the model its own output: from the state after a prompt,
p = softmax(y_t / temperature), draw (or take the argmax of) the next character,
feed it back in, repeat. Temperature below 1 sharpens p, above 1 flattens it.

`Trainer` knows nothing about web servers or sockets (like minGPT's Trainer): the
session layer calls `step`, `evaluate`, `sample` and `predict` and reports results.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.utils import clip_grad_norm_, get_total_norm

from backend.config import TrainConfig
from backend.core.data import TextDataset
from backend.core.internals import GradientFlow, gradient_through_time
from backend.core.models import CharRNN, State, build_model

LN2 = math.log(2.0)
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
LIVE_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["live"])


@dataclass(frozen=True)
class StepResult:
    """What one training step did, for the loss chart and the gradient meter."""

    step: int  # steps taken so far, this one included
    loss_bits: float  # training loss on this batch, bits per character
    chars: int  # characters in this batch (B * T)
    grad_norm: float  # global gradient norm before clipping; inf/nan means the update was skipped
    clipped: bool  # whether clipping rescaled the gradient


def build_optimizer(cfg: TrainConfig, params: Any) -> torch.optim.Optimizer:
    """The update rule named by cfg.optimizer at cfg.learning_rate."""
    return OPTIMIZERS[cfg.optimizer](params, lr=cfg.learning_rate)


def _repeat_state(state: State, rows: int) -> State:
    """A batch-of-one recurrent state copied into `rows` rows: (L, 1, H) -> (L, rows, H)."""
    if state is None or rows == 1:
        return state
    if isinstance(state, tuple):
        return tuple(s.expand(-1, rows, -1).contiguous() for s in state)
    return state.expand(-1, rows, -1).contiguous()


class Trainer:
    """Owns one model, its optimizer and its batch random stream; trains it a step at a time."""

    def __init__(
        self, dataset: TextDataset, cfg: TrainConfig, device: str | torch.device = "cpu"
    ) -> None:
        self.dataset = dataset
        self.cfg = cfg
        self.device = torch.device(device)
        self.model: CharRNN = build_model(cfg, dataset.vocab.size).to(self.device)
        self.optimizer = build_optimizer(cfg, self.model.parameters())
        # Batches come from their own seeded stream: same seed, same batches, same losses.
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.step_count = 0
        self.chars_seen = 0
        # Held while the weights change; a worker answering queries on another thread
        # holds it while it reads them (the worker swaps in a real lock).
        self.write_lock: Any = contextlib.nullcontext()
        # The gradient diagnostic draws its own windows, so it never shifts the training batches.
        self.diag_generator = torch.Generator().manual_seed(cfg.seed + 1)
        # Validation windows never change for a run, so cut them once.
        x_val, y_val = dataset.val_windows(cfg.seq_len)
        self._val = (x_val.to(self.device), y_val.to(self.device))

    # ----------------------------------------------------------------- training

    def step(self) -> StepResult:
        """Train on one batch of random windows and report loss and gradient norm."""
        cfg, model = self.cfg, self.model
        model.train()
        x, y = self.dataset.batch(cfg.batch_size, cfg.seq_len, self.generator)
        x, y = x.to(self.device), y.to(self.device)  # (B, T)
        # 1-2. Forward from the zero state (windows are random, so no state carries over).
        logits, _ = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # mean nats per char
        # 3. Backward; set_to_none frees the old gradients instead of zeroing them.
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # 4. Global gradient norm, clipped only when asked for.
        grad_norm = self._clip_grads()
        # One host sync for both numbers instead of one .item() each.
        loss_nats, norm = torch.stack([loss.detach(), grad_norm]).tolist()
        # 5. Update, unless the gradient overflowed: an inf/nan step would ruin every weight.
        if math.isfinite(norm):
            with self.write_lock:  # readers on other threads never see half-updated weights
                self.optimizer.step()
        self.step_count += 1
        self.chars_seen += x.numel()
        clipped = cfg.clip and norm > cfg.clip_threshold
        return StepResult(self.step_count, loss_nats / LN2, x.numel(), norm, clipped)

    def _clip_grads(self) -> torch.Tensor:
        """The global L2 norm of all gradients, after rescaling them if clipping is on."""
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.clip:
            return clip_grad_norm_(params, self.cfg.clip_threshold)
        return get_total_norm([p.grad for p in params])

    def gradient_flow(self, batch_size: int = 8) -> GradientFlow:
        """||dL/dh_t|| through the BPTT window on a few fresh windows (a diagnostic pass).

        The hand-unrolled cells cost more than the fused step, so the caller runs this
        every few seconds, never every step; the model's .grad is left untouched.
        """
        x, y = self.dataset.batch(batch_size, self.cfg.seq_len, self.diag_generator)
        return gradient_through_time(self.model, x.to(self.device), y.to(self.device))

    @torch.no_grad()
    def evaluate(self) -> float:
        """Validation loss in bits per character over the fixed validation windows."""
        self.model.eval()
        x, y = self._val  # (W, T)
        logits, _ = self.model(x)  # (W, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        return loss.item() / LN2

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
        self.cfg = cfg

    # --------------------------------------------------------------- generation

    def sample(
        self,
        length: int,
        temperature: float,
        prompt: str = "",
        generator: torch.Generator | None = None,
    ) -> str:
        """`prompt` followed by `length` sampled characters.

        Without a prompt the model is started from a newline (or a space, or the
        first vocabulary character), which is not part of the returned text.
        """
        ids = self._known_ids(prompt) or [self.start_id()]
        with torch.inference_mode():
            self.model.eval()
            logits, state = self._read(ids)
            (out,) = self._generate(logits, state, length, [temperature], generator)
        return prompt + self.dataset.vocab.decode(out)

    def predict(
        self,
        text: str,
        k: int = 5,
        temperature: float = 0.8,
        length: int = 120,
        generator: torch.Generator | None = None,
    ) -> dict[str, Any]:
        """The k likeliest next characters after `text`, plus greedy and sampled continuations.

        Characters of `text` outside the vocabulary are skipped and listed in `unknown`.
        """
        vocab = self.dataset.vocab
        with torch.inference_mode():
            self.model.eval()
            logits, state = self._read(self._known_ids(text))
            p = F.softmax(logits.float(), dim=-1)  # (V,) at temperature 1
            top_p, top_i = p.topk(min(k, vocab.size))
            # Both continuations in one batch of two rows: half the forward calls.
            greedy, sampled = self._generate(logits, state, length, [None, temperature], generator)
        return {
            "top": [
                {"char": vocab.chars[i], "p": q}
                for q, i in zip(top_p.tolist(), top_i.tolist(), strict=True)
            ],
            "greedy": vocab.decode(greedy),
            "sample": vocab.decode(sampled),
            "unknown": sorted({ch for ch in text if vocab.index(ch) is None}),
        }

    def _known_ids(self, text: str) -> list[int]:
        """Ids of the characters of `text` that are in the vocabulary, in order."""
        stoi = self.dataset.vocab.stoi
        return [stoi[ch] for ch in text if ch in stoi]

    def start_id(self) -> int:
        """A neutral first character to start an unprompted sample from."""
        vocab = self.dataset.vocab
        for ch in ("\n", " "):
            if vocab.index(ch) is not None:
                return vocab.stoi[ch]
        return 0

    def _read(self, ids: list[int]) -> tuple[torch.Tensor, State]:
        """Run the model over `ids` in one fused call: next-character logits (V,) and the state.

        With no ids at all, the prediction comes from the zero state: logits = W_hy 0 + b_y.
        """
        if not ids:
            h0 = torch.zeros(self.model.hidden_size, device=self.device)  # (H,)
            return self.model.head(h0), None
        x = torch.tensor([ids], device=self.device)  # (1, T)
        logits, state = self.model(x)  # (1, T, V)
        return logits[0, -1], state

    def _generate(
        self,
        logits: torch.Tensor,
        state: State,
        length: int,
        temperatures: list[float | None],
        generator: torch.Generator | None,
    ) -> list[list[int]]:
        """Feed the model its own choices `length` times, one row per temperature at once.

        Every row starts from the same logits (V,) and state; temperature None means argmax.
        """
        B = len(temperatures)
        state = _repeat_state(state, B)
        logits = logits.expand(B, -1)  # (B, V)
        out: list[list[int]] = [[] for _ in range(B)]
        for t in range(length):
            for row, temperature in enumerate(temperatures):
                out[row].append(self._choose(logits[row], temperature, generator))
            if t + 1 < length:  # the last choice needs no forward pass of its own
                x = torch.tensor([ids[-1] for ids in out], device=self.device)  # (B,)
                logits, state = self._next(x, state)  # (B, V)
        return out

    def _next(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Logits (B, V) after feeding one character id per row, and the new state."""
        return next_logits(self.model, x, state)

    @staticmethod
    def _choose(
        logits: torch.Tensor, temperature: float | None, generator: torch.Generator | None
    ) -> int:
        """The next id: the argmax if temperature is None, else a draw from softmax(y / T)."""
        if temperature is None:
            return int(logits.argmax())
        # Draw on the CPU so a CPU generator works whatever device the model is on.
        p = F.softmax(logits.float().cpu() / temperature, dim=-1)  # (V,)
        if not bool(torch.isfinite(p).all()):
            # Diverged weights (NaN, as the exploding-gradients lesson shows without clipping)
            # give no distribution: its samples are worth uniform noise, and training goes on.
            p = torch.ones_like(p)
        return int(torch.multinomial(p, 1, generator=generator))

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
                "chars_seen": self.chars_seen,
                "generator": self.generator.get_state(),
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict()` output of a Trainer with the same model settings."""
        self.update_config(TrainConfig(**state["cfg"]))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_count = state["step_count"]
        self.chars_seen = state["chars_seen"]
        self.generator.set_state(state["generator"])


def next_logits(model: CharRNN, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """Logits (B, V) after one character id per row of x (B,) from `state`, and the new state.

    For an LSTM the step is written out by hand: one fused nn.LSTM call per character
    costs about twice as much (measured: 317 vs 141 us for two rows, hidden 128 x 2),
    which is most of a prediction's time. Other cells are as fast through the module.
    """
    if model.kind != "lstm":
        logits, state = model(x[:, None], state)  # (B, 1, V)
        return logits[:, -1], state
    rnn, inp = model.rnn, None
    h_all, c_all = state if state is not None else (None, None)
    hs, cs = [], []
    for k in range(model.num_layers):
        W_ih, W_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")
        # W_ih x_t for a one-hot x_t is a column of W_ih: gather instead of multiplying.
        gx = W_ih.index_select(1, x).T + b_ih if k == 0 else torch.addmm(b_ih, inp, W_ih.T)
        h = h_all[k] if h_all is not None else torch.zeros_like(gx[:, : W_hh.shape[1]])
        c = c_all[k] if c_all is not None else torch.zeros_like(h)
        i, f, g, o = (gx + torch.addmm(b_hh, h, W_hh.T)).chunk(4, dim=1)  # (B, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        inp = torch.sigmoid(o) * torch.tanh(c)  # h_t, the next layer's input
        hs.append(inp)
        cs.append(c)
    return model.head(inp), (torch.stack(hs), torch.stack(cs))
