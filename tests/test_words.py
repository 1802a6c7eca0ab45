"""The word task: tokens in English and French, a capped vocabulary with <unk>, word windows,
and the k likeliest next words from a trained model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from backend import corpora
from backend.config import parse
from backend.core.models import build_model
from backend.core.training import build_optimizer
from backend.errors import InvalidInput
from backend.lessons import verdicts
from backend.lessons.verdicts import RunEnd
from backend.tasks.words.data import WordDataset
from backend.tasks.words.lesson import RUNNING_EXAMPLE
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


def test_look_inside_traces_gates_word_by_word():
    text = "the cat sat on the mat . the dog ran to the park . " * 40
    task = TASK.build(SPEC.parse_source({"corpus": "upload", "text": text, "max_vocab": 50}), 0)
    model = build_model(
        parse({"model": "lstm", "hidden_size": 8, "num_layers": 1}), task.input_size
    )
    query = SPEC.parse_query("inspect", {"text": "The zebra sat", "seq": 1, "position": 2})
    out = task.answer(model, "inspect", query)
    assert out["chars"] == ["the", UNK, "sat"]
    assert out["saliency"]["position"] == 2 and len(out["saliency"]["raw"]) == 2
    assert len(out["next"]) == 5 and out["next"][0]["char"] in task.vocab.words
    window = build_model(parse({"model": "window", "hidden_size": 8}), task.input_size)
    with pytest.raises(InvalidInput, match="no recurrent cell"):
        task.answer(window, "inspect", query)


def test_describe_gives_the_floor_of_word_frequencies():
    task = TASK.build(SPEC.parse_source({"corpus": "english"}), 0)
    info = task.describe()
    assert info["vocab_size"] == 1000 and info["uniform_bits"] == pytest.approx(math.log2(1000))
    assert 6.5 < info["unigram_bits"] < info["uniform_bits"]
    assert info["unigram_bits"] == pytest.approx(unigram_bits(task.dataset))
    assert torch.equal(task.encode(torch.tensor([[0, 3]])), torch.tensor([[0, 3]]))
    assert task.vocab.words[task.start_id()] == "."
    assert task.sample_from_ids([task.vocab.index("the"), 2]) == {
        "text": "the.",
        "words": ["the", "."],
    }
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
    with pytest.raises(InvalidInput, match="text must be"):
        SPEC.parse_query("inspect", {"text": "", "seq": 0})
    assert SPEC.parse_source({"corpus": "french"})["max_vocab"] == 1000


# ------------------------------------------------------- the running example, as a lesson

SEEDS = range(5)
NEED = 4  # as in tests/test_lessons.py: the claim must hold on 4 of 5 seeds


def lesson_bits(seed: int, lang: str = "en") -> tuple[dict[str, int], dict[str, float]]:
    """Each run of the lesson trained for its budget on the stories of `lang`, as Trainer.step
    does: parameters, and held-out bits per word over the fixed validation windows."""
    corpus = RUNNING_EXAMPLE.data.corpus.get(lang)
    task = TASK.build(SPEC.parse_source({"corpus": corpus, **RUNNING_EXAMPLE.data.params}), 0)
    params, bits = {}, {}
    for label, cfg in RUNNING_EXAMPLE.configs().items():
        cfg = cfg.replace(seed=seed)
        model = build_model(cfg, task.input_size)
        opt = build_optimizer(cfg, model.parameters())
        g = torch.Generator().manual_seed(cfg.seed)
        for _ in range(RUNNING_EXAMPLE.steps):
            x, y = task.dataset.batch(cfg.batch_size, cfg.seq_len, g)
            loss = task.loss(model(task.encode(x))[0], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_threshold)
            opt.step()
        xv, yv = task.dataset.val_windows(cfg.seq_len)
        with torch.no_grad():
            bits[label] = task.metric(task.loss(model(task.encode(xv))[0], yv).item())
        params[label] = model.num_params()
    return params, bits


def test_the_running_example_counts_parameters_as_its_claim_says():
    V, H = RUNNING_EXAMPLE.data.params["max_vocab"], RUNNING_EXAMPLE.settings["hidden_size"]
    counts = {
        label: build_model(cfg, V).num_params() for label, cfg in RUNNING_EXAMPLE.configs().items()
    }
    assert counts["2-word window"] == 2 * V * H + H * V + V == 48_500
    assert counts["5-word window"] - counts["2-word window"] == 3 * V * H == 48_000
    assert counts["RNN"] == V * H + H * H + 2 * H + H * V + V == 33_588
    assert counts["bag of words"] == V * H + H * V + V


@pytest.mark.timeout(1200)  # 16 models of 600 steps: 8 minutes measured on a busy 2-core box
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_running_example_claim(lang: str):
    results = []
    for seed in SEEDS:
        params, bits = lesson_bits(seed, lang)
        # Measured, bits/word at step 600. English, seeds 0-4: bag 6.37-6.43, 2-word window
        # 5.35-5.38, 5-word window 5.73-5.81, RNN 5.40-5.43, so bag - w2 is 1.00-1.09, w5 - w2
        # 0.35-0.44, rnn - w2 0.02-0.06. French, seeds 0-2: bag 6.30-6.35, 2-word window 5.10,
        # 5-word window 5.47-5.56, RNN 5.22-5.25, so bag - w2 1.20-1.24, w5 - w2 0.37-0.46,
        # rnn - w2 0.12-0.15.
        # Judged by the lesson's judge, the one the page shows at the end of the budget.
        ends = {label: RunEnd(bits[label], params[label]) for label in bits}
        ok = verdicts.judge(RUNNING_EXAMPLE.id, ends).held
        results.append((seed, ok, " ".join(f"{k}={v:.2f}" for k, v in bits.items())))
        passed = sum(r[1] for r in results)
        if passed >= NEED or len(results) - passed > len(SEEDS) - NEED:
            break
    report = "\n".join(f"seed {s}: {'ok' if ok else 'MISSED'} - {why}" for s, ok, why in results)
    assert passed >= NEED, f"the claim held on {passed} of {len(results)} seeds:\n{report}"
