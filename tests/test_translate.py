"""The translation task: number pairs split by number, the encoder-decoder, its queries."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import requests
import torch

from backend.config import TrainConfig
from backend.core.training import Trainer
from backend.errors import InvalidInput
from backend.tasks.translate.pairs import Split, english, french
from backend.tasks.translate.spec import SPEC
from backend.tasks.translate.task import PairDataset, TranslateTask, pack, writable
from tests.conftest import Server

TINY = {"model": "gru", "hidden_size": 8, "num_layers": 1, "seq_len": 8, "batch_size": 16}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def make(attention: str = "none", seed: int = 0, **cfg) -> Trainer:
    task = TranslateTask.build(SPEC.parse_source({"range": 999, "attention": attention}), seed)
    return Trainer(task, TrainConfig(**{**TINY, "seed": seed, **cfg}))


def test_pairs_come_from_num2words_on_both_sides():
    assert english(321) == "three hundred and twenty-one"
    assert french(321) == "trois cent vingt et un"
    assert french(80) == "quatre-vingts" and french(81) == "quatre-vingt-un"


@pytest.mark.parametrize("largest", [99, 999, 9_999])
def test_the_split_is_by_number_and_held_out_numbers_never_reach_training(largest):
    split = Split(largest, seed=3)
    held, train = set(split.held_out.tolist()), set(split.train.tolist())
    assert held and not held & train and held | train == set(range(largest + 1))
    assert Split(largest, seed=3).held_out.tolist() == split.held_out.tolist()
    assert Split(largest, seed=4).held_out.tolist() != split.held_out.tolist()
    dataset = PairDataset(split)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        x, _ = dataset.batch(64, 8, gen)
        seen |= {sources for sources in map(tuple, x[..., 0].tolist())}
    held_sources = {tuple(pack([english(n)], [french(n)])[0][0, :, 0].tolist()) for n in held}
    # No training row reads like a held-out number's English, even padded differently.
    strip = lambda ids: tuple(i for i in ids if i)  # noqa: E731
    assert not {strip(s) for s in seen} & {strip(s) for s in held_sources}
    assert set(dataset.val_numbers) <= held


def test_a_packed_pair_teacher_forces_the_decoder_and_pads_with_zero():
    x, y = pack(["one", "twenty-one"], ["un", "vingt et un"])
    assert x.shape == (2, 12, 2) and y.shape == (2, 12)
    assert x[0, 3:, 0].eq(0).all() and x[0, :3, 0].ne(0).all()
    assert x[1, 1:12, 1].tolist() == y[1, :11].tolist(), "decoder input = target shifted by one"
    assert y[0, 3:].eq(0).all() and y[0, 2] != 0  # "un" + <eos>, then padding


def test_spec_fills_defaults_and_refuses_bad_sources():
    assert SPEC.parse_source(None) == {"range": 999, "attention": "none"}
    assert SPEC.parse_source({"attention": True})["attention"] == "general"
    assert SPEC.parse_source({"range": 999_999, "attention": "dot"})["range"] == 999_999
    for bad in ({"range": 1000}, {"range": "999"}, {"attention": "luong"}, {"dates": 1}, []):
        with pytest.raises(InvalidInput):
            SPEC.parse_source(bad)


def test_queries_read_digits_and_words_and_refuse_anything_else():
    q = SPEC.parse_query("translate", {"text": "Three hundred twenty one"})
    assert q == {
        "number": 321,
        "text": "three hundred and twenty-one",
        "expected": "trois cent vingt et un",
        "beam": 1,
    }
    assert SPEC.parse_query("translate", {"text": "1,204", "beam": 8})["number"] == 1204
    for bad, field in (
        ({"text": "hello world"}, "text"),
        ({"text": "twenty ½"}, "text"),
        ({"text": "nine" * 30}, "text"),
        ({"text": ""}, "text"),
        ({"text": "one million"}, "text"),
        ({"text": 5}, "text"),
        ({"text": "five", "beam": 9}, "beam"),
        ({"text": "five", "beam": True}, "beam"),
    ):
        with pytest.raises(InvalidInput) as err:
            SPEC.parse_query("translate", bad)
        assert err.value.field == field, bad
    assert SPEC.parse_query("accuracy", {"seq": 3}) == {"seq": 3}
    with pytest.raises(InvalidInput):
        SPEC.parse_query("predict", {"text": "five"})


def test_spec_does_not_import_torch():
    code = (
        "import sys, backend.tasks; before = 'torch' in sys.modules; "
        "import backend.tasks.translate.spec; "
        "assert before or 'torch' not in sys.modules, 'spec imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_baseline_or_unknown_cell_is_refused_for_translation():
    SPEC.check_model("lstm")
    for kind in ("window", "bag"):
        with pytest.raises(InvalidInput) as err:
            SPEC.check_model(kind)
        assert err.value.field == "model" and "rnn, lstm, gru" in str(err.value)


@pytest.mark.parametrize("attention", ["none", "general"])
def test_training_lowers_the_loss_and_the_same_seed_gives_the_same_run(attention):
    a, b = make(attention, learning_rate=1e-2), make(attention, learning_rate=1e-2)
    first = a.evaluate()
    losses = [a.step().loss for _ in range(60)]
    assert [b.step().loss for _ in range(60)] == losses
    assert a.evaluate() < 0.7 * first
    assert a.model.num_params() == sum(
        torch.Size(s).numel() for s in SPEC.weight_shapes(a.cfg, a.task.describe()).values()
    )


def test_a_trained_model_translates_held_out_numbers_exactly():
    trainer = make("general", hidden_size=48, batch_size=64, learning_rate=1e-2)
    assert trainer.task.score(trainer.model) < 0.05
    for _ in range(200):
        trainer.step()
    score = trainer.task.score(trainer.model)
    assert score > 0.2, score  # measured 0.31 and 0.39 (seeds 1, 0); 0.95 after 300 at hidden 64
    accuracy = trainer.answer("accuracy", {})
    assert sum(accuracy["total"]) == len(trainer.task.dataset.val_numbers)
    assert abs(accuracy["overall"] - sum(accuracy["correct"]) / sum(accuracy["total"])) < 1e-9


@pytest.mark.parametrize("attention", ["none", "dot", "general"])
def test_a_translation_answer_traces_every_step_and_beam_one_is_greedy(attention):
    trainer = make(attention, model="lstm", num_layers=2)
    for _ in range(30):
        trainer.step()
    query = SPEC.parse_query("translate", {"text": "321", "beam": 1})
    answer = trainer.answer("translate", query)
    S = len("three hundred and twenty-one")
    assert len(answer["encoder_states"]) == S and len(answer["encoder_states"][0]) == 8
    assert len(answer["start"]) == 8
    assert answer["start"] == answer["encoder_states"][-1], "the decoder starts from h_S"
    chars = [s["char"] for s in answer["steps"]]
    assert "".join(c for c in chars if c != "<eos>") == answer["output"]
    for step in answer["steps"]:
        p = [t["p"] for t in step["top"]]
        assert p == sorted(p, reverse=True) and step["top"][0]["char"] == step["char"]
        if attention == "none":
            assert step["attention"] is None
        else:
            assert len(step["attention"]) == S and abs(sum(step["attention"]) - 1) < 0.01
    wide = trainer.answer("translate", {**query, "beam": 4})
    assert len(wide["beams"]) == 4 and wide["output"] == answer["output"]
    logp = [b["logp"] for b in wide["beams"]]
    assert logp == sorted(logp, reverse=True)


def test_beam_search_finds_a_translation_at_least_as_likely_as_greedy():
    trainer = make("none", hidden_size=16)
    for _ in range(40):
        trainer.step()
    task, model = trainer.task, trainer.model
    for n in (7, 321, 999):
        greedy = task.greedy(model, [english(n)])[0][0]
        best = task.beam(model, english(n), 8)[0]
        assert best["logp"] >= log_prob(model, english(n), greedy) - 1e-3


@torch.no_grad()
def log_prob(model, source: str, output: str) -> float:
    """log p(output | source), with <pad> and <bos> ruled out as the decoders do."""
    x, y = pack([source], [output])
    logits, _ = model(x)
    logp = writable(logits).log_softmax(-1)[0].gather(1, y[0][:, None])[:, 0]
    return float(logp[: len(output) + 1].sum())


def test_an_exported_translator_imports_with_identical_answers(tmp_path):
    from backend.store import exchange
    from tests.test_task_seam import exported_and_imported

    cfg = TrainConfig(**TINY)
    source = SPEC.parse_source({"attention": "general"})
    w = exported_and_imported(tmp_path, "translate", source, cfg)
    checkpoint = (tmp_path / "s.safetensors").read_bytes()
    weights = exchange.weights_from_checkpoint(checkpoint)
    state = exchange.task_state_from_checkpoint(checkpoint)
    query = SPEC.parse_query("translate", {"text": "seven hundred and four", "beam": 3})
    answers = [w.slots[sid].trainer.answer("translate", query) for sid in ("s", "t")]
    assert answers[0] == answers[1] and answers[0]["steps"]
    lstm = replace(cfg, model="lstm")
    with pytest.raises(InvalidInput, match="weight|shape|missing"):
        bad = exchange.export(weights, lstm, SPEC, source, state, 20)
        exchange.parse_import(bad, tmp_path / "bad.safetensors")


def test_a_translation_session_trains_and_answers_over_a_real_socket(server: Server, connect):
    body = {"task": "translate", "source": {"range": 99, "attention": "general"}}
    refused = requests.post(
        f"{server.url}/api/sessions", json={**body, "config": {"model": "window"}}, timeout=10
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "model"
    huge = {"model": "lstm", "hidden_size": 512, "num_layers": 3}
    too_big = requests.post(f"{server.url}/api/sessions", json={**body, "config": huge}, timeout=10)
    assert too_big.status_code == 413 and "parameters" in too_big.json()["error"]["message"]
    config = {"model": "gru", "hidden_size": 16, "num_layers": 1, "batch_size": 16}
    response = requests.post(
        f"{server.url}/api/sessions", json={**body, "config": config}, timeout=10
    )
    response.raise_for_status()
    s = response.json()
    owner = connect()
    state = owner.join(s["id"], s["owner_token"])
    assert state["task"]["name"] == "translate" and state["task"]["score"] == "exactMatch"
    owner.emit("train:start")
    owner.wait("train:progress", lambda d: d["train"], timeout=60)
    owner.wait("train:sample", lambda d: "pairs" in d, timeout=60)
    owner.emit("task:query", {"op": "translate", "seq": 1, "text": "forty-two", "beam": 2})
    result = owner.wait("translate:result", timeout=30)
    assert result["seq"] == 1 and result["source"] == "forty-two"
    assert result["expected"] == "quarante-deux" and len(result["beams"]) == 2
    assert len(result["steps"][0]["attention"]) == len("forty-two")
    owner.emit("task:query", {"op": "translate", "seq": 2, "text": "bonjour"})
    error = owner.wait("error", timeout=30)
    assert error["field"] == "text" and "number word" in error["message"]
    owner.emit("task:query", {"op": "accuracy", "seq": 3})
    assert owner.wait("accuracy:result", timeout=30)["bucket"] == 10
    owner.emit("train:config", {"config": {"model": "bag"}})
    assert owner.wait("error", timeout=30)["field"] == "model"
    owner.emit("train:pause")
    owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)


def test_the_lesson_starts_one_translator_without_and_one_with_attention(server: Server, connect):
    response = requests.post(
        f"{server.url}/api/lessons/translate-attention/start", json={"lang": "fr"}, timeout=30
    )
    assert response.status_code == 201, response.text
    started = response.json()
    runs = {run["label"]: run["id"] for run in started["runs"]}
    assert set(runs) == {"without attention", "with attention"}
    owner = connect()
    for label, attention in (("without attention", "none"), ("with attention", "general")):
        sid = runs[label]
        owner.join(sid, started["owner_token"])
        state = owner.wait(
            "session:state", lambda d, sid=sid: d["id"] == sid and d["described"], timeout=180
        )
        assert state["described"]["attention"] == attention and state["described"]["range"] == 999
        assert state["config"]["model"] == "gru" and state["lesson"]["run"] == label
    owner.emit("train:pause")  # pauses every run of the lesson
    owner.wait("session:state", lambda d: d["status"] == "paused", timeout=60)


def exact(trainer: Trainer, keep) -> float:
    """Greedy exact match on the held-out validation numbers whose English length passes `keep`."""
    numbers = [n for n in trainer.task.dataset.val_numbers if keep(len(english(n)))]
    outputs, _ = trainer.task.greedy(trainer.model, [english(n) for n in numbers])
    return sum(o == french(n) for o, n in zip(outputs, numbers, strict=True)) / len(numbers)


@pytest.mark.timeout(3600)  # 4 models of 600 steps: 12 minutes on a loaded 2-core machine
def test_the_attention_lesson_claim():
    """Trained to its budget as a class's runs are, the lesson ends with its claim held by
    the judge the page shows (seed 0 is the lesson's own; seed 1 as a margin): without
    attention short inputs beat long ones, and attention lifts the long ones."""
    from backend.lessons import verdicts
    from backend.tasks.translate.lesson import ATTENTION_LESSON
    from tests.lesson_ends import trained_to_budget

    for seed in (0, 1):
        verdict = verdicts.judge(ATTENTION_LESSON.id, trained_to_budget(ATTENTION_LESSON, seed))
        assert verdict.held, (seed, str(verdict))
