"""A character-level recurrent language model: one-hot in, recurrent layers, logits out.

Each character x_t (an id) enters as a one-hot vector of the vocabulary size V,
so W_xh x_t simply picks one column of W_xh. The recurrent layer carries a hidden
state h_t of size H from one character to the next (sigma is the logistic sigmoid,
* the elementwise product):

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
the top layer's h_t into scores (logits) for the next character, and softmax turns
them into probabilities:

  y_t = W_hy h_t + b_y          p(x_{t+1} | x_1..x_t) = softmax(y_t)

Initialisation decides whether gradients survive the trip back through time: each
step multiplies dL/dh_t by W_hh^T (and by the nonlinearity's slope), so over k steps
the gradient scales roughly like the k-th power of W_hh's spectral radius. Besides
PyTorch's default (every weight uniform in +-1/sqrt(H)), `init_recurrent_` offers

  identity   W_hh = I and zero biases (IRNN: with relu, h_t starts by copying h_{t-1},
             so gradients neither vanish nor explode at first); for LSTM/GRU every
             gate block of W_hh is I
  scale s    W_hh <- s * W_hh: s > 1 makes the gradient grow going back (explode),
             s < 1 makes it shrink (vanish)

The recurrence runs inside PyTorch's fused torch.nn.RNN / LSTM / GRU, which is what
makes training fast. Their weights are stored gate-stacked, in PyTorch's order:
`rnn.weight_ih_l{k}` is W_x* of layer k with shape (G*H, V or H) and
`rnn.weight_hh_l{k}` is W_h* with shape (G*H, H), where the gate blocks are
LSTM [i, f, g, o] (G = 4), GRU [r, z, n] (G = 3), RNN one block (G = 1); each has
two biases b_ih and b_hh that add up to the b above (except GRU's b_hn, inside r_t * (...)).
The head is `head.weight` (V, H) = W_hy and `head.bias` (V,) = b_y.

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


class CharRNN(nn.Module):
    """Predicts the next character at every position of a batch of character-id sequences."""

    def __init__(
        self,
        kind: str,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        if kind not in CELLS:
            raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(CELLS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of tanh, relu")
        self.kind = kind
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        # Only the vanilla RNN has a choice of phi; LSTM and GRU gates fix theirs.
        self.activation = activation if kind == "rnn" else "tanh"
        extra = {"nonlinearity": activation} if kind == "rnn" else {}
        self.rnn = CELLS[kind](vocab_size, hidden_size, num_layers, batch_first=True, **extra)
        self.head = nn.Linear(hidden_size, vocab_size)  # W_hy, b_y

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """Logits for the next character after each position of x (B, T), and the final state."""
        x_onehot = F.one_hot(x, self.vocab_size).float()  # (B, T, V)
        h, state = self.rnn(x_onehot, state)  # (B, T, H): top layer's h_t at every t
        logits = self.head(h)  # (B, T, V)
        return logits, state

    def num_params(self) -> int:
        """How many numbers training adjusts."""
        return sum(p.numel() for p in self.parameters())


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


def build_model(cfg: TrainConfig, vocab_size: int) -> CharRNN:
    """A freshly initialised CharRNN for `cfg`; the same cfg.seed always gives the same weights."""
    # fork_rng keeps the seeding local: the global random state is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = CharRNN(cfg.model, vocab_size, cfg.hidden_size, cfg.num_layers, cfg.activation)
    # Deterministic on top of the seeded weights; a no-op at the defaults.
    init_recurrent_(model.rnn, cfg.init, cfg.init_scale)
    return model
