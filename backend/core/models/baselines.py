"""Two baselines without recurrence, to show what the recurrent models add.

Both read the same inputs x_t as `SequenceModel` (one-hot characters, V-vectors, for
text; any task's input vectors of size I), predict an output at every position, and
keep the same interface (`forward(x, state)`, `head`, `num_params()`), so `Trainer`
trains them and tasks generate from them unchanged. The equations below are written
for characters; for other inputs read I for V and "input vector" for "character".

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
Like an RNN's h (layers, B, H) it has the batch second: (1, B, n-1) and (1, B, V)
(for float input vectors the window keeps the vectors themselves, (1, B, n-1, I)).
For float inputs, which can be negative, the bag uses sign(n) log(1 + |n|), the same
as log(1 + n) for counts.

Reference: Bengio, Ducharme, Vincent & Jauvin, "A Neural Probabilistic Language
Model" (2003).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backend.core.models.recurrent import encode_input

PAD = -1  # the id of "no character yet" in a window's state


class WindowMLP(nn.Module):
    """Predicts the next output from the previous `window` inputs only."""

    def __init__(
        self, input_size: int, hidden_size: int, window: int, output_size: int | None = None
    ) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be at least 1 (got {window})")
        self.kind = "window"
        self.input_size = input_size
        self.output_size = input_size if output_size is None else output_size
        self.hidden_size = hidden_size
        self.num_layers = 1  # one hidden layer; cfg.num_layers is for recurrent models
        self.activation = "tanh"
        self.window = window
        self.hidden = nn.Linear(window * input_size, hidden_size, bias=False)  # W_xh
        self.head = nn.Linear(hidden_size, self.output_size)  # W_hy, b_y

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input vectors (..., I): category ids become one-hot, float vectors pass."""
        return encode_input(x, self.input_size, self.head.weight.dtype)

    def features(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h_t at every position of x (B, T) or (B, T, I), and the last n - 1 inputs (state)."""
        if x.is_floating_point():
            return self._features_of_vectors(x, state)
        B, T = x.shape
        n, V = self.window, self.input_size
        # 1. Prepend the n - 1 characters before x (PAD at the start of a text).
        past = x.new_full((B, n - 1), PAD) if state is None else state[0]  # (B, n-1)
        ids = torch.cat([past, x], dim=1)  # (B, n-1+T)
        # 2. Every window of n ids, oldest first, at once: u_t's characters.
        windows = ids.unfold(1, n, 1)  # (B, T, n)
        # 3. W_xh u_t picks one column per window position k: column k*V + id.
        #    embedding_bag sums those columns without building the (B, T, nV) one-hots;
        #    a PAD position weighs 0, like an all-zero one-hot block.
        columns = torch.arange(n, device=x.device) * V + windows.clamp(min=0)  # (B, T, n)
        weights = (windows != PAD).to(self.hidden.weight.dtype)  # (B, T, n)
        a = F.embedding_bag(
            columns.reshape(B * T, n),
            self.hidden.weight.t(),  # (nV, H): row j is column j of W_xh
            mode="sum",
            per_sample_weights=weights.reshape(B * T, n),
        )  # (B*T, H)
        h = torch.tanh(a).reshape(B, T, -1)  # (B, T, H)
        return h, ids[None, :, T:]  # the state: the last n - 1 ids, (1, B, n-1)

    def _features_of_vectors(
        self, x: torch.Tensor, state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same window over float input vectors x (B, T, I); zeros before the start."""
        B, T, size = x.shape
        n = self.window
        x = x.to(self.hidden.weight.dtype)
        past = x.new_zeros(B, n - 1, size) if state is None else state[0]  # (B, n-1, I)
        seq = torch.cat([past, x], dim=1)  # (B, n-1+T, I)
        u = seq.unfold(1, n, 1).transpose(2, 3).reshape(B, T, n * size)  # (B, T, nI), oldest first
        h = torch.tanh(self.hidden(u))  # (B, T, H)
        return h, seq[None, :, T:]  # (1, B, n-1, I)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs after each position of x (B, T) or (B, T, I), and the new state."""
        h, state = self.features(x, state)  # (B, T, H)
        return self.head(h), state  # (B, T, O)

    def num_params(self) -> int:
        """How many numbers training adjusts: n*V*H + H*V + V, growing with the window n."""
        return sum(p.numel() for p in self.parameters())


class BagOfChars(nn.Module):
    """Predicts the next output from the sum of every input so far (counts, for characters)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int | None = None) -> None:
        super().__init__()
        self.kind = "bag"
        self.input_size = input_size
        self.output_size = input_size if output_size is None else output_size
        self.hidden_size = hidden_size
        self.num_layers = 1  # one hidden layer; cfg.num_layers is for recurrent models
        self.activation = "tanh"
        self.hidden = nn.Linear(input_size, hidden_size, bias=False)  # W_xh
        self.head = nn.Linear(hidden_size, self.output_size)  # W_hy, b_y

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input vectors (..., I): category ids become one-hot, float vectors pass."""
        return encode_input(x, self.input_size, self.head.weight.dtype)

    def features(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h_t at every position of x (B, T) or (B, T, I), and the sums so far (1, B, I)."""
        x_vec = self.encode(x)  # (B, T, I)
        # 1. Running counts: the counts before x plus a cumulative sum over time.
        counts = x_vec.cumsum(dim=1)  # (B, T, I)
        if state is not None:
            counts = counts + state[0, :, None]  # (B, 1, I) broadcast over time
        # 2. log(1 + n) grows slowly, so a long text does not saturate the tanh.
        h = torch.tanh(self.hidden(torch.sign(counts) * torch.log1p(counts.abs())))  # (B, T, H)
        return h, counts[None, :, -1]  # (1, B, I)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs after each position of x (B, T) or (B, T, I), and the new state."""
        h, state = self.features(x, state)  # (B, T, H)
        return self.head(h), state  # (B, T, O)

    def num_params(self) -> int:
        """How many numbers training adjusts: V*H + H*V + V, whatever the length of the text."""
        return sum(p.numel() for p in self.parameters())


BASELINES: dict[str, type[nn.Module]] = {"window": WindowMLP, "bag": BagOfChars}
