import pytest
import torch

from backend.config import LIMITS
from backend.core.data import TextDataset, Vocab
from backend.errors import InvalidInput

TEXT = "hello world, the quick brown fox jumps over the lazy dog.\n" * 10


def test_vocab_round_trip():
    vocab = Vocab(TEXT)
    assert vocab.chars == sorted(set(TEXT))
    ids = vocab.encode(TEXT)
    assert ids.dtype == torch.long and ids.shape == (len(TEXT),)
    assert vocab.decode(ids) == TEXT
    assert vocab.index("h") == vocab.chars.index("h")
    assert vocab.index("Z") is None
    assert Vocab.from_list(vocab.to_list()).chars == vocab.chars


def test_split_holds_out_the_last_tenth():
    ds = TextDataset.from_text(TEXT)
    n_val = len(TEXT) // 10
    assert len(ds.val) == n_val
    assert ds.vocab.decode(ds.val) == TEXT[-n_val:]
    assert ds.vocab.decode(ds.train) == TEXT[:-n_val]


def test_batch_shapes_and_targets_shifted_by_one():
    ds = TextDataset.from_text(TEXT)
    g = torch.Generator().manual_seed(0)
    x, y = ds.batch(4, 8, g)
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])
    # Every window is a real piece of the training text, target included.
    train = ds.vocab.decode(ds.train)
    for xb, yb in zip(x, y, strict=True):
        window = ds.vocab.decode(xb) + ds.vocab.decode(yb[-1:])
        assert window in train


def test_batches_follow_the_generator():
    ds = TextDataset.from_text(TEXT)
    a = ds.batch(4, 8, torch.Generator().manual_seed(1))[0]
    b = ds.batch(4, 8, torch.Generator().manual_seed(1))[0]
    c = ds.batch(4, 8, torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_val_windows_are_deterministic_and_non_overlapping():
    ds = TextDataset.from_text(TEXT * 10)
    x, y = ds.val_windows(16)
    x2, y2 = ds.val_windows(16)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape[1] == 16 and x.shape[0] == (len(ds.val) - 1) // 16
    assert torch.equal(x.flatten(), ds.val[: x.numel()])
    assert torch.equal(y.flatten(), ds.val[1 : x.numel() + 1])


def test_val_windows_capped_by_max_items():
    ds = TextDataset.from_text(TEXT * 10)
    x, _ = ds.val_windows(8, max_items=40)
    assert x.shape == (5, 8)


def test_short_splits_give_shorter_windows():
    ds = TextDataset.from_text(TEXT[: LIMITS.min_text_chars])
    x, y = ds.val_windows(64)
    assert x.shape == (1, len(ds.val) - 1) and y.shape == x.shape
    xb, yb = ds.batch(2, 1000, torch.Generator().manual_seed(0))
    assert xb.shape == (2, len(ds.train) - 1)


def test_text_too_short_is_rejected():
    with pytest.raises(InvalidInput, match="at least"):
        TextDataset.from_text("x" * (LIMITS.min_text_chars - 1))


def test_too_many_distinct_characters_is_rejected():
    text = "".join(chr(0x4E00 + i) for i in range(LIMITS.max_vocab + 1))
    with pytest.raises(InvalidInput, match="distinct"):
        TextDataset.from_text(text)
