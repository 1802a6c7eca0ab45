"""Training many sessions' models at once: stacked weights and batched matrix products.

On a GPU, a small model's training step is mostly Python and kernel-launch overhead, so S
sessions stepped one after the other serialise on it (measured on one H100: 32 LSTMs of
hidden 256, batch 64, reached 1.85 M characters/s in all, while one batch-1024 model reached
15 M). A cohort trains S compatible sessions (same cell, sizes, vocabulary, window and batch,
same optimizer) as one model with a leading session dimension s:

  theta    member s's parameters are row s of one tensor (S, P). Each member's own model keeps
           working for predictions and the views: its parameters are views of its row.
  forward  for layer k, every member at once, with one batched product per time step:
             gx_t    = W_ih[s] x_t + b_ih[s] + b_hh[s]        for all t (a gather, x one-hot)
             gates_t = gx_t + W_hh[s] h_{t-1}                 (one bmm over s)
           (the GRU keeps b_hh with W_hh h, inside its reset gate's product)
           then the cell's own equations (`internals.gate_values`), and the head
             y_t     = W_hy[s] h_t + b_y[s]
  backward for the RNN and LSTM, `recurrence` walks back through time by hand and forms
           dL/dW_hh in one product over all steps; the GRU steps under autograd.
  loss     L = sum_s L_s with L_s member s's mean cross-entropy. No L_s depends on another
           member's weights, so dL/dtheta_s = dL_s/dtheta_s: each gets exactly its own gradient.
  clip     per member where its clipping is on: g_s <- g_s * min(1, tau_s / (||g_s|| + 1e-6))
  update   per member, with its own learning rate and step count: Adam, SGD or RMSprop at
           torch.optim's defaults, written out as torch.optim computes them.

A member whose gradient norm is not finite skips its update, as `Trainer.step` does. The
result equals training each session by itself, up to float rounding (tested on the CPU, and
on CUDA where one is present). PyTorch's `torch.func.vmap` cannot do this: it has no
batching rule for the fused LSTM.

On CUDA, where the host launching kernels is what limits a small model:
- forward and backward are captured as one CUDA graph at a cohort's first step and replayed
  every step after (checked against an eager pass when captured);
- the LSTM and GRU cells use PyTorch's fused pointwise kernels (the ones nn.LSTMCell uses
  there), after checking them against the written-out equations once per process;
- products use TF32 where PyTorch's cuDNN RNNs do (by default), as a session alone would;
- the next step's batches are drawn on the host while the GPU works through this one.
Measured on one H200 (32 LSTMs of hidden 256, batch 64, 100 steps): 17.9 M characters/s as
one cohort against 1.0 M stepped one by one (`python -m benchmarks --only gpu`).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from backend.core.internals import gate_values
from backend.core.recurrence import fused_recurrence_works, recurrence
from backend.core.training import StepResult, Trainer

CELLS = ("rnn", "lstm", "gru")
# torch.optim's defaults, which `training.build_optimizer` uses.
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
MOMENTS = {"adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",), "sgd": ()}
CLIP_EPS = 1e-6  # clip_grad_norm_'s guard against dividing by a zero norm


def cohort_key(trainer: Trainer) -> tuple | None:
    """Trainers with equal keys can train as one cohort; None for a model that cannot.

    The cohort's maths is for categorical tasks (ids in, cross-entropy over them out),
    which say so with a task key; a task without one (`Task.cohort_key` is None) trains alone.
    So does a model with dropout, weight decay or a carried state: the cohort's batched
    step has none of them.
    """
    model, cfg = trainer.model, trainer.cfg
    task_key = trainer.task.cohort_key()
    if model.kind not in CELLS or task_key is None:
        return None
    if cfg.dropout or cfg.weight_decay or cfg.carry_state:
        return None
    T = min(cfg.seq_len, len(trainer.dataset.train) - 1)  # the window `dataset.batch` cuts
    w = model.head.weight
    return (
        task_key,
        model.kind,
        model.activation,
        model.input_size,
        model.hidden_size,
        model.num_layers,
        cfg.batch_size,
        T,
        cfg.optimizer,
        w.device,
        w.dtype,
    )


@dataclass(frozen=True)
class Drawn:
    """Every member's batch (S, B, T) and the states of their streams before and after it."""

    x: torch.Tensor
    y: torch.Tensor
    before: list[torch.Tensor]
    after: list[torch.Tensor]


class Captured:
    """A cohort's forward and backward, recorded once as a CUDA graph and replayed each step.

    The graph reads its batches from fixed buffers and writes the losses and the gradient
    into fixed tensors (the gradient is theta.grad); the weights it reads are theta itself,
    which the optimizer only ever changes in place.
    """

    def __init__(self, graph: Any, x: torch.Tensor, y: torch.Tensor, out: tuple) -> None:
        self.graph, self.x, self.y = graph, x, y
        self.losses, self.grad = out

    @classmethod
    def record(cls, cohort: Cohort, x: torch.Tensor, y: torch.Tensor) -> Captured | None:
        """Capture `cohort.gradients`, and check one replay against an eager pass on (x, y).

        None where capture fails or the replay disagrees: the cohort then stays eager.
        """
        x, y = x.clone(), y.clone()
        try:
            side = torch.cuda.Stream(cohort.device)  # capture wants a warmed-up side stream
            side.wait_stream(torch.cuda.current_stream(cohort.device))
            with torch.cuda.stream(side):
                for _ in range(2):
                    losses, grad = cohort.gradients(x, y)
                expected = losses.clone(), grad.clone()
            torch.cuda.current_stream(cohort.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            cohort.theta.grad = None
            # thread_local: the worker's query thread may use the GPU meanwhile.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                out = cohort.gradients(x, y)
            graph.replay()
            agree = all(
                torch.allclose(got, want, rtol=1e-4, atol=1e-6)
                for got, want in zip(out, expected, strict=True)
            )
        except RuntimeError:
            return None
        return cls(graph, x, y, out) if agree else None

    def replay(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.losses, self.grad


@dataclass(frozen=True)
class Slice:
    """Where one parameter lives in a row of theta."""

    name: str
    offset: int
    shape: torch.Size

    @property
    def end(self) -> int:
        return self.offset + self.shape.numel()


class Cohort:
    """S trainers' models trained as one; members' parameters are views of `theta` meanwhile.

    Call `dissolve()` before changing a member any other way (settings, weights, optimizer):
    it gives every member its own parameters and optimizer state back.
    """

    def __init__(
        self,
        trainers: list[Trainer],
        locks: list[Any] | None = None,
        tf32: bool | None = None,
        graphs: bool = True,
    ) -> None:
        keys = {cohort_key(t) for t in trainers}
        if len(keys) != 1 or None in keys:
            raise ValueError("a cohort's members must be recurrent models with one cohort_key")
        first = trainers[0].model
        self.trainers = trainers
        self.locks = locks or [threading.Lock() for _ in trainers]  # held while weights change
        self.kind, self.activation = first.kind, first.activation
        self.V, self.H, self.L = first.input_size, first.hidden_size, first.num_layers
        self.optimizer = trainers[0].cfg.optimizer
        self.device = first.head.weight.device
        self.slices: dict[str, Slice] = {}
        offset = 0
        for name, p in first.named_parameters():
            self.slices[name] = Slice(name, offset, p.shape)
            offset += p.numel()
        with torch.no_grad():
            rows = [torch.cat([p.reshape(-1) for p in t.model.parameters()]) for t in trainers]
            self.theta = torch.stack(rows).requires_grad_()  # (S, P), the one leaf trained
        self.moments = {
            name: torch.zeros_like(self.theta.detach()) for name in MOMENTS[self.optimizer]
        }
        self.steps = [0] * len(trainers)  # optimizer steps per member (Adam's bias correction)
        for s, trainer in enumerate(trainers):
            self._load_optimizer(s, trainer)
        self._hyper: tuple | None = None
        self._ahead: Drawn | None = None  # the next step's batches, drawn during this one
        self.tf32 = tf32  # TF32 products on CUDA; None: as PyTorch's cuDNN RNNs do
        self.graphs = graphs and self.device.type == "cuda"  # replay fwd+bwd as a CUDA graph
        self._captured: Captured | None = None
        self._alias()

    @property
    def S(self) -> int:
        return len(self.trainers)

    @property
    def graphed(self) -> bool:
        """Whether its steps replay a captured CUDA graph (known after the first step)."""
        return self._captured is not None

    # ------------------------------------------------------------ the stacked model

    def weight(self, name: str, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Every member's parameter `name` at once: a (S, *shape) view of theta."""
        theta = self.theta if theta is None else theta
        sl = self.slices[name]
        return theta[:, sl.offset : sl.end].view(self.S, *sl.shape)

    def forward(self, x: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (S, B, T, V) for ids x (S, B, T): member s's model on its own rows x[s]."""
        return self._logits(x.permute(2, 0, 1), theta).permute(1, 2, 0, 3)

    def _logits(self, x: torch.Tensor, theta: torch.Tensor | None) -> torch.Tensor:
        """Time-major: logits (T, S, B, V) for ids x (T, S, B).

        Time comes first so that each step's slice of a (T, S, B, ...) tensor is contiguous:
        one copy per layer instead of one per step.
        """
        T, S, B = x.shape
        inp = x
        for k in range(self.L):
            input_bias, hidden_bias = self._biases(k, theta)
            gx = self._input_gates(k, inp, theta, input_bias)  # (T, S, B, G*H)
            # (T, S, B, H): layer k's h_t, layer k+1's input
            inp = self._unroll(k, gx, theta, hidden_bias)
        W_hy, b_y = self.weight("head.weight", theta), self.weight("head.bias", theta)
        h = inp.transpose(0, 1).reshape(S, T * B, self.H)  # (S, T*B, H)
        logits = torch.baddbmm(b_y[:, None, :], h, W_hy.transpose(1, 2))  # (S, T*B, V)
        return logits.view(S, T, B, self.V).transpose(0, 1)

    def _biases(
        self, k: int, theta: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Layer k's biases: the one added with W_ih x_t (S, G*H), the one with W_hh h (or None).

        Both go in with W_ih x_t, once for all T steps, so backward reduces their gradient
        once rather than at every step; except the GRU's b_hh, which sits inside
        r_t * (W_hn h_{t-1} + b_hn) and so stays with W_hh h.
        """
        b_ih = self.weight(f"rnn.bias_ih_l{k}", theta)
        b_hh = self.weight(f"rnn.bias_hh_l{k}", theta)
        if self.kind == "gru":
            return b_ih, b_hh[:, None, :]
        return b_ih + b_hh, None

    def _input_gates(
        self, k: int, inp: torch.Tensor, theta: torch.Tensor | None, bias: torch.Tensor
    ) -> torch.Tensor:
        """gx = W_ih x_t + bias for all t: (T, S, B, G*H), from ids (T, S, B) or h (T, S, B, H)."""
        W_ih = self.weight(f"rnn.weight_ih_l{k}", theta)  # (S, G*H, D)
        if k == 0:
            # A one-hot x_t picks column x_t of W_ih: gather the columns instead of multiplying,
            # from a table that already holds the bias. Row s * V + v of `table` is column v
            # of member s's W_ih plus its bias.
            table = (W_ih.transpose(1, 2) + bias[:, None, :]).reshape(self.S * self.V, -1)
            member = torch.arange(self.S, device=inp.device).view(1, -1, 1)  # (1, S, 1)
            return F.embedding(inp + member * self.V, table)
        T, S, B, H = inp.shape
        rows = inp.transpose(0, 1).reshape(S, T * B, H)  # (S, T*B, H): one product per member
        gx = torch.baddbmm(bias[:, None, :], rows, W_ih.transpose(1, 2))  # (S, T*B, G*H)
        return gx.view(S, T, B, -1).transpose(0, 1).contiguous()

    @staticmethod
    def _hidden_gates(
        h: torch.Tensor, W_hh_T: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """W_hh h_{t-1} (+ the GRU's b_hh) for every member at once: (S, B, G*H)."""
        return torch.bmm(h, W_hh_T) if bias is None else torch.baddbmm(bias, h, W_hh_T)

    def _unroll(
        self, k: int, gx: torch.Tensor, theta: torch.Tensor | None, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """Step layer k through time from h_0 = c_0 = 0; its h_t for every t (T, S, B, H).

        The RNN and the LSTM use `recurrence`, whose backward forms dL/dW_hh in one product;
        the GRU (whose b_hh sits inside its reset gate's product) steps under autograd.
        """
        S, B = gx.shape[1:3]
        W_hh_T = self.weight(f"rnn.weight_hh_l{k}", theta).transpose(1, 2)  # (S, H, G*H)
        if self.kind != "gru":
            fused = gx.is_cuda and self.kind == "lstm" and fused_recurrence_works(gx.device)
            return recurrence(self.kind, self.activation, gx, W_hh_T, fused)
        h = c = gx.new_zeros(S, B, self.H)
        hs = []
        # unbind, not gx[t]: the backward of T slices would build T full-size zero tensors.
        for gx_t in gx.unbind(dim=0):
            h, c = self.cell(gx_t, self._hidden_gates(h, W_hh_T, bias), h, c)
            hs.append(h)
        return torch.stack(hs)

    def cell(
        self, gx: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the cell on (S, B, ...) tensors: the new (h_t, c_t)."""
        if gx.is_cuda and self.kind in ("lstm", "gru") and fused_cells_work(gx.device):
            return fused_cell(self.kind, gx, gh, h, c)
        return cell_step(self.kind, self.activation, gx, gh, h, c)

    # ----------------------------------------------------------------- training

    def step(self) -> list[StepResult]:
        """One optimisation step for every member, each on a batch from its own stream."""
        # 1. Each member's batch, drawn exactly as Trainer.step draws it.
        x, y = self._batches()  # (S, B, T) each, on the device
        # 2-3. Forward, each member's loss, backward.
        with self._precision():
            losses, grad = self._replay_or_compute(x, y)
        # 4. Per-member norm, and clipping where it is on.
        lr, tau, clip = self._hyperparameters()
        norms = torch.linalg.vector_norm(grad, dim=1)  # (S,)
        scale = torch.where(clip, (tau / (norms + CLIP_EPS)).clamp(max=1.0), 1.0)
        grad.mul_(scale[:, None])
        # While a GPU still works through all that, draw the next step's batches on the host.
        self._ahead = self._draw(ahead=True)
        loss_nats, norm = torch.stack([losses, norms]).tolist()  # one host sync
        # 5. Update every member whose gradient is finite.
        finite = [math.isfinite(n) for n in norm]
        with self._writing():
            self._update(grad, lr, finite)
        results = []
        for s, trainer in enumerate(self.trainers):
            trainer.step_count += 1
            trainer.items_seen += x[s].numel()
            clipped = trainer.cfg.clip and norm[s] > trainer.cfg.clip_threshold
            metric = trainer.task.metric(loss_nats[s])
            results.append(StepResult(trainer.step_count, metric, x[s].numel(), norm[s], clipped))
        return results

    def _batches(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This step's batches, (S, B, T) each on the device, and every member's stream moved on.

        They are the ones drawn ahead during the last step if every member's stream is still
        where they were drawn from (a restored checkpoint moves it), else drawn now.
        """
        ahead, self._ahead = self._ahead, None
        if ahead is None or not all(
            torch.equal(t.generator.get_state(), state)
            for t, state in zip(self.trainers, ahead.before, strict=True)
        ):
            ahead = self._draw(ahead=False)
        for t, state in zip(self.trainers, ahead.after, strict=True):
            t.generator.set_state(state)  # the members' streams move on only now
        return ahead.x, ahead.y

    def _draw(self, ahead: bool) -> Drawn:
        """Every member's next batch, from a copy of its stream: the stream itself is unchanged.

        Drawn ahead on CUDA, the batches go to the device from pinned memory without waiting
        for the work queued there.
        """
        first = self.trainers[0]
        B, T = first.cfg.batch_size, first.cfg.seq_len
        before, after, xs, ys = [], [], [], []
        for trainer in self.trainers:
            state = trainer.generator.get_state()
            stream = torch.Generator().set_state(state)
            before.append(state)
            x, y = trainer.dataset.batch(B, T, stream)
            after.append(stream.get_state())
            xs.append(x)
            ys.append(y)
        x, y = torch.stack(xs), torch.stack(ys)  # (S, B, T)
        if ahead and self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
            y = y.pin_memory().to(self.device, non_blocking=True)
        return Drawn(x.to(self.device), y.to(self.device), before, after)

    def _replay_or_compute(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`gradients(x, y)`; on CUDA by replaying the graph captured at the first step.

        A step of a small model launches about ten kernels per time step, and the host
        launching them one by one is what limits a GPU; a replay launches them all at once.
        """
        if self._captured is None and self.graphs:
            self._captured = Captured.record(self, x, y)
            if self._captured is None:
                self.graphs = False  # could not capture, or the replay disagreed: stay eager
        if self._captured is not None:
            return self._captured.replay(x, y)
        return self.gradients(x, y)

    def _precision(self) -> AbstractContextManager:
        """TF32 products on CUDA exactly where a session trained alone gets them.

        Alone, a session's LSTM runs in cuDNN, whose RNNs use TF32 unless told otherwise;
        the cohort's products follow the same switch (or `tf32`, where given).
        """
        if self.device.type != "cuda":
            return nullcontext()
        return matmul_tf32(rnn_uses_tf32() if self.tf32 is None else self.tf32)

    def gradients(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's mean cross-entropy (S,) on its rows of x, y (S, B, T), and dL_s/dtheta_s.

        The gradient (S, P) is theta.grad: backward of the sum of the members' losses.
        """
        logits = self._logits(x.permute(2, 0, 1), None)  # (T, S, B, V)
        targets = y.permute(2, 0, 1)  # (T, S, B), matching
        nats = F.cross_entropy(logits.reshape(-1, self.V), targets.reshape(-1), reduction="none")
        losses = nats.view(-1, self.S, targets.shape[2]).mean(dim=(0, 2))  # (S,)
        self.theta.grad = None
        losses.sum().backward()
        return losses.detach(), self.theta.grad

    def _hyperparameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Learning rates (S, 1), clip thresholds (S,) and clip switches (S,) on the device.

        Rebuilt only when a member's settings change, so a step copies nothing to the device.
        """
        cfgs = tuple(t.cfg for t in self.trainers)
        if self._hyper is None or self._hyper[0] != cfgs:
            lr = torch.tensor([[c.learning_rate] for c in cfgs], device=self.device)
            tau = torch.tensor([c.clip_threshold for c in cfgs], device=self.device)
            clip = torch.tensor([c.clip for c in cfgs], device=self.device)
            self._hyper = (cfgs, lr, tau, clip)
        return self._hyper[1], self._hyper[2], self._hyper[3]

    @torch.no_grad()
    def _update(self, grad: torch.Tensor, lr: torch.Tensor, finite: list[bool]) -> None:
        """theta <- optimizer(theta, grad), row by row with each member's lr and step count."""
        skip = [s for s, ok in enumerate(finite) if not ok]
        bufs = [self.theta.data, *self.moments.values()]
        kept = [buf[skip].clone() for buf in bufs] if skip else []
        self.steps = [n + ok for n, ok in zip(self.steps, finite, strict=True)]
        p = self.theta.data
        if self.optimizer == "sgd":
            p.sub_(lr * grad)  # theta <- theta - lr g
        elif self.optimizer == "rmsprop":
            v = self.moments["square_avg"]
            v.mul_(RMSPROP_ALPHA).addcmul_(grad, grad, value=1 - RMSPROP_ALPHA)
            # theta <- theta - lr g / (sqrt(v) + eps)
            p.sub_(lr * (grad / v.sqrt().add_(RMSPROP_EPS)))
        else:
            b1, b2 = ADAM_BETAS
            m, v = self.moments["exp_avg"], self.moments["exp_avg_sq"]
            m.lerp_(grad, 1 - b1)  # m <- b1 m + (1 - b1) g
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)  # v <- b2 v + (1 - b2) g^2
            # Bias corrections per member, in Python floats as torch.optim computes them.
            steps = [max(n, 1) for n in self.steps]
            rates = [t.cfg.learning_rate for t in self.trainers]  # on the host: no device sync
            step_size = [r / (1 - b1**n) for r, n in zip(rates, steps, strict=True)]
            root_bc2 = [math.sqrt(1 - b2**n) for n in steps]
            step_size_t = torch.tensor(step_size, device=p.device, dtype=p.dtype)[:, None]
            root_bc2_t = torch.tensor(root_bc2, device=p.device, dtype=p.dtype)[:, None]
            denom = (v.sqrt() / root_bc2_t).add_(ADAM_EPS)
            p.sub_(step_size_t * (m / denom))  # theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
        for buf, old in zip(bufs, kept, strict=False):  # kept is empty when none skip
            buf[skip] = old  # a member with an overflowed gradient keeps what it had

    def _writing(self) -> ExitStack:
        """Hold every member's weight lock (in a fixed order, so no two writers deadlock)."""
        stack = ExitStack()
        for lock in self.locks:
            stack.enter_context(lock)
        return stack

    # ------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(self, length: int, temperatures: list[float]) -> list[dict[str, Any]]:
        """`length` steps from every member at once, each at its own temperature.

        Like `Trainer.sample`: each starts from its task's neutral first id, and its task
        turns the ids drawn into its sample payload.
        """
        ids = torch.tensor([t.task.start_id() for t in self.trainers], device=self.device)  # (S,)
        temps = torch.tensor(temperatures, dtype=torch.float32)[:, None]  # (S, 1)
        theta = self.theta.detach()
        state = [(self.theta.new_zeros(self.S, 1, self.H),) * 2 for _ in range(self.L)]
        out = []
        for _ in range(length):
            inp = ids.view(1, self.S, 1)  # (T=1, S, B=1)
            for k in range(self.L):
                input_bias, hidden_bias = self._biases(k, theta)
                gx = self._input_gates(k, inp, theta, input_bias)[0]  # (S, 1, G*H)
                W_hh_T = self.weight(f"rnn.weight_hh_l{k}", theta).transpose(1, 2)
                h, c = state[k]
                state[k] = self.cell(gx, self._hidden_gates(h, W_hh_T, hidden_bias), h, c)
                inp = state[k][0][None]  # (1, S, 1, H)
            W_hy, b_y = self.weight("head.weight", theta), self.weight("head.bias", theta)
            logits = torch.baddbmm(b_y[:, None, :], state[-1][0], W_hy.transpose(1, 2))[:, 0]
            p = F.softmax(logits.float().cpu() / temps, dim=-1)  # (S, V), drawn on the CPU
            choice = torch.multinomial(p, 1)[:, 0]  # (S,)
            out.append(choice)
            ids = choice.to(self.device)
        chosen = torch.stack(out, dim=1).tolist() if out else [[] for _ in self.trainers]
        return [t.task.sample_from_ids(row) for t, row in zip(self.trainers, chosen, strict=True)]

    # ------------------------------------------- members' own parameters and state

    def _alias(self) -> None:
        """Make each member's parameters views of its row: its model sees every update."""
        for s, trainer in enumerate(self.trainers):
            with self.locks[s]:
                for (name, p), sl in zip(
                    trainer.model.named_parameters(), self.slices.values(), strict=True
                ):
                    assert name == sl.name
                    p.data = self.theta.data[s, sl.offset : sl.end].view(sl.shape)

    def _load_optimizer(self, s: int, trainer: Trainer) -> None:
        """Copy member s's optimizer moments and step count into the stacked state."""
        for p, sl in zip(trainer.model.parameters(), self.slices.values(), strict=True):
            state = trainer.optimizer.state.get(p)
            if not state:
                continue  # a fresh optimizer: zero moments, no steps yet
            for name, buf in self.moments.items():
                buf[s, sl.offset : sl.end] = state[name].reshape(-1)
            if "step" in state:
                self.steps[s] = int(state["step"])

    def store_optimizer(self, s: int) -> None:
        """Write member s's optimizer state back into its own optimizer (for a checkpoint)."""
        trainer = self.trainers[s]
        if not self.moments or self.steps[s] == 0:
            return  # SGD keeps no state; a member that never stepped has none yet
        for p, sl in zip(trainer.model.parameters(), self.slices.values(), strict=True):
            state = {"step": torch.tensor(float(self.steps[s]))}
            for name, buf in self.moments.items():
                state[name] = buf[s, sl.offset : sl.end].view(sl.shape).clone()
            trainer.optimizer.state[p] = state

    def dissolve(self) -> None:
        """Give every member its own parameters and optimizer state back; the cohort is spent."""
        self._captured = None  # frees the graph's memory
        self.theta.grad = None
        for s, trainer in enumerate(self.trainers):
            self.store_optimizer(s)
            with self.locks[s]:
                for p in trainer.model.parameters():
                    p.data = p.data.clone()
                trainer.model.rnn.flatten_parameters()  # cuDNN wants its weights in one block
        self.trainers = []


def cell_step(
    kind: str,
    activation: str,
    gx: torch.Tensor,
    gh: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cell's equations: gx = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh -> (h_t, c_t).

    Only the GRU tells gx and gh apart, so the other cells may carry b_hh in gx instead.
    Any leading dimensions; c is the LSTM's cell state and passes through the other cells.
    """
    v = gate_values(kind, gx, gh)
    if kind == "rnn":
        phi = torch.relu if activation == "relu" else torch.tanh
        return phi(v["a"]), c
    if kind == "lstm":
        c = v["f"] * c + v["i"] * v["g"]  # c_t = f_t * c_{t-1} + i_t * g_t
        return v["o"] * torch.tanh(c), c  # h_t = o_t * tanh(c_t)
    return (1 - v["z"]) * v["n"] + v["z"] * h, c  # h_t = (1 - z_t) * n_t + z_t * h_{t-1}


# ------------------------------------------------------------------ fused CUDA cells


def fused_cell(
    kind: str, gx: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The LSTM or GRU step in one fused CUDA kernel (what nn.LSTMCell / nn.GRUCell use there).

    gx, gh (S, B, G*H) already hold their biases; h, c (S, B, H).
    """
    S, B, GH = gx.shape
    flat = (gx.reshape(S * B, GH), gh.reshape(S * B, GH))
    if kind == "lstm":
        h_t, c_t, _ = torch.ops.aten._thnn_fused_lstm_cell(*flat, c.reshape(S * B, -1))
        return h_t.view(S, B, -1), c_t.view(S, B, -1)
    h_t, _ = torch.ops.aten._thnn_fused_gru_cell(*flat, h.reshape(S * B, -1))
    return h_t.view(S, B, -1), c


@functools.cache
def fused_cells_work(device: torch.device) -> bool:
    """Whether the fused cells match the written-out equations here, in values and gradients."""
    try:
        for kind, G in (("lstm", 4), ("gru", 3)):
            gen = torch.Generator(device=device).manual_seed(0)
            sizes = (G * 8, G * 8, 8, 8)  # gx, gh, h, c for S = 2 members, B = 3, H = 8
            leaves = [
                torch.randn(2, 3, n, device=device, generator=gen).requires_grad_() for n in sizes
            ]
            fused = fused_cell(kind, *leaves)
            plain = cell_step(kind, "tanh", *leaves)
            g_fused = torch.autograd.grad(sum(t.sum() for t in fused), leaves, allow_unused=True)
            g_plain = torch.autograd.grad(sum(t.sum() for t in plain), leaves, allow_unused=True)
            pairs = [*zip(fused, plain, strict=True), *zip(g_fused, g_plain, strict=True)]
            if not all(_close(a, b) for a, b in pairs):
                return False
        return True
    except (RuntimeError, AttributeError, TypeError):  # no such kernel in this build
        return False


def _close(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return torch.allclose(a, b, atol=1e-5)


def rnn_uses_tf32() -> bool:
    """Whether PyTorch runs a float32 cuDNN RNN (nn.LSTM on CUDA) with TF32 products."""
    rnn = getattr(torch.backends.cudnn, "rnn", None)  # the per-operation switch, torch >= 2.9
    precision = getattr(rnn, "fp32_precision", "none")
    if precision != "none":
        return precision == "tf32"
    return torch.backends.cudnn.allow_tf32


@contextmanager
def matmul_tf32(on: bool) -> Iterator[None]:
    """CUDA float32 matrix products in TF32 (or not) for the duration of a `with` block."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
