import math

import pytest
import torch

from backend.config import TrainConfig
from backend.core.training import StepResult, Trainer, next_logits
from backend.tasks.text.task import TextTask

TEXT = "hello world " * 50
TINY = TrainConfig(hidden_size=16, num_layers=1, seq_len=12, batch_size=8, learning_rate=1e-2)


def make_trainer(text: str = TEXT, **changes) -> Trainer:
    return Trainer(TextTask.from_text(text), TINY.replace(**changes))


@pytest.fixture(scope="module")
def trained() -> Trainer:
    """A small LSTM that has learned "hello world " well enough to continue it."""
    trainer = make_trainer(hidden_size=32)
    for _ in range(150):
        trainer.step()
    return trainer


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_loss_falls_on_repetitive_text(kind):
    trainer = make_trainer(model=kind)
    start = trainer.evaluate()
    losses = [trainer.step().loss for _ in range(120)]
    assert start > 2.0  # about log2(8) = 3 bits before training
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    assert trainer.evaluate() < 0.5 * start


def test_step_reports_progress():
    trainer = make_trainer()
    result = trainer.step()
    assert isinstance(result, StepResult)
    assert result.step == 1 and result.items == 8 * 12
    trainer.step()
    assert trainer.step_count == 2 and trainer.items_seen == 2 * 8 * 12


def test_same_seed_same_losses_different_seed_different():
    a, b, c = make_trainer(seed=3), make_trainer(seed=3), make_trainer(seed=4)
    la = [a.step().loss for _ in range(5)]
    lb = [b.step().loss for _ in range(5)]
    lc = [c.step().loss for _ in range(5)]
    assert la == lb
    assert la != lc


def test_clipping_flags():
    clipped = make_trainer(clip=True, clip_threshold=0.01).step()
    assert clipped.grad_norm > 0.01 and clipped.clipped
    loose = make_trainer(clip=True, clip_threshold=100.0).step()
    assert loose.grad_norm < 100.0 and not loose.clipped
    off = make_trainer(clip=False).step()
    assert off.grad_norm > 0 and not off.clipped
    # The norm is reported before clipping, so it does not depend on the threshold.
    assert math.isclose(clipped.grad_norm, loose.grad_norm, rel_tol=1e-5)


def test_clipping_bounds_the_update():
    small, big = make_trainer(optimizer="sgd", clip_threshold=0.01), make_trainer(optimizer="sgd")
    before = [p.clone() for p in small.model.parameters()]
    small.step()
    big.step()
    moved_small = sum(
        (p - q).norm() ** 2 for p, q in zip(small.model.parameters(), before, strict=True)
    )
    moved_big = sum(
        (p - q).norm() ** 2 for p, q in zip(big.model.parameters(), before, strict=True)
    )
    assert math.isclose(moved_small.sqrt().item(), 1e-2 * 0.01, rel_tol=1e-3)  # lr * threshold
    assert moved_big > moved_small


def test_predict_top_k_and_continuations(trained):
    out = trained.task.predict(
        trained.model, "hello wor", k=3, length=12, generator=torch.Generator().manual_seed(0)
    )
    probs = [entry["p"] for entry in out["top"]]
    assert len(out["top"]) == 3
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert out["top"][0]["char"] == "l"
    assert len(out["greedy"]) == len(out["sample"]) == 12
    assert out["greedy"].startswith("ld hello")
    assert out["unknown"] == []


def test_predict_skips_unknown_characters(trained):
    out = trained.task.predict(trained.model, "hel?lo wQor", k=2, length=5)
    assert out["unknown"] == ["?", "Q"]
    assert out["top"][0]["char"] == "l"
    assert len(out["top"]) == 2 and len(out["greedy"]) == 5


def test_predict_from_empty_text_uses_zero_state(trained):
    out = trained.task.predict(trained.model, "", k=100, length=4)
    assert len(out["top"]) == trained.dataset.vocab.size  # k is capped at the vocabulary
    assert math.isclose(sum(e["p"] for e in out["top"]), 1.0, rel_tol=1e-5)
    head_bias = trained.model.head.bias
    assert out["top"][0]["char"] == trained.dataset.vocab.chars[int(head_bias.argmax())]


def test_sample_length_prompt_and_seed(trained):
    g = torch.Generator().manual_seed(0)
    text = trained.task.sample(trained.model, 20, temperature=0.5, generator=g)["text"]
    assert len(text) == 20 and set(text) <= set(TEXT)
    prompted = trained.task.sample(trained.model, 10, temperature=0.5, prompt="hello", generator=g)[
        "text"
    ]
    assert prompted.startswith("hello") and len(prompted) == 15
    again = trained.task.sample(
        trained.model, 20, temperature=0.5, generator=torch.Generator().manual_seed(0)
    )["text"]
    assert again == text


def test_a_diverged_model_still_samples():
    trainer = make_trainer()  # weights gone to NaN, as without clipping in the lesson
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(float("nan"))
    text = trainer.task.sample(
        trainer.model, 10, temperature=1.0, generator=torch.Generator().manual_seed(0)
    )["text"]
    assert len(text) == 10 and set(text) <= set(TEXT)


def test_update_config_live_and_non_live():
    trainer = make_trainer()
    trainer.step()
    weights = [p.clone() for p in trainer.model.parameters()]
    trainer.update_config(trainer.cfg.replace(learning_rate=1e-3, clip=False, temperature=1.2))
    assert trainer.optimizer.param_groups[0]["lr"] == 1e-3
    assert trainer.cfg.temperature == 1.2 and not trainer.cfg.clip
    trainer.update_config(trainer.cfg.replace(optimizer="sgd"))
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    assert trainer.optimizer.param_groups[0]["lr"] == 1e-3
    for p, q in zip(trainer.model.parameters(), weights, strict=True):
        assert torch.equal(p, q)
    trainer.step()
    with pytest.raises(ValueError, match="hidden_size"):
        trainer.update_config(trainer.cfg.replace(hidden_size=32))


def test_state_dict_resumes_exactly():
    a = make_trainer()
    for _ in range(3):
        a.step()
    b = make_trainer()  # same settings, still at step 0
    b.load_state_dict(a.state_dict())
    assert b.step_count == 3
    assert [a.step().loss for _ in range(3)] == [b.step().loss for _ in range(3)]


def test_hand_written_lstm_generation_step_matches_the_fused_module() -> None:
    text = "the quick brown fox jumps over the lazy dog. " * 10
    cfg = TrainConfig(model="lstm", hidden_size=16, num_layers=2, seq_len=8, batch_size=4)
    trainer = Trainer(TextTask.from_text(text), cfg)
    x = torch.tensor([3, 5, 7])
    with torch.inference_mode():
        _, state = trainer.model(torch.randint(0, 10, (3, 6)))
        fused_logits, (fused_h, fused_c) = trainer.model(x[:, None], state)
        logits, (h, c) = next_logits(trainer.model, x, state)
        first, _ = next_logits(trainer.model, x, None)
        fresh, _ = trainer.model(x[:, None])
        # A task's float input vectors take the product path: the same step as the gather.
        one_hot = torch.nn.functional.one_hot(x, trainer.model.input_size).float()
        from_vectors, _ = next_logits(trainer.model, one_hot, state)
    torch.testing.assert_close(logits, fused_logits[:, -1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(from_vectors, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h, fused_h, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c, fused_c, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first, fresh[:, -1], atol=1e-5, rtol=1e-5)
