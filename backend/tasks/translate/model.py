"""An encoder-decoder (sequence to sequence) of recurrent cells, with optional attention.

The encoder reads the English characters x_1 ... x_S (one-hot) with the session's cell:

    h_s = cell(x_s, h_{s-1})            s = 1 ... S,  h_0 = 0          (enc_out: (B, S, H))

Its final state h_S (every layer's, and c_S for an LSTM) is all the decoder receives:
the decoder starts from it and writes the French characters y_1 ... y_U one at a time,
each step reading the previous character (<bos> first):

    d_0 = h_S        d_u = cell'(y_{u-1}, d_{u-1})        p(y_u | ...) = softmax(W_hy d_u + b_y)

In training the previous character is the true one (teacher forcing), so the decoder runs
as one fused call over the whole target; when translating it is the model's own choice
(greedy: the argmax; beam search: the k best prefixes by summed log-probability).

Attention (Luong, Pham and Manning 2015, "global" attention; beyond the course) lets each
decoder step look back at every encoder state instead of the one vector h_S:

    score(d_u, h_s) = d_u . W_a h_s    ("general"; "dot" is W_a = I)
    a_u = softmax_s(score(d_u, h_s))   (padding masked)     c_u = sum_s a_{u,s} h_s
    d~_u = tanh(W_c [c_u; d_u])        p(y_u | ...) = softmax(W_hy d~_u + b_y)

It is computed *after* the decoder's recurrence (no input feeding), so training keeps the
decoder as one fused PyTorch RNN call, and decoding step by step gives the same numbers.
The rows a_u form the alignment matrix the page draws (output characters x input characters).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from backend.core.models import CELLS, State

PAD = 0  # id 0 of both vocabularies: padding, never predicted


@dataclass
class Encoded:
    """What the encoder gives the decoder: every state (for attention) and the final one."""

    out: torch.Tensor  # (B, S, H): the top layer's h_s at every input character
    mask: torch.Tensor  # (B, S): True on real characters, False on padding
    state: State  # (L, B, H), or (h, c) for an LSTM: where the decoder starts


class Seq2Seq(nn.Module):
    """Encoder and decoder of the same cell kind and size; x packs source and decoder input."""

    def __init__(
        self,
        cell: str,
        source_size: int,
        target_size: int,
        hidden_size: int,
        num_layers: int,
        attention: str = "none",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"a translator's cell is one of {', '.join(CELLS)}, not {cell!r}")
        if attention not in ("none", "dot", "general"):
            raise ValueError(f"unknown attention {attention!r}")
        self.kind = "seq2seq"  # not a generic cell: the per-step gate views and diagnostics skip it
        self.cell = cell
        self.source_size, self.target_size = source_size, target_size
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.attention = attention
        self.encoder = CELLS[cell](source_size, hidden_size, num_layers, batch_first=True)
        self.decoder = CELLS[cell](target_size, hidden_size, num_layers, batch_first=True)
        if attention == "general":
            self.attn = nn.Linear(hidden_size, hidden_size, bias=False)  # W_a
        if attention != "none":
            self.combine = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_c
        self.head = nn.Linear(hidden_size, target_size)  # W_hy, b_y

    # ------------------------------------------------------------------ encoder

    def encode_source(self, src: torch.Tensor) -> Encoded:
        """Read source ids (B, S), padded with PAD after each input, in one fused call."""
        lengths = (src != PAD).sum(1).clamp(min=1)  # (B,)
        x = F.one_hot(src, self.source_size).to(self.head.weight.dtype)  # (B, S, V_en)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.encoder(packed)  # state: after each row's last real character
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return Encoded(out, src != PAD, state)

    # ------------------------------------------------------------------ decoder

    def decode(
        self, enc: Encoded, dec_in: torch.Tensor, state: State = None
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Logits (B, U, V_fr) for decoder input ids (B, U), the new state, and attention
        weights (B, U, S) (None without attention). `state` None: start from the encoder's."""
        state = enc.state if state is None else state
        x = F.one_hot(dec_in, self.target_size).to(self.head.weight.dtype)  # (B, U, V_fr)
        d, state = self.decoder(x, state)  # (B, U, H)
        if self.attention == "none":
            return self.head(d), state, None
        keys = self.attn(enc.out) if self.attention == "general" else enc.out  # (B, S, H)
        scores = d @ keys.transpose(1, 2)  # (B, U, S): d_u . W_a h_s
        scores = scores.masked_fill(~enc.mask[:, None, :], float("-inf"))
        a = scores.softmax(-1)  # (B, U, S): each row sums to 1 over the real characters
        context = a @ enc.out  # (B, U, H): c_u
        d_tilde = torch.tanh(self.combine(torch.cat([context, d], -1)))  # (B, U, H)
        return self.head(d_tilde), state, a

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """Teacher-forced logits (B, T, V_fr) for x (B, T, 2): [..., 0] source ids, [..., 1]
        decoder input ids (<bos> then the target), both padded with PAD."""
        enc = self.encode_source(x[..., 0])
        logits, state, _ = self.decode(enc, x[..., 1])
        return logits, state

    def num_params(self) -> int:
        """How many numbers training adjusts."""
        return sum(p.numel() for p in self.parameters())


def start_vector(state: State) -> torch.Tensor:
    """The top layer's h of a state (L, B, H) or (h, c): (B, H), where the decoder starts."""
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]


def select_rows(state: State, rows: torch.Tensor) -> State:
    """A state's batch rows `rows` (beam search keeps the best prefixes' states)."""
    if isinstance(state, tuple):
        return tuple(s[:, rows] for s in state)
    return state[:, rows]
