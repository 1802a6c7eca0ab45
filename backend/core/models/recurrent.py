"""A recurrent sequence model: input vectors in, recurrent layers, one output per step.

Each step's input x_t is a vector of size I that the task makes from its data (see
`backend.tasks`): for text a one-hot vector of the vocabulary size V, so W_xh x_t
simply picks one column of W_xh; for a ball the pixels of a frame, or its coordinates.
A task may also hand over category ids (B, T), which the model one-hots itself: the
same maths, without building the one-hot tensor on the host. The recurrent layer
carries a hidden state h_t of size H from one step to the next (sigma is the logistic
sigmoid, * the elementwise product):

  RNN   h_t = phi(W_xh x_t + W_hh h_{t-1} + b_h)         phi = tanh, or relu

  LSTM  i_t = sigma(W_xi x_t + W_hi h_{t-1} + b_i)      input gate
        f_t = sigma(W_xf x_t + W_hf h_{t-1} + b_f)      forget gate
        g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)       candidate cell
        o_t = sigma(W_xo x_t + W_ho h_{t-1} + b_o)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t                 cell state
        h_t = o_t * tanh(c_t)

  GRU   r_t = sigma(W_xr x_t + W_hr h_{t-1} + b_r)      reset gate
        z_t = sigma(W_xz x_t + W_hz h_{t-1} + b_z)      update gate
        n_t = tanh(W_xn x_t + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Stacked layers feed layer l's h_t to layer l + 1 as its input. A linear head turns
the top layer's h_t into the step's output y_t of size O: for text, scores (logits)
for the next character, which softmax turns into probabilities; for a ball, the next
position. The task's loss compares y_t with the target:

  y_t = W_hy h_t + b_y          p(x_{t+1} | x_1..x_t) = softmax(y_t)    (text)

Initialisation decides whether gradients survive the trip back through time: each
step multiplies dL/dh_t by W_hh^T (and by the nonlinearity's slope), so over k steps
the gradient scales roughly like the k-th power of W_hh's spectral radius. Besides
PyTorch's default (every weight uniform in +-1/sqrt(H)), `init_recurrent_` offers

  identity   W_hh = I and zero biases (IRNN: with relu, h_t starts by copying h_{t-1},
             so gradients neither vanish nor explode at first); for LSTM/GRU every
             gate block of W_hh is I
  scale s    W_hh <- s * W_hh: s > 1 makes the gradient grow going back (explode),
             s < 1 makes it shrink (vanish)

Dropout (Srivastava et al., 2014; for RNNs Zaremba, Sutskever & Vinyals, 2014) is
applied only to the connections that do not go through time: while training, each
unit of the top layer's h_t is zeroed with probability p before the head (and, with
several layers, each unit of h_t on its way up to the next layer) and the others are
scaled by 1 / (1 - p), so the expected input to the next layer is unchanged. In
`eval()` mode, for predictions and validation, every unit is used as it is. The
recurrent path h_{t-1} -> h_t is never dropped, so the memory is not disturbed.

The recurrence runs inside PyTorch's fused torch.nn.RNN / LSTM / GRU, which is what
makes training fast. Their weights are stored gate-stacked, in PyTorch's order:
`rnn.weight_ih_l{k}` is W_x* of layer k with shape (G*H, I or H) and
`rnn.weight_hh_l{k}` is W_h* with shape (G*H, H), where the gate blocks are
LSTM [i, f, g, o] (G = 4), GRU [r, z, n] (G = 3), RNN one block (G = 1); each has
two biases b_ih and b_hh that add up to the b above (except GRU's b_hn, inside r_t * (...)).
The head is `head.weight` (O, H) = W_hy and `head.bias` (O,) = b_y.

References: Karpathy, "The Unreasonable Effectiveness of Recurrent Neural Networks"
(2015); Hochreiter & Schmidhuber, "Long Short-Term Memory" (1997); Cho et al.,
"Learning Phrase Representations using RNN Encoder-Decoder" (2014); Le, Jaitly &
Hinton, "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units" (2015);
Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks" (2013).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backend.config import ACTIVATIONS, INITS, TrainConfig

# Recurrent state between calls: h (L, B, H), or (h, c) for an LSTM; None means zeros.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """Predicts an output at every step of a batch of input sequences (a recurrent core)."""

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        output_size: int | None = None,
        activation: str = "tanh",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kind not in CELLS:
            raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(CELLS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of tanh, relu")
        self.kind = kind
        self.input_size = input_size
        self.output_size = input_size if output_size is None else output_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        # Only the vanilla RNN has a choice of phi; LSTM and GRU gates fix theirs.
        self.activation = activation if kind == "rnn" else "tanh"
        extra = {"nonlinearity": activation} if kind == "rnn" else {}
        self.rnn = CELLS[kind](input_size, hidden_size, num_layers, batch_first=True, **extra)
        self.drop = nn.Dropout(dropout)  # on the top layer's h_t, before the head
        self.head = nn.Linear(hidden_size, self.output_size)  # W_hy, b_y
        self.set_dropout(dropout)

    def set_dropout(self, p: float) -> None:
        """Drop units with probability p while training: before the head and between layers."""
        self.drop.p = p
        # nn.LSTM's own dropout acts between stacked layers only (it warns on one layer).
        self.rnn.dropout = p if self.num_layers > 1 else 0.0

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input vectors (..., I): category ids (...) become one-hot, float vectors pass."""
        return encode_input(x, self.input_size, self.head.weight.dtype)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """Outputs after each step of x (B, T) ids or (B, T, I) vectors, and the final state."""
        h, state = self.rnn(self.encode(x), state)  # (B, T, H): top layer's h_t at every t
        return self.head(self.drop(h)), state  # (B, T, O); drop is the identity in eval()

    def num_params(self) -> int:
        """How many numbers training adjusts."""
        return sum(p.numel() for p in self.parameters())


def encode_input(x: torch.Tensor, size: int, dtype: torch.dtype) -> torch.Tensor:
    """Category ids (...) as one-hot vectors (..., size); float vectors are returned as they are."""
    if x.is_floating_point():
        return x.to(dtype)
    return F.one_hot(x, size).to(dtype)


@torch.no_grad()
def init_recurrent_(rnn: nn.RNNBase, init: str = "default", scale: float = 1.0) -> None:
    """Re-initialise every layer's recurrent weights W_hh in place: `init`, then times `scale`.

    "identity" sets each gate block of W_hh to I and every bias of the recurrent
    layers to zero (the head keeps its own); "default" keeps PyTorch's weights.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    H = rnn.hidden_size
    for k in range(rnn.num_layers):
        w_hh = getattr(rnn, f"weight_hh_l{k}")  # (G*H, H), G gate blocks stacked
        if init == "identity":
            G = w_hh.shape[0] // H
            w_hh.copy_(torch.eye(H).repeat(G, 1))  # [I; I; ...], one I per gate
            getattr(rnn, f"bias_ih_l{k}").zero_()
            getattr(rnn, f"bias_hh_l{k}").zero_()
        if scale != 1.0:
            w_hh.mul_(scale)


def build_model(cfg: TrainConfig, input_size: int, output_size: int | None = None) -> SequenceModel:
    """A freshly initialised SequenceModel for `cfg`; the same cfg.seed gives the same weights."""
    # fork_rng keeps the seeding local: the global random state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = SequenceModel(
            cfg.model,
            input_size,
            cfg.hidden_size,
            cfg.num_layers,
            output_size,
            cfg.activation,
            cfg.dropout,
        )
    # Deterministic on top of the seeded weights; a no-op at the defaults.
    init_recurrent_(model.rnn, cfg.init, cfg.init_scale)
    return model
