"""Two baselines without recurrence, to show what the recurrent models add.

Both read the same one-hot characters x_t (V-vectors) as `CharRNN`, predict the
next character at every position, and keep the same interface (`forward(x, state)`,
`head`, `num_params()`), so `Trainer` trains them and generates from them unchanged.

Fixed window (Bengio et al. 2003, with characters for words): the previous n
characters, one-hot and concatenated, through one tanh layer:

  u_t = [x_{t-n+1}; ...; x_t]                  (nV,)  zeros stand in before the text starts
  h_t = tanh(W_xh u_t)                         (H,)   W_xh is (H, nV)
  y_t = W_hy h_t + b_y                         (V,)

W_xh has one block of V columns per window position, so the parameter count
grows like n*V*H: every position has its own weights, where an RNN shares one
W_xh and W_hh across all positions. And nothing before x_{t-n+1} can reach y_t,
however it is trained: past its width the window is blind.

Bag of characters: how many times each character has appeared so far, order ignored:

  n_t = sum_{s<=t} x_s                         (V,)   running counts: a cumsum over time
  h_t = tanh(W_xh log(1 + n_t))                (H,)   W_xh is (H, V); log keeps long texts in range
  y_t = W_hy h_t + b_y                         (V,)

n_t is the same for every ordering of x_1..x_t, so the model cannot tell "good,
not bad" from "bad, not good", nor know which character came last. With whole
words counted instead of characters it would be a bag of words, blind the same way.

Neither hidden layer has a bias, so "nothing seen yet" gives h = 0 and y = b_y,
exactly like an RNN's zero state, which `Trainer` relies on for an empty prompt.
For the window a bias would add nothing once the window is full: exactly one
column per block of W_xh is picked, so adding b_h to every column of one block
does the same. (Counts divided by t, frequencies, would be the other natural bag;
their tiny differences between sentences train far more slowly.)

`state` carries what the next call needs to go on where this one stopped, so a
text read in pieces gives the same predictions as in one call: the last n - 1
ids for the window (-1 where there is no character yet), the counts for the bag.
Like an RNN's h (layers, B, H) it has the batch second: (1, B, n-1) and (1, B, V).

Reference: Bengio, Ducharme, Vincent & Jauvin, "A Neural Probabilistic Language
Model" (2003).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAD = -1  # the id of "no character yet" in a window's state


class WindowMLP(nn.Module):
    """Predicts the next character from the previous `window` characters only."""

    def __init__(self, vocab_size: int, hidden_size: int, window: int) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be at least 1 (got {window})")
        self.kind = "window"
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = 1  # one hidden layer; cfg.num_layers is for recurrent models
        self.activation = "tanh"
        self.window = window
        self.hidden = nn.Linear(window * vocab_size, hidden_size, bias=False)  # W_xh
        self.head = nn.Linear(hidden_size, vocab_size)  # W_hy, b_y

    def features(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h_t at every position of x (B, T), and the last n - 1 ids (1, B, n-1) as the state."""
        B, T = x.shape
        n, V = self.window, self.vocab_size
        # 1. Prepend the n - 1 characters before x (PAD at the start of a text).
        past = x.new_full((B, n - 1), PAD) if state is None else state[0]  # (B, n-1)
        ids = torch.cat([past, x], dim=1)  # (B, n-1+T)
        # 2. Every window of n ids, oldest first, at once: u_t's characters.
        windows = ids.unfold(1, n, 1)  # (B, T, n)
        # 3. W_xh u_t picks one column per window position k: column k*V + id.
        #    embedding_bag sums those columns without building the (B, T, nV) one-hots;
        #    a PAD position weighs 0, like an all-zero one-hot block.
        columns = torch.arange(n, device=x.device) * V + windows.clamp(min=0)  # (B, T, n)
        weights = (windows != PAD).float()  # (B, T, n)
        a = F.embedding_bag(
            columns.reshape(B * T, n),
            self.hidden.weight.t(),  # (nV, H): row j is column j of W_xh
            mode="sum",
            per_sample_weights=weights.reshape(B * T, n),
        )  # (B*T, H)
        h = torch.tanh(a).reshape(B, T, -1)  # (B, T, H)
        return h, ids[None, :, T:]  # the state: the last n - 1 ids, (1, B, n-1)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for the next character after each position of x (B, T), and the new state."""
        h, state = self.features(x, state)  # (B, T, H)
        return self.head(h), state  # (B, T, V)

    def num_params(self) -> int:
        """How many numbers training adjusts: n*V*H + H*V + V, growing with the window n."""
        return sum(p.numel() for p in self.parameters())


class BagOfChars(nn.Module):
    """Predicts the next character from how many times each character has appeared so far."""

    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.kind = "bag"
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = 1  # one hidden layer; cfg.num_layers is for recurrent models
        self.activation = "tanh"
        self.hidden = nn.Linear(vocab_size, hidden_size, bias=False)  # W_xh
        self.head = nn.Linear(hidden_size, vocab_size)  # W_hy, b_y

    def features(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h_t at every position of x (B, T), and the counts so far (1, B, V) as the state."""
        x_onehot = F.one_hot(x, self.vocab_size).float()  # (B, T, V)
        # 1. Running counts: the counts before x plus a cumulative sum over time.
        counts = x_onehot.cumsum(dim=1)  # (B, T, V)
        if state is not None:
            counts = counts + state[0, :, None]  # (B, 1, V) broadcast over time
        # 2. log(1 + n) grows slowly, so a long text does not saturate the tanh.
        h = torch.tanh(self.hidden(torch.log1p(counts)))  # (B, T, H)
        return h, counts[None, :, -1]  # (1, B, V)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for the next character after each position of x (B, T), and the new state."""
        h, state = self.features(x, state)  # (B, T, H)
        return self.head(h), state  # (B, T, V)

    def num_params(self) -> int:
        """How many numbers training adjusts: V*H + H*V + V, whatever the length of the text."""
        return sum(p.numel() for p in self.parameters())


BASELINES: dict[str, type[nn.Module]] = {"window": WindowMLP, "bag": BagOfChars}
