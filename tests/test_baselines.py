"""The baselines without recurrence: a fixed window of characters and a bag of characters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from backend import config
from backend.config import TrainConfig
from backend.core.models import BagOfChars, WindowMLP, build_model
from backend.core.training import Trainer
from backend.errors import InvalidInput
from backend.store.exchange import expected_shapes
from backend.tasks.text.task import TextTask

V = 11
TEXT = "hello world " * 50


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One thread, as on a shared classroom server, and timings that do not fight other tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(kind: str, **changes) -> TrainConfig:
    return TrainConfig(model=kind, hidden_size=8, num_layers=1, **changes)


@pytest.mark.parametrize(("kind", "state_shape"), [("window", (1, 3, 4)), ("bag", (1, 3, V))])
def test_output_and_state_shapes(kind, state_shape):
    model = build_model(tiny(kind, window=5), V)
    logits, state = model(torch.randint(0, V, (3, 7)))
    assert logits.shape == (3, 7, V)
    assert (
        state.shape == state_shape
    )  # window: the last n - 1 ids; bag: the counts; batch second like an RNN's h


@pytest.mark.parametrize("kind", ["window", "bag"])
def test_state_carries_over_like_one_long_call(kind):
    model = build_model(tiny(kind, window=4), V)
    x = torch.randint(0, V, (2, 9))
    whole, _ = model(x)
    first, state = model(x[:, :2])  # shorter than the window: the state still holds padding
    rest, _ = model(x[:, 2:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole)


def test_window_is_an_mlp_over_concatenated_one_hots():
    model = build_model(tiny("window", window=3), V)
    x = torch.randint(0, V, (2, 6))
    # The textbook computation: zero-pad, concatenate the n one-hots oldest first, multiply.
    x_onehot = F.pad(F.one_hot(x, V).float(), (0, 0, 2, 0))  # (B, T+2, V)
    u = torch.cat([x_onehot[:, k : k + 6] for k in range(3)], dim=-1)  # (B, T, 3V)
    expected = model.head(torch.tanh(u @ model.hidden.weight.T))
    torch.testing.assert_close(model(x)[0], expected)


def test_window_is_blind_past_its_width():
    model = build_model(tiny("window", window=4), V)
    x = torch.randint(0, V, (1, 10))
    changed = x.clone()
    changed[0, 3] = (x[0, 3] + 1) % V
    logits, changed_logits = model(x)[0], model(changed)[0]
    # Position 3 is inside the windows ending at 3..6 and outside every later one.
    assert not torch.allclose(logits[0, 3:7], changed_logits[0, 3:7])
    torch.testing.assert_close(logits[0, 7:], changed_logits[0, 7:])


def test_bag_ignores_the_order_of_what_it_has_read():
    model = build_model(tiny("bag"), V)
    x = torch.randint(0, V, (1, 12))
    shuffled = torch.cat([x[:, :8][:, torch.randperm(8)], x[:, 8:]], dim=1)
    # After position 8 both have read the same characters, in a different order.
    torch.testing.assert_close(model(x)[0][:, 7:], model(shuffled)[0][:, 7:])


def test_window_parameters_grow_with_width_while_an_rnn_shares_its_own():
    H = 8
    counts = [build_model(tiny("window", window=n), V).num_params() for n in (1, 2, 4, 8)]
    assert counts == [n * V * H + H * V + V for n in (1, 2, 4, 8)]  # W_xh, W_hy, b_y
    rnn = [build_model(tiny("rnn", seq_len=T), V) for T in (8, 64, 256)]
    assert len({m.num_params() for m in rnn}) == 1
    # The same weights read any length of text.
    assert rnn[0](torch.randint(0, V, (1, 300)))[0].shape == (1, 300, V)


@pytest.mark.parametrize("kind", ["window", "bag"])
def test_shapes_are_known_before_building(kind):
    model = build_model(tiny(kind, window=6), V)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert shapes == expected_shapes(tiny(kind, window=6), V)


@pytest.mark.parametrize("kind", ["window", "bag"])
def test_same_seed_same_weights_and_global_rng_untouched(kind):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = build_model(tiny(kind, seed=5), V), build_model(tiny(kind, seed=5), V)
    assert torch.equal(torch.rand(3), expected)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert isinstance(a, WindowMLP if kind == "window" else BagOfChars)


def test_settings_accept_the_baselines_and_bound_the_window():
    cfg = config.parse({"model": "window", "window": 16})
    assert (cfg.model, cfg.window) == ("window", 16)
    assert config.parse({"model": "bag"}).model == "bag"
    for bad in (0, 65, 2.5):
        with pytest.raises(InvalidInput) as err:
            config.parse({"window": bad})
        assert err.value.field == "window"
    assert cfg.needs_rebuild(cfg.replace(window=4))


def make_trainer(kind: str, **changes) -> Trainer:
    cfg = TrainConfig(
        model=kind, hidden_size=16, num_layers=1, seq_len=12, batch_size=8, learning_rate=1e-2
    )
    return Trainer(TextTask.from_text(TEXT), cfg.replace(**changes))


def test_window_learns_and_continues_a_repetitive_text():
    trainer = make_trainer("window", window=4)
    start = trainer.evaluate()
    for _ in range(150):
        trainer.step()
    assert trainer.evaluate() < 0.3 * start  # 4 characters decide the next one here
    # Generation carries the window's state from one character to the next.
    assert trainer.task.predict(trainer.model, "hello wor", length=14)["greedy"] == "ld hello world"
    assert trainer.task.sample(
        trainer.model, 20, 0.5, prompt="hel", generator=torch.Generator().manual_seed(0)
    )["text"]


def test_bag_trains_and_generates_with_the_trainer():
    trainer = make_trainer("bag")
    start = trainer.evaluate()
    for _ in range(150):
        trainer.step()
    assert trainer.evaluate() < start - 0.5  # it learns the letter frequencies, at least
    out = trainer.task.predict(trainer.model, "hello", k=3, length=10)
    assert len(out["top"]) == 3 and len(out["greedy"]) == 10 and len(out["sample"]) == 10
    assert len(trainer.sample(15, 1.0)["text"]) == 15  # no prompt: starts from the zero state
