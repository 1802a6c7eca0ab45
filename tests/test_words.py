"""The word task: tokens in English and French, a capped vocabulary with <unk>, word windows,
and the k likeliest next words from a trained model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from backend import corpora
from backend.errors import InvalidInput
from backend.tasks.words.data import WordDataset
from backend.tasks.words.spec import SPEC
from backend.tasks.words.task import TASK, unigram_bits
from backend.tasks.words.tokens import UNK, WordVocab, detokenize, tokenize

torch.set_num_threads(1)


class TinyLSTM(nn.Module):
    """One-hot words into an LSTM and a linear head: forward(ids, state) -> (logits, state)."""

    def __init__(self, vocab: int, hidden: int = 16, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.vocab = vocab
        self.rnn = nn.LSTM(vocab, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.rnn(nn.functional.one_hot(x, self.vocab).float(), state)
        return self.head(h), state


def test_tokens_are_lower_case_words_and_punctuation():
    assert tokenize("This morning, I took my cat for a WALK!") == [
        *("this", "morning", ",", "i", "took", "my", "cat", "for", "a", "walk", "!"),
    ]
    assert tokenize("Don't go; it's Anna's boat.") == [
        "don't",
        "go",
        ";",
        "it's",
        "anna's",
        "boat",
        ".",
    ]


def test_french_elisions_are_tokens_of_their_own():
    assert tokenize("L’homme qu'il voit aujourd'hui, peut-être.") == [
        *("l'", "homme", "qu'", "il", "voit", "aujourd'hui", ",", "peut-être", "."),
    ]
    assert tokenize("« Bonjour ! » dit-elle.") == ["«", "bonjour", "!", "»", "dit-elle", "."]
    assert (
        detokenize(tokenize("L'homme qu'il voit, aujourd'hui."))
        == "l'homme qu'il voit, aujourd'hui."
    )


def test_the_vocabulary_keeps_the_commonest_words_and_maps_the_rest_to_unk():
    tokens = tokenize("the cat sat on the mat . the dog sat .")
    vocab = WordVocab.from_tokens(tokens, max_vocab=4)
    assert vocab.words == [UNK, "the", ".", "sat"]  # 3 x the, 2 x ., 2 x sat (ties: a-z)
    assert vocab.encode(["the", "cat", "sat"]) == [1, 0, 3]
    assert vocab.unknown(["the", "cat", "dog", "cat"]) == ["cat", "dog"]
    assert vocab.decode([1, 3]) == ["the", "sat"]
    with pytest.raises(ValueError):
        WordVocab.from_tokens(tokens, max_vocab=1)


def test_the_vocabulary_comes_from_the_training_part_only():
    text = corpora.load("english")
    ds = WordDataset.from_text(text, max_vocab=5000)
    tokens = tokenize(text)
    assert len(ds) == len(tokens) and len(ds.val) == len(tokens) // 10
    assert set(ds.vocab.words[1:]) == set(tokens[: -len(ds.val)])
    assert ds.vocab.decode(ds.train[:6].tolist()) == tokens[:6]
    # Words first seen in the held-out tenth are unknown there: about 7% of it.
    assert 0.03 < ds.unk_rate() < 0.12
    capped = WordDataset.from_text(text, max_vocab=500)
    assert capped.vocab.size == 500 and capped.unk_rate() > ds.unk_rate()


def test_windows_of_word_ids_are_targets_shifted_by_one():
    ds = WordDataset.from_text(corpora.load("french"), max_vocab=1000)
    x, y = ds.batch(4, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    xv, yv = ds.val_windows(8)
    assert torch.equal(xv.reshape(-1)[1:], yv.reshape(-1)[:-1])


def test_a_trained_model_names_the_next_word_and_lists_the_unknown_ones():
    text = "the cat sat on the mat . the dog ran to the park . " * 40
    task = TASK.build(SPEC.parse_source({"corpus": "upload", "text": text, "max_vocab": 50}), 0)
    model = TinyLSTM(task.input_size)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        x, y = task.dataset.batch(16, 8, g)
        loss = task.loss(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert task.metric(loss.item()) < 0.5  # bits/word: the text is almost deterministic
    query = SPEC.parse_query("predict", {"text": "The zebra sat on the", "k": 3})
    answer = task.answer(model, "predict", query)
    assert answer["top"][0]["word"] == "mat" and answer["top"][0]["p"] > 0.8
    assert len(answer["top"]) == 3
    assert answer["top"][0]["p"] >= answer["top"][1]["p"] >= answer["top"][2]["p"]
    assert answer["unknown"] == ["zebra"]
    assert [t["known"] for t in answer["tokens"]] == [True, False, True, True, True]
    assert answer["continuation"].startswith("mat. the")
    sample = task.sample(model, 12, 0.5, torch.Generator().manual_seed(1))
    assert len(sample["words"]) == 12 and set(sample["words"]) <= set(task.vocab.words)


def test_describe_gives_the_floor_of_word_frequencies():
    task = TASK.build(SPEC.parse_source({"corpus": "english"}), 0)
    info = task.describe()
    assert info["vocab_size"] == 1000 and info["uniform_bits"] == pytest.approx(math.log2(1000))
    assert 6.5 < info["unigram_bits"] < info["uniform_bits"]
    assert info["unigram_bits"] == pytest.approx(unigram_bits(task.dataset))
    assert task.encode(torch.tensor([[0, 3]])).shape == (1, 2, 1000)
    restored = TASK.restore(task.source, 0, task.state())
    assert restored.vocab.words == task.vocab.words
    assert torch.equal(restored.dataset.val, task.dataset.val)
    assert SPEC.sizes(task.source) == (1000, 1000)


def test_bad_sources_and_queries_get_clear_errors():
    with pytest.raises(InvalidInput, match="at least 200 words"):
        SPEC.parse_source({"corpus": "upload", "text": "far too short"})
    with pytest.raises(InvalidInput, match="max_vocab"):
        SPEC.parse_source({"corpus": "english", "max_vocab": 10**6})
    with pytest.raises(InvalidInput, match="unknown source"):
        SPEC.parse_source({"corpus": "english", "window": 2})
    with pytest.raises(InvalidInput, match="text"):
        SPEC.parse_query("predict", {"text": 3})
    with pytest.raises(InvalidInput, match="k must be"):
        SPEC.parse_query("predict", {"text": "a", "k": 0})
    with pytest.raises(InvalidInput, match="does not answer"):
        SPEC.parse_query("rollout", {"text": "a"})
    assert SPEC.parse_source({"corpus": "french"})["max_vocab"] == 1000
