"""Training data as sequences: a character vocabulary and windows cut from a long sequence.

A recurrent network learns from a sequence s_1 ... s_N by predicting every next
element from the ones before it. Training cuts random windows of T + 1 elements
from the sequence and splits each into an input and a target shifted by one:

    x = s_k ... s_{k+T-1}        y = s_{k+1} ... s_{k+T}         (y_t = x_{t+1})

For text, s_t is a character id from a `Vocab`. `SequenceDataset` knows nothing
about characters: it only needs tensors whose first dimension is time, so a
numeric sequence (a ball's positions (N, 2), a price series (N, 1)) can later be
a dataset beside text by subclassing it with float tensors.

Training can instead read the sequence in order, for a model that carries its hidden
state from one window to the next (truncated backpropagation through time; Williams &
Peng, 1990). The training part is cut into B lanes of equal length L, one per batch row,
and step k takes window k of every lane:

    lane b:  s_{o + bL} ...                 x_{b,k} = s_{o + bL + kT} ... s_{o + bL + kT + T-1}

so row b of one batch continues exactly where row b of the previous batch stopped. A
random offset o < T starts each pass over the lanes, so the cuts move from pass to pass.

The last part of the sequence (10% by default) is held out for validation; it is
cut into fixed, non-overlapping windows so the validation loss of two steps, or
two runs, is measured on exactly the same characters.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from backend.config import LIMITS
from backend.errors import InvalidInput

DEFAULT_VAL_CHARS = 16384  # enough for a stable estimate, small enough to evaluate often


class Vocab:
    """The distinct characters of a text, sorted, each with an integer id (its position)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Ids of every character of `text` as a LongTensor (N,); all must be in the vocab."""
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The characters with these ids, joined."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)

    def index(self, ch: str) -> int | None:
        """The id of `ch`, or None if the text never contained it."""
        return self.stoi.get(ch)

    def to_list(self) -> list[str]:
        return list(self.chars)

    @classmethod
    def from_list(cls, chars: list[str]) -> Vocab:
        return cls(chars)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"Vocab(size={self.size})"


class SequenceDataset:
    """A long sequence split into a training part and a held-out validation part.

    `train` and `val` are tensors with time on their first dimension: (N,) ids for
    text, or (N, D) floats for a numeric series. Subclasses add how to build them.
    """

    def __init__(self, train: torch.Tensor, val: torch.Tensor) -> None:
        if len(train) < 2 or len(val) < 2:
            raise ValueError("train and val need at least two elements each")
        self.train = train
        self.val = val

    def batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` random training windows: inputs x and targets y = x shifted by one.

        Returns x, y of shape (B, T, ...), where T is `seq_len`, or shorter if the
        training part is too short to hold a window of T + 1 elements.
        """
        T = min(seq_len, len(self.train) - 1)
        # 1. Random window starts; start + T is the last target, so it must be < N.
        starts = torch.randint(0, len(self.train) - T, (batch_size,), generator=generator)
        # 2. Cut them out.
        return self.cut(starts, T)

    def stream_batch(
        self, batch_size: int, seq_len: int, index: int, offset: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Window `index` of each of `batch_size` consecutive lanes, x and y (B, T, ...).

        None when the lanes hold no window `index` any more: the pass over them is over
        (at once, if the training part is too short for one window in every lane).
        """
        T = min(seq_len, len(self.train) - 1)
        L = (len(self.train) - 1 - offset) // batch_size  # inputs per lane
        if (index + 1) * T > L:
            return None
        starts = offset + torch.arange(batch_size) * L + index * T  # (B,)
        return self.cut(starts, T)

    def cut(self, starts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training windows starting at `starts` (B,): inputs x and targets y (B, T, ...)."""
        # Gather all windows at once with an index grid instead of a Python loop.
        idx = starts[:, None] + torch.arange(T + 1)  # (B, T+1)
        chunk = self.train[idx]  # (B, T+1, ...)
        return chunk[:, :-1], chunk[:, 1:]

    def val_windows(
        self, seq_len: int, max_items: int = DEFAULT_VAL_CHARS
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed, non-overlapping windows over the first `max_items` validation elements.

        Returns x, y of shape (W, T, ...); T shrinks below `seq_len` when the
        validation part is shorter than one window of T + 1 elements.
        """
        val = self.val[: max_items + 1]
        T = max(1, min(seq_len, len(val) - 1))
        W = (len(val) - 1) // T  # whole windows that fit; the remainder is dropped
        x = val[: W * T].reshape(W, T, *val.shape[1:])
        y = val[1 : W * T + 1].reshape(W, T, *val.shape[1:])
        return x, y

    def __len__(self) -> int:
        return len(self.train) + len(self.val)


class TextDataset(SequenceDataset):
    """A text as a sequence of character ids, with its vocabulary."""

    def __init__(self, text: str, vocab: Vocab, train: torch.Tensor, val: torch.Tensor) -> None:
        super().__init__(train, val)
        self.text = text
        self.vocab = vocab

    @classmethod
    def from_text(cls, text: str, val_fraction: float = 0.1) -> TextDataset:
        """Check `text`, build its vocabulary and hold out its last `val_fraction` as validation."""
        validate_text(text)
        vocab = Vocab(text)
        # Stored as int16 (vocabularies are capped well below 32768): a 2 MB text costs 4 MB
        # in a worker instead of 16 MB; windows become int64 ids only when they are cut.
        ids = vocab.encode(text).to(torch.int16)  # (N,)
        n_val = min(max(2, int(len(ids) * val_fraction)), len(ids) - 2)
        return cls(text, vocab, train=ids[:-n_val], val=ids[-n_val:])

    def cut(self, starts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().cut(starts, T)
        return x.long(), y.long()

    def val_windows(
        self, seq_len: int, max_items: int = DEFAULT_VAL_CHARS
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().val_windows(seq_len, max_items)
        return x.long(), y.long()

    def __repr__(self) -> str:
        return f"TextDataset(chars={len(self)}, vocab={self.vocab.size})"


def validate_text(text: str) -> None:
    """Raise InvalidInput if `text` is too short to train on or has too many distinct characters."""
    if not isinstance(text, str):
        raise InvalidInput("text must be a string", field="text")
    if len(text) < LIMITS.min_text_chars:
        raise InvalidInput(
            f"text needs at least {LIMITS.min_text_chars} characters (got {len(text)})",
            field="text",
        )
    distinct = len(set(text))
    if distinct > LIMITS.max_vocab:
        raise InvalidInput(
            f"text has {distinct} distinct characters; the most allowed is {LIMITS.max_vocab}",
            field="text",
        )
