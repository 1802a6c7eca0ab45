"""A text as a sequence of word ids, split in time, with the vocabulary of its training part."""

from __future__ import annotations

import torch

from backend.core.data import SequenceDataset
from backend.errors import InvalidInput
from backend.tasks.words.tokens import MIN_TOKENS, VAL_FRACTION, WordVocab, split_vocab, tokenize


class WordDataset(SequenceDataset):
    """Word ids (N,): the training part, then the last tenth held out for validation."""

    def __init__(self, vocab: WordVocab, train: torch.Tensor, val: torch.Tensor) -> None:
        super().__init__(train, val)
        self.vocab = vocab

    @classmethod
    def from_text(
        cls, text: str, max_vocab: int, val_fraction: float = VAL_FRACTION
    ) -> WordDataset:
        """Tokenize `text`, hold out its end and number the words of the rest."""
        tokens = tokenize(text)
        if len(tokens) < MIN_TOKENS:
            raise InvalidInput(
                f"text needs at least {MIN_TOKENS} words (got {len(tokens)})", field="text"
            )
        vocab, n_val = split_vocab(tokens, max_vocab, val_fraction)
        return cls.from_tokens(tokens, vocab, n_val)

    @classmethod
    def from_tokens(cls, tokens: list[str], vocab: WordVocab, n_val: int) -> WordDataset:
        """The ids of `tokens` in a given vocabulary (a restored one), the last `n_val` held out."""
        ids = torch.tensor(vocab.encode(tokens), dtype=torch.long)  # (N,)
        return cls(vocab, train=ids[:-n_val], val=ids[-n_val:])

    def unk_rate(self) -> float:
        """The share of held-out words that are `<unk>`: what no model here can name."""
        return float((self.val == 0).float().mean())

    def __repr__(self) -> str:
        return f"WordDataset(words={len(self)}, vocab={self.vocab.size})"
