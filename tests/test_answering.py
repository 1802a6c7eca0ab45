"""Answers kept per client and batched over clients equal a full re-run of each text."""

import contextlib

import pytest
import torch

from backend.config import TrainConfig
from backend.core.training import Trainer
from backend.tasks.text import answering
from backend.tasks.text.answering import Answerer
from backend.tasks.text.task import TextTask

TEXT = "the quick brown fox jumps over the lazy dog. " * 20
NO_LOCK = contextlib.nullcontext()


def make_trainer(kind: str, layers: int = 2) -> Trainer:
    cfg = TrainConfig(model=kind, hidden_size=8, num_layers=layers, seq_len=8, batch_size=4)
    trainer = Trainer(TextTask.from_text(TEXT), cfg)
    for _ in range(3):
        trainer.step()
    return trainer


def query(client: str, text: str, length: int = 0, k: int = 5) -> dict:
    return {"client": client, "text": text, "k": k, "temperature": 0.8, "length": length}


def top(result: dict) -> dict[str, float]:
    return {t["char"]: t["p"] for t in result["top"]}


def assert_same_top(result: dict, expected: dict) -> None:
    assert [t["char"] for t in result["top"]] == [t["char"] for t in expected["top"]]
    for a, b in zip(result["top"], expected["top"], strict=True):
        assert a["p"] == pytest.approx(b["p"], abs=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_typing_one_key_at_a_time_equals_a_full_rerun(kind):
    trainer = make_trainer(kind)
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    typed = ""
    # Two clients append, one edits (a backspace) and one sends the other's text.
    for ch in "the lazy fox jumps":
        typed += ch
        edited = typed[:-2] if len(typed) > 3 else typed
        queries = [
            query("a", typed),
            query("b", typed + "o"),
            query("c", edited),
            query("d", typed),
        ]
        for q, result in zip(queries, answerer.answer(queries, [False] * 4), strict=True):
            assert_same_top(result, trainer.task.predict(trainer.model, q["text"], k=5, length=0))
            assert result["step"] == trainer.step_count


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_state_kept_equals_torch_nn_on_the_whole_text(kind):
    trainer = make_trainer(kind)
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    text = "over the lazy dog"
    for n in range(1, len(text) + 1):
        (read,) = answerer.read([("a", tuple(trainer.dataset.vocab.encode(text[:n]).tolist()))])
    x = trainer.dataset.vocab.encode(text)[None]
    with torch.no_grad():
        logits, state = trainer.model(x)
    torch.testing.assert_close(read.logits, logits[0, -1], atol=1e-5, rtol=1e-5)
    states = state if isinstance(state, tuple) else (state,)
    kept = read.state if isinstance(read.state, tuple) else (read.state,)
    for a, b in zip(kept, states, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_greedy_continuation_equals_the_full_rerun():
    trainer = make_trainer("lstm")
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    queries = [
        query("a", "the qu", length=12),
        query("b", "lazy", length=12),
        query("c", "", length=5),
    ]
    results = answerer.answer(queries, [True, True, True])
    for q, result in zip(queries, results, strict=True):
        expected = trainer.task.predict(trainer.model, q["text"], k=5, length=q["length"])
        assert result["greedy"] == expected["greedy"]
        assert len(result["sample"]) == q["length"] and result["continued"]
        assert_same_top(result, expected)


def test_a_deferred_continuation_says_so():
    trainer = make_trainer("gru")
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    (result,) = answerer.answer([query("a", "the", length=10)], [False])
    assert not result["continued"] and result["greedy"] == ""
    (result,) = answerer.answer([query("a", "the", length=0)], [False])
    assert result["continued"]


def test_the_snapshot_follows_training_and_forgets_old_states(monkeypatch):
    monkeypatch.setattr(answering, "REFRESH_S", 1e9)  # no timing: the snapshot is always fresh
    trainer = make_trainer("lstm")
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    answerer.answer([query("a", "the qui")], [False])
    trainer.step()
    answerer.refresh(running=True, lock=NO_LOCK)  # training and fresh: the snapshot stays
    assert answerer.step == trainer.step_count - 1
    answerer.refresh(running=False, lock=NO_LOCK)  # paused: the snapshot catches up at once
    assert answerer.step == trainer.step_count
    (result,) = answerer.answer([query("a", "the quick")], [False])
    assert_same_top(result, trainer.task.predict(trainer.model, "the quick", k=5, length=0))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_new_snapshot_rereads_every_kept_text_and_appends_stay_exact(kind, monkeypatch):
    trainer = make_trainer(kind)
    answerer = Answerer(trainer)
    answerer.refresh(running=False, lock=NO_LOCK)
    answerer.answer(
        [query("a", "the qui"), query("b", "lazy d"), query("c", "lazy d")], [False] * 3
    )
    assert answerer.backlog() == len("the qui") + len("lazy d")  # shared texts count once
    trainer.step()
    answerer.refresh(running=False, lock=NO_LOCK)
    assert answerer.step == trainer.step_count
    assert {r.ids for r in answerer.reads.values()} == set(answerer.texts)  # re-read, kept
    fed = []
    feed = answerer.feed
    monkeypatch.setattr(answerer, "feed", lambda rows, model=None: fed.append(rows) or feed(rows))
    results = answerer.answer([query("a", "the quic"), query("b", "lazy do")], [False] * 2)
    # Each client feeds only the key it pressed, from its text as the new snapshot read it.
    assert [len(ids) - len(start.ids) for ids, start in fed[0]] == [1, 1]
    for text, result in zip(["the quic", "lazy do"], results, strict=True):
        assert_same_top(result, trainer.task.predict(trainer.model, text, k=5, length=0))
        assert result["step"] == trainer.step_count


def test_a_class_gets_a_new_snapshot_less_often_the_longer_its_texts(monkeypatch):
    trainer = make_trainer("lstm")
    answerer = Answerer(trainer)
    answerer.refresh(running=True, lock=NO_LOCK)
    assert answerer.every == answering.REFRESH_S
    clients = [query(f"s{i}", TEXT[i : i + 200]) for i in range(40)]
    answerer.answer(clients, [False] * len(clients))
    monkeypatch.setattr(answering, "REFRESH_SHARE", 1e-6)  # re-reading is never cheap enough
    trainer.step()
    answerer.refresh(running=False, lock=NO_LOCK)
    assert answerer.every > 10 * answering.REFRESH_S
    trainer.step()
    assert not answerer.due(running=True)  # training: the snapshot waits its turn
    assert answerer.due(running=False)  # paused: the next query catches up at once


def test_the_query_budget_keeps_training_its_share_and_keystrokes_their_burst():
    from backend.engine.worker import QueryBudget

    now = [0.0]
    budget = QueryBudget(rate=0.5, clock=lambda: now[0])
    assert budget.spend(0.01, allowance=0.05) == 0  # a keystroke's round within the burst
    assert budget.spend(0.01, allowance=0.0) == pytest.approx(0.04)  # background work waits
    now[0] += 0.04  # it rested: half of that was the training's
    assert budget.debt == pytest.approx(0.02) and budget.spend(0.0, allowance=0.0) == 0
    rest = budget.spend(0.2, allowance=0.05)  # a long round: rests until half a core is kept
    assert rest == pytest.approx((0.2 - 0.05) / 0.5)
    now[0] += 10  # a quiet spell pays every debt back, and no more
    assert budget.spend(0.0, allowance=0.0) == 0 and budget.debt == 0
