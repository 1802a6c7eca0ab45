"""Looking inside the cell: every gate and state of a trained model, step by step.

Training runs the fused torch.nn.RNN / LSTM / GRU, which hides the gates. Here the
same equations are written out by hand and fed the model's own weights, read from
`model.rnn.weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` (gate
blocks stacked in PyTorch's order). For layer k with input x_t (the one-hot
character, or the task's input vector of a step (a ball's frame, a month's return), for
k = 0, layer k - 1's h_t above that) and h_0 = c_0 = 0:

  RNN   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh     pre-activation
        h_t = phi(a_t)                                   phi = tanh or relu

  LSTM  [i; f; g; o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   then
        i_t = sigma(i)  f_t = sigma(f)  g_t = tanh(g)  o_t = sigma(o)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

  GRU   [r; z; n]_x = W_ih x_t + b_ih      [r; z; n]_h = W_hh h_{t-1} + b_hh
        r_t = sigma(r_x + r_h)   z_t = sigma(z_x + z_h)
        n_t = tanh(n_x + r_t * n_h)          (the reset gate acts *after* W_hn)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

What this module offers, all pure functions of a model (no Flask, no sockets):

  trace            every gate and state of every layer at every position, plus the
                   next-character logits and probabilities. Without surgery it runs
                   the fused layer for the h_t and then recomputes all gates at once
                   from (x_t, h_{t-1}) with one matrix product per layer; with surgery
                   it steps the hand-written cell (`trace_reference`, the oracle).
  Surgery          clamp a gate (a forget gate held at 0 forgets everything, at 1
                   never forgets) or silence a unit, and watch the predictions change.
  saliency         |d y_target / d x_s| for each input step s: which earlier
                   characters (or frames, or months) the prediction depends on.
  gradient_through_time
                   |dL/dh_t| for the loss at the last step of a window, for every t:
                   how far back the learning signal reaches (vanishing vs exploding).
  pack             uint8-quantised, base64 payload of a trace for the browser.
  inspect_text     one "look inside" answer for a typed text (characters);
  inspect_steps    the same for a task's own steps, input vectors the task labels.

References: Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent
Networks" (2015); Strobelt et al., "LSTMVis" (2017); Simonyan et al., "Deep Inside
Convolutional Networks: Visualising Image Classification Models and Saliency Maps"
(2013); Bengio, Simard & Frasconi, "Learning long-term dependencies with gradient
descent is difficult" (1994); Pascanu, Mikolov & Bengio (2013).
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from backend.core.data import Vocab
from backend.core.models import SequenceModel, encode_input
from backend.errors import InvalidInput

# What each cell exposes per layer, in display order; every entry is a (T, H) tensor.
QUANTITIES: dict[str, tuple[str, ...]] = {
    "rnn": ("a", "h"),
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
}
# The gates Surgery may clamp, and the interval each one lives in.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": (),
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
}
SIGMOID_RANGE = (0.0, 1.0)  # i, f, o, r, z
TANH_RANGE = (-1.0, 1.0)  # g, n, and h of every cell but the relu RNN
GATE_RANGES = {
    **dict.fromkeys(("i", "f", "o", "r", "z"), SIGMOID_RANGE),
    **dict.fromkeys(("g", "n"), TANH_RANGE),
}
MAX_INTERVENTIONS = 256  # clamps + ablations in one Surgery, so a request stays cheap

Clamper = Callable[[str, torch.Tensor], torch.Tensor]


def _no_clamp(name: str, v: torch.Tensor) -> torch.Tensor:
    return v


# ------------------------------------------------------------------ surgery


@dataclass(frozen=True)
class Clamp:
    """Hold gate `gate` of layer `layer` at `value`, for one unit or (unit None) all of them."""

    layer: int
    gate: str
    value: float
    unit: int | None = None


@dataclass(frozen=True)
class Ablate:
    """Silence unit `unit` of layer `layer`: its h_t (and c_t) is 0 at every step."""

    layer: int
    unit: int


@dataclass(frozen=True)
class Surgery:
    """Interventions applied inside the hand-written step, so everything downstream sees them."""

    clamps: tuple[Clamp, ...] = ()
    ablations: tuple[Ablate, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clamps or self.ablations)

    def clamp(self, layer: int, gate: str, v: torch.Tensor) -> torch.Tensor:
        """Gate activation `v` (..., H) of `layer` with this surgery's clamps applied."""
        for c in self.clamps:
            if c.layer == layer and c.gate == gate:
                v = v.clone()  # out of place: autograd may have saved the original
                v[..., slice(None) if c.unit is None else c.unit] = c.value
        return v

    def ablate(self, layer: int, v: torch.Tensor) -> torch.Tensor:
        """State `v` (..., H) of `layer` with the silenced units set to 0."""
        units = [a.unit for a in self.ablations if a.layer == layer]
        if not units:
            return v
        v = v.clone()
        v[..., units] = 0.0
        return v

    def check(self, model: SequenceModel) -> None:
        """Raise InvalidInput if a layer, gate, unit or clamp value does not fit `model`."""
        L, H, gates = model.num_layers, model.hidden_size, GATES[model.kind]
        if len(self.clamps) + len(self.ablations) > MAX_INTERVENTIONS:
            raise InvalidInput(f"at most {MAX_INTERVENTIONS} clamps and ablations at once")
        for c in self.clamps:
            if c.gate not in gates:
                names = ", ".join(gates) or "none (a vanilla RNN has no gates)"
                raise InvalidInput(f"{model.kind} gates are {names}; got {c.gate!r}", field="gate")
            lo, hi = GATE_RANGES[c.gate]
            if not (isinstance(c.value, (int, float)) and lo <= c.value <= hi):
                message = f"gate {c.gate} must be clamped within [{lo:g}, {hi:g}]"
                raise InvalidInput(message, field="value")
        for item in (*self.clamps, *self.ablations):
            if not (isinstance(item.layer, int) and 0 <= item.layer < L):
                raise InvalidInput(f"layer must be between 0 and {L - 1}", field="layer")
            if item.unit is not None and not (isinstance(item.unit, int) and 0 <= item.unit < H):
                raise InvalidInput(f"unit must be between 0 and {H - 1}", field="unit")

    @classmethod
    def from_dict(cls, data: Any, model: SequenceModel) -> Surgery:
        """Parse and check {"clamps": [{layer, gate, value, unit?}], "ablations": [...]}.

        Each ablation is {layer, unit}; a clamp without a unit holds the gate of every unit.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) - {"clamps", "ablations"}:
            raise InvalidInput("surgery must be an object with clamps and ablations")
        try:
            clamps = tuple(Clamp(**c) for c in data.get("clamps", ()))
            ablations = tuple(Ablate(**a) for a in data.get("ablations", ()))
        except TypeError as err:
            raise InvalidInput(f"malformed surgery: {err}") from None
        surgery = cls(clamps, ablations)
        surgery.check(model)
        return surgery


# ------------------------------------------------------------ the cells


@dataclass(frozen=True)
class LayerWeights:
    """One recurrent layer's parameters, gate blocks stacked: G*H rows (G = 1, 4 or 3)."""

    W_ih: torch.Tensor  # (G*H, D): D = V for layer 0, H above
    W_hh: torch.Tensor  # (G*H, H)
    b_ih: torch.Tensor  # (G*H,)
    b_hh: torch.Tensor  # (G*H,)

    @classmethod
    def of(cls, model: SequenceModel, k: int) -> LayerWeights:
        """Layer k's weights: views of the model's own parameters, not copies."""
        rnn = model.rnn
        return cls(
            W_ih=getattr(rnn, f"weight_ih_l{k}"),
            W_hh=getattr(rnn, f"weight_hh_l{k}"),
            b_ih=getattr(rnn, f"bias_ih_l{k}"),
            b_hh=getattr(rnn, f"bias_hh_l{k}"),
        )

    def params(self) -> list[torch.Tensor]:
        """In the order PyTorch's fused kernels take them."""
        return [self.W_ih, self.W_hh, self.b_ih, self.b_hh]


def _phi(model: SequenceModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """The vanilla RNN's nonlinearity."""
    return torch.relu if model.activation == "relu" else torch.tanh


def gate_values(
    kind: str, gx: torch.Tensor, gh: torch.Tensor, clamp: Clamper = _no_clamp
) -> dict[str, torch.Tensor]:
    """Gate activations from the input part gx = W_ih x + b_ih and hidden part gh = W_hh h + b_hh.

    gx, gh: (..., G*H), any leading dims: one step (B, G*H) or a whole sequence (T, G*H).
    """
    if kind == "rnn":
        return {"a": gx + gh}
    if kind == "lstm":
        i, f, g, o = (gx + gh).chunk(4, dim=-1)  # (..., H) each
        return {
            "i": clamp("i", torch.sigmoid(i)),
            "f": clamp("f", torch.sigmoid(f)),
            "g": clamp("g", torch.tanh(g)),
            "o": clamp("o", torch.sigmoid(o)),
        }
    r_x, z_x, n_x = gx.chunk(3, dim=-1)
    r_h, z_h, n_h = gh.chunk(3, dim=-1)
    r = clamp("r", torch.sigmoid(r_x + r_h))
    z = clamp("z", torch.sigmoid(z_x + z_h))
    n = clamp("n", torch.tanh(n_x + r * n_h))  # reset applied after the hidden matmul
    return {"r": r, "z": z, "n": n}


def _step(
    model: SequenceModel,
    w: LayerWeights,
    x_t: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    layer: int,
    surgery: Surgery,
) -> dict[str, torch.Tensor]:
    """One step of one layer: x_t (B, D), h_{t-1} and c_{t-1} (B, H) -> every quantity (B, H)."""
    kind = model.kind
    # 1. Input and hidden contributions for all gates at once.
    gx = x_t @ w.W_ih.T + w.b_ih  # (B, G*H)
    gh = h @ w.W_hh.T + w.b_hh  # (B, G*H)
    # 2. Gate activations, with any clamps applied before they are used.
    v = gate_values(kind, gx, gh, lambda name, g: surgery.clamp(layer, name, g))
    # 3. The state update of each cell.
    if kind == "rnn":
        v["h"] = _phi(model)(v["a"])
    elif kind == "lstm":
        v["c"] = surgery.ablate(layer, v["f"] * c + v["i"] * v["g"])
        v["h"] = v["o"] * torch.tanh(v["c"])
    else:
        v["h"] = (1 - v["z"]) * v["n"] + v["z"] * h
    # 4. Silenced units send nothing up or forward in time.
    v["h"] = surgery.ablate(layer, v["h"])
    return v


def _unroll(
    model: SequenceModel, x: torch.Tensor, surgery: Surgery
) -> list[list[dict[str, torch.Tensor]]]:
    """Step every layer over x (B, T, V): steps[k][t] holds layer k's quantities (B, H) at t."""
    B, T, _ = x.shape
    H = model.hidden_size
    steps: list[list[dict[str, torch.Tensor]]] = []
    inp = x  # (B, T, D)
    for k in range(model.num_layers):
        w = LayerWeights.of(model, k)
        h = c = x.new_zeros(B, H)  # h_0 = c_0 = 0
        layer = []
        for t in range(T):
            v = _step(model, w, inp[:, t], h, c, k, surgery)
            h, c = v["h"], v.get("c", c)
            layer.append(v)
        steps.append(layer)
        inp = torch.stack([v["h"] for v in layer], dim=1)  # (B, T, H): input of layer k + 1
    return steps


# ---------------------------------------------------------------- tracing


@dataclass
class Trace:
    """Everything the cell did on one text: layers[k][name] is (T, H); logits, probs are (T, V)."""

    kind: str
    activation: str
    layers: list[dict[str, torch.Tensor]]
    logits: torch.Tensor  # (T, V): scores for the character after each position
    probs: torch.Tensor  # (T, V): softmax(logits)


def _one_hot(model: SequenceModel, x: torch.Tensor) -> torch.Tensor:
    """The model's input vectors (..., I) for x, in the dtype and on the device of its weights.

    For text, category ids become one-hot rows; a task's float vectors pass unchanged.
    """
    w = model.rnn.weight_ih_l0
    return encode_input(x.to(w.device), model.input_size, w.dtype)


def _finish(model: SequenceModel, layers: list[dict[str, torch.Tensor]]) -> Trace:
    """Wrap per-layer quantities in a Trace, adding the head's logits and probabilities."""
    logits = model.head(layers[-1]["h"])  # (T, V)
    return Trace(model.kind, model.activation, layers, logits, F.softmax(logits, dim=-1))


def _check_steps(model: SequenceModel, x: torch.Tensor) -> None:
    """x must be T >= 1 steps: category ids (T,), or input vectors (T, input_size)."""
    if len(x) == 0:
        raise ValueError("there must be at least one step to trace")
    if x.is_floating_point():
        if x.dim() != 2 or x.shape[1] != model.input_size:
            raise ValueError(f"input vectors must be (T, {model.input_size}); got {tuple(x.shape)}")
    elif x.dim() != 1:
        raise ValueError("category ids must be a 1-D tensor (T,)")


@torch.no_grad()
def trace_reference(model: SequenceModel, x: torch.Tensor, surgery: Surgery | None = None) -> Trace:
    """The plain per-step loop of the hand-written cells over x, ids (T,) or vectors (T, I):
    the oracle for `trace`."""
    _check_steps(model, x)
    steps = _unroll(model, _one_hot(model, x)[None], surgery or Surgery())  # from (1, T, I)
    layers = [
        {name: torch.stack([v[name][0] for v in layer]) for name in QUANTITIES[model.kind]}
        for layer in steps
    ]  # each (T, H)
    return _finish(model, layers)


def _fused_layer(model: SequenceModel, w: LayerWeights, x: torch.Tensor) -> torch.Tensor:
    """h_t of one layer for every t, from PyTorch's fused kernel: x (T, D) -> (T, H).

    torch.lstm / gru / rnn_tanh / rnn_relu are the functions nn.LSTM etc. call,
    here with a single layer's weights so we can stop after any layer.
    """
    device, params = x.device, w.params()
    if device.type == "cuda":
        # cuDNN wants every layer's weights in the module's one flat buffer (and warns
        # about a single layer's); one short sequence is quick on the CPU anyway.
        x, params = x.cpu(), [p.cpu() for p in params]
    h0 = x.new_zeros(1, 1, model.hidden_size)  # (layers, B, H)
    # has_biases, num_layers, dropout, train, bidirectional, batch_first
    args = (params, True, 1, 0.0, False, False, True)
    if model.kind == "lstm":
        out = torch.lstm(x[None], (h0, h0), *args)[0]
    elif model.kind == "gru":
        out = torch.gru(x[None], h0, *args)[0]
    else:
        fn = torch.rnn_relu if model.activation == "relu" else torch.rnn_tanh
        out = fn(x[None], h0, *args)[0]
    return out[0].to(device)  # (T, H)


@torch.no_grad()
def trace(model: SequenceModel, x: torch.Tensor, surgery: Surgery | None = None) -> Trace:
    """Every gate and state of every layer at each step of x, and the predictions.

    x is category ids (T,) (one-hot inside) or a task's input vectors (T, I).
    With surgery this is `trace_reference`. Without, each layer runs fused for its
    h_t, then all gates come from (x_t, h_{t-1}) in one matrix product per layer.
    """
    if surgery:
        return trace_reference(model, x, surgery)
    _check_steps(model, x)
    kind, layers = model.kind, []
    x = _one_hot(model, x)  # (T, I)
    for k in range(model.num_layers):
        w = LayerWeights.of(model, k)
        # 1. Every h_t of this layer from the fused kernel, and h_{t-1} beside it.
        h = _fused_layer(model, w, x)  # (T, H)
        h_prev = torch.cat([h.new_zeros(1, h.shape[1]), h[:-1]])  # (T, H), h_0 = 0
        # 2. All gates at once: [x_t, h_{t-1}] @ [W_ih, W_hh]^T (GRU needs the parts apart).
        if kind == "gru":
            gx, gh = x @ w.W_ih.T + w.b_ih, h_prev @ w.W_hh.T + w.b_hh  # (T, 3H) each
        else:
            gx = torch.cat([x, h_prev], dim=1) @ torch.cat([w.W_ih, w.W_hh], dim=1).T
            gx, gh = gx + w.b_ih, w.b_hh  # (T, G*H); gh just the bias, broadcast
        v = gate_values(kind, gx, gh)
        # 3. The LSTM's cell state is a running sum, c_t = f_t * c_{t-1} + i_t * g_t.
        if kind == "lstm":
            ig = v["i"] * v["g"]  # (T, H)
            c = torch.empty_like(ig)
            c_prev = ig.new_zeros(ig.shape[1])  # c_0 = 0
            # One fused multiply-add per step, written in place: half the time of f * c + ig.
            for ig_t, f_t, c_t in zip(ig.unbind(0), v["f"].unbind(0), c.unbind(0), strict=True):
                c_prev = torch.addcmul(ig_t, f_t, c_prev, out=c_t)  # (H,)
            v["c"] = c
        v["h"] = h
        layers.append({name: v[name] for name in QUANTITIES[kind]})
        x = h  # layer k's h_t is layer k + 1's input
    return _finish(model, layers)


# ---------------------------------------------------------------- saliency


@dataclass(frozen=True)
class Saliency:
    """How much each input step moves the prediction: ||d y / d x_s||, s <= position."""

    position: int  # steps read, 1..T; the prediction is of step position + 1
    # The predicted (argmax) category whose logit is differentiated; None when the whole
    # output vector is (a task that predicts numbers: a ball's next step, a return).
    target: int | None
    raw: list[float]  # one gradient norm per input step x_1..x_position
    normalised: list[float]  # raw / max(raw), in [0, 1] for display

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def saliency(
    model: SequenceModel, x: torch.Tensor, position: int | None = None, whole_output: bool = False
) -> Saliency:
    """Gradient saliency of the prediction after reading x[:position] (default: all of x).

    x is category ids (T,) or a task's input vectors (T, I).
    1. feed the input vectors x_1..x_P (which require grad) through the model
    2. take the logit y of the likeliest next category (argmax after x_P), or with
       `whole_output` every output y_1..y_O (numbers predicted, not categories)
    3. backpropagate: the norm of dy/dx_s over the input (the Frobenius norm of the
       O x I Jacobian with `whole_output`), for each s
    """
    _check_steps(model, x)
    P = len(x) if position is None else position
    if not 1 <= P <= len(x):
        raise ValueError(f"position must be between 1 and {len(x)}")
    # cuDNN differentiates its RNNs only in training mode; with no dropout nothing else changes.
    was_training = model.rnn.training
    try:
        model.rnn.train()
        with torch.enable_grad():
            v = _one_hot(model, x[:P])[None].requires_grad_()  # (1, P, I)
            h, _ = model.rnn(v)  # (1, P, H): fused is fine, autograd knows it
            y = model.head(h[0, -1])  # (O,)
            target = None if whole_output else int(y.argmax())
            outputs = range(len(y)) if target is None else (target,)
            # autograd.grad (not .backward) leaves the parameters' .grad untouched.
            rows = [torch.autograd.grad(y[o], v, retain_graph=True)[0][0] for o in outputs]
    finally:
        model.rnn.train(was_training)
    raw = torch.stack(rows).square().sum(dim=(0, 2)).sqrt()  # (P,): from (O, P, I)
    peak = raw.max()
    normalised = raw / peak if peak > 0 else torch.zeros_like(raw)
    return Saliency(P, target, raw.tolist(), normalised.tolist())


# ------------------------------------------------------- gradient through time


@dataclass(frozen=True)
class GradientFlow:
    """How the gradient of the last step's loss fades (or grows) going back through a window."""

    h_norms: list[list[float]]  # [layer][t]: ||dL_T / dh_t||, mean over the batch
    c_norms: list[list[float]] | None  # LSTM only: ||dL_T / dc_t||, the cell's highway
    loss_last: float  # L_T, the task's loss at the last position (nats for text)
    loss_mean: float  # the mean loss over all positions (the training loss)
    param_grad_norm: float  # global ||dL_mean / dtheta||, what clipping compares to its threshold
    # LSTM only: ||dL_T/dc_T * f_T * ... * f_{t+1}||, what reaches c_t along the cell alone
    c_direct: list[list[float]] | None = None

    @property
    def ratio(self) -> float:
        """||dL_T/dh_1|| / ||dL_T/dh_T|| of the top layer: << 1 vanishing, > 1 exploding."""
        top = self.h_norms[-1]
        return top[0] / top[-1] if top[-1] > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: overflowed (inf / nan) norms become None."""
        out = {**dataclasses.asdict(self), "ratio": self.ratio}
        for key in ("loss_last", "loss_mean", "param_grad_norm", "ratio"):
            out[key] = _finite(out[key])
        for key in ("h_norms", "c_norms", "c_direct"):
            if out[key] is not None:
                out[key] = [[_finite(v) for v in layer] for layer in out[key]]
        return out


def _finite(v: float) -> float | None:
    """JSON has no inf or nan: those become None."""
    return v if math.isfinite(v) else None


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits (B, T, V) against ids (B, T): the default loss."""
    return F.cross_entropy(out.flatten(0, 1), y.flatten())


def gradient_through_time(
    model: SequenceModel,
    x: torch.Tensor,
    y: torch.Tensor,
    surgery: Surgery | None = None,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _cross_entropy,
) -> GradientFlow:
    """||dL_T / dh_t|| at every t of the windows x, y (B, T), for the loss at the last step only.

    x holds category ids (B, T) or a task's input vectors (B, T, I); `loss` is the
    task's loss (cross-entropy over characters by default).
    The hand-written cells are unrolled so each h_t is a node of the graph; the
    gradient of L_T = loss(y_T | x_1..x_T) with respect to h_t is everything that
    flows back to step t along all paths (through h_{t+1}, c_{t+1} and the layer
    above). torch.autograd.grad gives it, like h_t.retain_grad() + backward would,
    without touching the .grad of a model that may be training.
    """
    names = ("h", "c") if model.kind == "lstm" else ("h",)
    with torch.enable_grad():
        steps = _unroll(model, _one_hot(model, x), surgery or Surgery())  # (B, T, I) inputs
        h_top = torch.stack([v["h"] for v in steps[-1]], dim=1)  # (B, T, H)
        out = model.head(h_top)  # (B, T, O)
        y = y.to(out.device)
        loss_last = loss(out[:, -1:], y[:, -1:])
        loss_mean = loss(out, y)
        # 1. dL_T/dh_t (and dL_T/dc_t) for every layer and step, in one backward pass.
        nodes = [v[n] for layer in steps for v in layer for n in names]
        grads = torch.autograd.grad(loss_last, nodes, retain_graph=True, allow_unused=True)
        # 2. The global parameter gradient norm of the full-window (training) loss.
        params = [p for p in model.parameters() if p.requires_grad]
        p_grads = torch.autograd.grad(loss_mean, params, allow_unused=True)
    # 3. Norm over the H units, mean over the B windows; one host transfer for all of them.
    L, T, N = model.num_layers, x.shape[1], len(names)
    grads = [torch.zeros_like(v) if d is None else d for v, d in zip(nodes, grads, strict=True)]
    norms = torch.stack(grads).norm(dim=-1).mean(dim=-1)  # (L*T*N,) from (L*T*N, B, H)
    per = norms.reshape(L, T, N).permute(2, 0, 1).tolist()  # per[name][layer][t]
    p_norm = torch.linalg.vector_norm(torch.stack([d.norm() for d in p_grads if d is not None]))
    return GradientFlow(
        h_norms=per[0],
        c_norms=per[1] if N == 2 else None,
        loss_last=loss_last.item(),
        loss_mean=loss_mean.item(),
        param_grad_norm=p_norm.item(),
        # The forget gates' path alone (`highway`); surgery changes the cell it would describe.
        c_direct=highway(model, x, y, loss).direct if N == 2 and not surgery else None,
    )


# ------------------------------------------------------- the cell-state highway


@dataclass(frozen=True)
class Highway:
    """The LSTM's two routes back through time, for the loss L_T at the last step of a window.

    Backpropagation through one LSTM step, written out (* is the elementwise product,
    tanh' (c) = 1 - tanh(c)^2, and every derivative is of L_T):

      dL/dh_t      = (from the layer above or the head) + W_hh^T dL/dgates_{t+1}
      dL/dc_t      = dL/dh_t * o_t * tanh'(c_t)  +  dL/dc_{t+1} * f_{t+1}
      dL/dgates_t  = [dL/dc_t * g_t * i_t (1 - i_t);      input gate i_t
                      dL/dc_t * c_{t-1} * f_t (1 - f_t);  forget gate f_t
                      dL/dc_t * i_t * (1 - g_t^2);        candidate g_t (the course's c~_t)
                      dL/dh_t * tanh(c_t) * o_t (1 - o_t)] output gate o_t

    The second term of dL/dc_t is the highway: from c_T back to c_t the gradient is only
    multiplied by forget gates, dL/dc_T * f_T * ... * f_{t+1} (`direct`), with no weight
    matrix and no squashing slope on the way. Where the forget gates stay near 1 it reaches
    far back undiminished; dL/dh_t of a vanilla RNN is multiplied by W_hh^T and tanh' at
    every step instead, and fades geometrically (Hochreiter & Schmidhuber 1997).
    """

    h_norms: list[list[float]]  # [layer][t]: ||dL_T/dh_t||, mean over the windows
    c_norms: list[list[float]]  # [layer][t]: ||dL_T/dc_t||, every path
    direct: list[list[float]]  # [layer][t]: ||dL_T/dc_T * f_T * ... * f_{t+1}||, along c alone
    forget: list[list[float]]  # [layer][t]: the mean forget gate f_t over units and windows


def highway(
    model: SequenceModel,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _cross_entropy,
) -> Highway:
    """dL_T/dh_t, dL_T/dc_t and the forget-gate path alone, at every t of the windows x, y (B, T).

    An LSTM only. Only the loss's derivative at the head comes from autograd; the way
    back through time and down the layers is the hand-written backward of `Highway`.
    """
    if model.kind != "lstm":
        raise InvalidInput("the cell-state highway is the LSTM's; this model has no cell state")
    with torch.no_grad():
        steps = _unroll(model, _one_hot(model, x), Surgery())  # steps[k][t]: (B, H) each
    # 1. dL_T/dh_T of the top layer: through the head and the task's loss, at the last step.
    with torch.enable_grad():
        h_T = steps[-1][-1]["h"].detach().requires_grad_()  # (B, H)
        out_T = model.head(h_T)[:, None]  # (B, 1, O)
        (dh_T,) = torch.autograd.grad(loss(out_T, y[:, -1:].to(out_T.device)), h_T)
    T, L = len(steps[0]), model.num_layers
    from_above = [torch.zeros_like(dh_T) for _ in range(T)]  # dL/dh_t from the layer above
    from_above[-1] = dh_T
    per: dict[str, list[list[torch.Tensor]]] = {"h": [], "c": [], "direct": [], "forget": []}
    # 2. Each layer from the top down; what reaches its inputs is the next layer's from_above.
    for k in reversed(range(L)):
        w = LayerWeights.of(model, k)
        norms, from_above = _highway_layer(steps[k], w, from_above)
        for name, values in norms.items():
            per[name].insert(0, values)
    # 3. One host transfer for all of them: (L, 4, T) norms, each the mean over the windows.
    stacked = torch.stack([torch.stack([torch.stack(per[n][k]) for n in per]) for k in range(L)])
    h_n, c_n, d_n, f_n = stacked.permute(1, 0, 2).tolist()
    return Highway(h_norms=h_n, c_norms=c_n, direct=d_n, forget=f_n)


def _highway_layer(
    layer: list[dict[str, torch.Tensor]], w: LayerWeights, from_above: list[torch.Tensor]
) -> tuple[dict[str, list[torch.Tensor]], list[torch.Tensor]]:
    """Back through one LSTM layer: per-t norms (B-means), and dL/dx_t for the layer below."""
    T = len(layer)
    W_ih, W_hh = w.W_ih.detach(), w.W_hh.detach()  # (4H, D), (4H, H)
    norms: dict[str, list[torch.Tensor]] = {n: [None] * T for n in ("h", "c", "direct", "forget")}  # type: ignore[misc]
    to_below: list[torch.Tensor] = [None] * T  # type: ignore[list-item]
    dh_next = dc_next = direct = None  # what step t + 1 sends back: W_hh^T dgates, dc * f
    for t in reversed(range(T)):
        v = layer[t]
        i, f, g, o, c = v["i"], v["f"], v["g"], v["o"], v["c"]  # (B, H) each
        c_prev = layer[t - 1]["c"] if t > 0 else torch.zeros_like(c)  # c_0 = 0
        tanh_c = torch.tanh(c)
        dh = from_above[t] if dh_next is None else from_above[t] + dh_next  # dL/dh_t
        dc = dh * o * (1 - tanh_c * tanh_c)  # through h_t = o_t tanh(c_t) ...
        dc = dc if dc_next is None else dc + dc_next  # ... plus the highway from c_{t+1}
        # The forget-gate path alone: dL/dc_T, then times f_{t+1} at every step back.
        direct = dc if direct is None else direct * layer[t + 1]["f"]
        dgates = torch.cat(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ],
            dim=-1,
        )  # (B, 4H), PyTorch's gate order i, f, g, o
        dh_next, dc_next = dgates @ W_hh, dc * f  # to h_{t-1} and c_{t-1}
        to_below[t] = dgates @ W_ih  # dL/dx_t: (B, D)
        norms["h"][t] = dh.norm(dim=-1).mean()
        norms["c"][t] = dc.norm(dim=-1).mean()
        norms["direct"][t] = direct.norm(dim=-1).mean()
        norms["forget"][t] = f.mean()
    return norms, to_below


# ---------------------------------------------------------------- payload


# The LSTM cell state is unbounded (often ±20): a byte would read it in steps of 0.2.
BITS = {"c": 16}


def quantize(
    tensor: torch.Tensor, lo: float, hi: float, bits: int = 8
) -> tuple[bytes, float, float]:
    """Map [lo, hi] onto 0..top (top = 2^bits - 1): q = round(top (v - lo) / (hi - lo)).

    Decoding v ~ lo + q (hi - lo) / top is off by at most (hi - lo) / (2 top). Values
    outside [lo, hi] are clipped to it (and nan reads as lo). 16 bits go little-endian.
    """
    top = 2**bits - 1
    v = tensor.detach().double().cpu()
    scale = top / (hi - lo) if hi > lo else 0.0
    q = ((v - lo) * scale).nan_to_num(0.0).round().clamp(0, top).to(torch.int32)
    return q.numpy().astype("<u2" if bits == 16 else "u1").tobytes(), lo, hi


def dequantize(
    data: bytes, lo: float, hi: float, shape: tuple[int, ...], bits: int = 8
) -> torch.Tensor:
    """The inverse of `quantize`, up to its rounding: float32 values of `shape`."""
    q = torch.from_numpy(np.frombuffer(data, dtype="<u2" if bits == 16 else "u1").astype("f4"))
    return (lo + q * ((hi - lo) / (2**bits - 1))).reshape(shape)


def _value_range(name: str, v: torch.Tensor, activation: str) -> tuple[float, float]:
    """Fixed ranges for bounded quantities, so colours mean the same at every step; else min/max."""
    if name in GATE_RANGES:
        return GATE_RANGES[name]
    if name == "h" and activation != "relu":
        return TANH_RANGE  # o * tanh(c), a tanh, or a mix of tanh values
    finite = v[torch.isfinite(v)]  # an exploding relu RNN can overflow
    if finite.numel() == 0:
        return 0.0, 0.0
    return finite.min().item(), finite.max().item()


def _packed(v: torch.Tensor, lo: float, hi: float, binary: bool, bits: int = 8) -> dict[str, Any]:
    data, lo, hi = quantize(v, lo, hi, bits)
    encoded = data if binary else base64.b64encode(data).decode("ascii")
    return {"data": encoded, "lo": lo, "hi": hi, "shape": list(v.shape), "bits": bits}


def pack(
    tr: Trace, names: tuple[str, ...] | None = None, binary: bool = False, categorical: bool = True
) -> dict[str, Any]:
    """A JSON-ready payload of a trace: every quantity as base64 uint8 with its range.

    Each entry is {"data": base64 of T*H bytes (row-major, time first), "lo", "hi",
    "shape": [T, H]}; decode with v = lo + byte * (hi - lo) / 255. With `binary` the data
    stays raw bytes (Socket.IO sends them as binary attachments, a quarter smaller). `names` picks
    which quantities to send (default all of QUANTITIES[kind]). Size: one byte per
    value, 4/3 of that in base64: 200 chars x 256 units x 6 LSTM quantities x 2
    layers is about 0.8 MB, so callers cap the text and may ask for fewer names.
    A task that predicts numbers, not categories (`categorical` False), has no
    probabilities or likeliest category to send: "probs" and "top" are left out.
    """
    names = names or QUANTITIES[tr.kind]
    layers = [
        {
            n: _packed(layer[n], *_value_range(n, layer[n], tr.activation), binary, BITS.get(n, 8))
            for n in names
        }
        for layer in tr.layers
    ]
    packed = {
        "kind": tr.kind,
        "length": tr.logits.shape[0],
        "hidden_size": tr.layers[0]["h"].shape[1],
        "layers": layers,
    }
    if categorical:
        packed["probs"] = _packed(tr.probs, *SIGMOID_RANGE, binary)  # (T, V)
        packed["top"] = tr.logits.argmax(dim=-1).tolist()  # likeliest next id per position
    return packed


# ------------------------------------------------------------ one request


def one_buffer(packed: dict[str, Any]) -> dict[str, Any]:
    """Move every tensor's bytes of a binary `pack` into one `data` buffer.

    Each tensor keeps {lo, hi, shape} and gets {offset, size} into `data`: one Socket.IO
    binary attachment instead of one per tensor (19 for a 3-layer LSTM), which measured
    30 ms slower per keystroke on a loaded server and trips clients' attachment caps.
    """
    buffer = bytearray()

    def place(tensor: dict[str, Any]) -> dict[str, Any]:
        data = tensor.pop("data")
        tensor.update(offset=len(buffer), size=len(data))
        buffer.extend(data)
        return tensor

    layers = [{name: place(t) for name, t in layer.items()} for layer in packed["layers"]]
    probs = {"probs": place(packed["probs"])} if "probs" in packed else {}
    return {**packed, "layers": layers, **probs, "data": bytes(buffer)}


def inspect_text(
    model: SequenceModel,
    vocab: Vocab,
    text: str,
    position: int | None = None,
    surgery: Any = None,
    with_saliency: bool = True,
    k: int = 5,
) -> dict[str, Any]:
    """Everything the "look inside" views draw for one typed text, ready to send.

    Unknown characters are skipped; gates and states come from `trace` (binary, quantised),
    the saliency of the prediction after `position` characters (if asked: its backward pass
    through time costs ten times the trace for a long text), and the top-k next
    characters after the whole text with the surgery applied.
    """
    if model.kind not in QUANTITIES:
        raise InvalidInput("this model has no recurrent cell to look inside")
    chars = [c for c in text if vocab.index(c) is not None]
    if not chars:
        raise InvalidInput("type some characters the model knows", field="text")
    if position is not None and not 1 <= position <= len(chars):
        raise InvalidInput(f"position must be between 1 and {len(chars)}", field="position")
    ops = Surgery.from_dict(surgery, model)
    ids = vocab.encode("".join(chars)).to(next(model.parameters()).device)
    with torch.no_grad():
        tr = trace(model, ids, ops or None)
    sal = saliency(model, ids, position) if with_saliency else None
    p_next, top = tr.probs[-1].topk(min(k, vocab.size))
    return {
        **one_buffer(pack(tr, binary=True)),
        "activation": tr.activation,
        "chars": chars,
        "vocab": vocab.to_list(),
        "next": [
            {"char": vocab.chars[i], "p": p}
            for i, p in zip(top.tolist(), p_next.tolist(), strict=True)
        ],
        "saliency": {**sal.to_dict(), "target": vocab.chars[sal.target]} if sal else None,
        "surgery": bool(ops),
    }


MAX_STEPS = 300  # steps one `inspect_steps` traces, as many as a typed text's characters


def inspect_steps(
    model: SequenceModel,
    x: torch.Tensor,
    labels: list[str],
    position: int | None = None,
    surgery: Any = None,
    with_saliency: bool = True,
) -> dict[str, Any]:
    """What the "look inside" views draw for a task's own steps: its input vectors x (T, I),
    each with the label the page shows for it ("12" for a frame, "2004-03" for a month).

    The payload is `inspect_text`'s, with the labels where it has characters, no vocabulary,
    probabilities or top-k (the task predicts numbers), and `outputs`: the head's (T, O)
    numbers after each step, the last of them with the surgery applied. Saliency
    differentiates the whole output vector.
    """
    if model.kind not in QUANTITIES:
        raise InvalidInput("this model has no recurrent cell to look inside")
    if len(labels) != len(x) or not 1 <= len(x) <= MAX_STEPS:
        raise ValueError(f"1 to {MAX_STEPS} steps, one label each; got {len(x)}, {len(labels)}")
    if position is not None and not 1 <= position <= len(x):
        raise InvalidInput(f"position must be between 1 and {len(x)}", field="position")
    ops = Surgery.from_dict(surgery, model)
    x = x.to(next(model.parameters()).device)
    with torch.no_grad():
        tr = trace(model, x, ops or None)
    sal = saliency(model, x, position, whole_output=True) if with_saliency else None
    return {
        **one_buffer(pack(tr, binary=True, categorical=False)),
        "activation": tr.activation,
        "chars": list(labels),
        "labelled": True,  # `chars` holds the task's step labels, not characters
        "vocab": [],
        "next": [],
        "outputs": [[round(v, 4) for v in row] for row in tr.logits.double().cpu().tolist()],
        "saliency": sal.to_dict() if sal else None,
        "surgery": bool(ops),
    }
