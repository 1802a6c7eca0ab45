"""Looking inside a model that reads a task's float input vectors (a ball's frames, a month's
return), not character ids: the hand-written cells against torch.nn, saliency against the
Jacobian, and the ball's and prices' `inspect` answered in a worker and over a real socket."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import torch

from backend.config import TrainConfig
from backend.core.internals import (
    QUANTITIES,
    Surgery,
    gradient_through_time,
    inspect_steps,
    saliency,
    trace,
    trace_reference,
)
from backend.core.models import SequenceModel, build_model
from backend.errors import InvalidInput
from backend.tasks.registry import spec_for, task_for
from tests.conftest import TINY, Server

IN, OUT = 5, 2  # input vector size and number of outputs: a ball's (dx, dy)
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_model(kind: str, activation: str, layers: int, seed: int = 0) -> SequenceModel:
    """A float64 model reading I-vectors and giving O numbers, weights redrawn from N(0, 0.5^2)."""
    cfg = TrainConfig(model=kind, activation=activation, hidden_size=8, num_layers=layers)
    model = build_model(cfg, IN, OUT).double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def random_vectors(T: int = 9, seed: int = 1) -> torch.Tensor:
    return torch.randn(T, IN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def torch_states(model: SequenceModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every layer's h_t (and c_t) from torch.nn's own module, its final state after each prefix."""
    hs, cs = [], []
    for t in range(1, len(x) + 1):
        _, state = model.rnn(x[None, :t])
        h, c = state if model.kind == "lstm" else (state, None)  # (L, 1, H)
        hs.append(h[:, 0])
        cs.append(None if c is None else c[:, 0])
    return torch.stack(hs, dim=1), (torch.stack(cs, dim=1) if model.kind == "lstm" else None)


@pytest.mark.parametrize(("kind", "activation"), CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("tracer", [trace_reference, trace])
def test_cells_on_float_vectors_reproduce_torch(kind, activation, layers, tracer):
    model, x = random_model(kind, activation, layers), random_vectors()
    tr = tracer(model, x)
    h_torch, c_torch = torch_states(model, x)
    for k in range(layers):
        assert list(tr.layers[k]) == list(QUANTITIES[kind])
        torch.testing.assert_close(tr.layers[k]["h"], h_torch[k], rtol=0, atol=1e-10)
        if kind == "lstm":
            torch.testing.assert_close(tr.layers[k]["c"], c_torch[k], rtol=0, atol=1e-10)
    out, _ = model(x[None])  # (1, T, OUT): the model's own forward pass
    torch.testing.assert_close(tr.logits, out[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("kind", "activation"), CELLS)
def test_fast_trace_equals_reference_on_float_vectors_for_every_gate(kind, activation):
    model, x = random_model(kind, activation, 2, seed=3), random_vectors(T=12)
    fast, ref = trace(model, x), trace_reference(model, x)
    for k in range(2):
        for name in QUANTITIES[kind]:
            torch.testing.assert_close(
                fast.layers[k][name], ref.layers[k][name], rtol=0, atol=1e-10
            )


def test_a_clamped_forget_gate_on_float_vectors_forgets_everything():
    model, x = random_model("lstm", "tanh", 1), random_vectors()
    forget_nothing = {"clamps": [{"layer": 0, "gate": "f", "value": 0}]}
    cut = trace(model, x, Surgery.from_dict(forget_nothing, model))
    v = cut.layers[0]
    torch.testing.assert_close(v["c"], v["i"] * v["g"], rtol=0, atol=1e-12)


def test_vectors_of_the_wrong_size_are_refused():
    model = random_model("gru", "tanh", 1)
    with pytest.raises(ValueError, match=r"\(T, 5\)"):
        trace(model, torch.randn(4, IN + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one step"):
        trace(model, torch.zeros(0, IN, dtype=torch.float64))


@pytest.mark.parametrize(("kind", "activation"), CELLS)
def test_saliency_of_the_whole_output_is_the_norm_of_the_jacobian(kind, activation):
    model, x = random_model(kind, activation, 2), random_vectors(T=7)
    for position in (None, 1, 4):
        s = saliency(model, x, position, whole_output=True)
        P = position or 7

        def last_output(v: torch.Tensor, P: int = P) -> torch.Tensor:
            return model(v[None])[0][0, -1]  # (OUT,)

        J = torch.autograd.functional.jacobian(last_output, x[:P])  # (OUT, P, IN)
        expected = J.square().sum(dim=(0, 2)).sqrt()
        assert s.target is None and s.position == P
        torch.testing.assert_close(torch.tensor(s.raw, dtype=torch.float64), expected)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(("kind", "activation"), CELLS)
def test_gradient_through_time_on_float_vectors_matches_torch(kind, activation):
    model = random_model(kind, activation, 2)
    x = torch.randn(3, 6, IN, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    y = torch.randn(3, 6, OUT, generator=torch.Generator().manual_seed(6), dtype=torch.float64)

    def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((out - target) ** 2).mean()

    out, _ = model(x)
    fused = torch.autograd.grad(mse(out, y), model.parameters())
    flow = gradient_through_time(model, x, y, loss=mse)
    expected = torch.linalg.vector_norm(torch.stack([g.norm() for g in fused])).item()
    assert flow.param_grad_norm == pytest.approx(expected, rel=1e-9)
    # dL_T/dh_t of the top layer, from torch's own module with h_t made a leaf by hand.
    h, _ = model.rnn(x)
    leaf = h.detach().requires_grad_()
    (dh,) = torch.autograd.grad(mse(model.head(leaf)[:, -1:], y[:, -1:]), leaf)
    assert flow.h_norms[-1][-1] == pytest.approx(dh[:, -1].norm(dim=-1).mean().item(), rel=1e-9)
    assert len(flow.h_norms) == 2 and len(flow.h_norms[0]) == 6


def test_inspect_steps_labels_every_step_and_sends_outputs_not_probabilities():
    model, x = random_model("lstm", "tanh", 2).float(), random_vectors(T=6).float()
    labels = [f"2004-0{m}" for m in range(1, 7)]
    answer = inspect_steps(model, x, labels, position=3)
    assert answer["chars"] == labels and answer["labelled"] is True
    assert "probs" not in answer and answer["vocab"] == [] and answer["next"] == []
    assert np.allclose(answer["outputs"], model(x[None])[0][0].tolist(), atol=1e-4)
    assert answer["saliency"]["position"] == 3 and len(answer["saliency"]["raw"]) == 3
    assert len(answer["layers"]) == 2 and set(answer["layers"][1]) == set("ifgoch")
    with pytest.raises(InvalidInput, match="position"):
        inspect_steps(model, x, labels, position=7)


# ------------------------------------------------------------------- the two tasks


@pytest.mark.parametrize(
    ("name", "source", "first", "length"),
    [
        ("ball", {"input": "image"}, "0", 45),
        ("ball", {"input": "coords"}, "0", 45),
        ("prices", {"series": "AAPL"}, "2000-02", 122),
        ("prices", {"series": "seasonal"}, "2000-02", 239),
    ],
)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_ball_and_prices_answer_inspect_with_their_own_step_labels(
    name, source, first, length, kind
):
    spec = spec_for(name)
    assert "inspect" in spec.views and spec.inspects == "steps"
    task = task_for(name).build(spec.parse_source(source), 0)
    model = build_model(TrainConfig(model=kind, hidden_size=8), task.input_size, task.output_size)
    query = spec.parse_query("inspect", {"seq": 1, "position": 5})
    answer = task.answer(model, "inspect", query)
    assert answer["chars"][0] == first and len(answer["chars"]) == answer["length"] == length
    assert len(answer["outputs"]) == length and len(answer["outputs"][0]) == task.output_size
    assert answer["saliency"]["position"] == 5 and max(answer["saliency"]["normalised"]) == 1.0
    with pytest.raises(InvalidInput):
        spec.parse_query("inspect", {"seq": 1, "position": "five"})


def test_a_task_that_reads_typed_text_still_needs_its_text():
    with pytest.raises(InvalidInput, match="text"):
        spec_for("words").parse_query("inspect", {"seq": 1})


@pytest.mark.parametrize(
    ("name", "source", "first"),
    [("ball", {"input": "coords"}, "0"), ("prices", {"series": "AAPL"}, "2000-02")],
)
def test_inspect_query_is_answered_over_the_socket(server: Server, connect, name, source, first):
    body = {"task": name, "source": source, "config": {**TINY, "model": "gru"}}
    response = requests.post(f"{server.url}/api/sessions", json=body, timeout=10)
    response.raise_for_status()
    s = response.json()
    c = connect()
    c.join(s["id"], s["view_token"])
    c.emit("inspect:query", {"seq": 1, "position": 2})
    result = c.wait("inspect:result", timeout=60)
    assert result["kind"] == "gru" and result["chars"][0] == first and result["labelled"]
    assert result["item"] == ("frame" if name == "ball" else "month")
    assert set(result["layers"][0]) == set("rznh") and isinstance(result["data"], bytes)
    assert result["saliency"]["position"] == 2 and result["saliency"]["target"] is None
    clamp = {"clamps": [{"layer": 0, "gate": "z", "value": 1.0}]}
    c.emit("inspect:query", {"seq": 2, "surgery": clamp, "saliency": False})
    cut = c.wait("inspect:result", lambda d: d["seq"] == 2, timeout=60)
    assert cut["surgery"] is True and cut["saliency"] is None
    h = np.frombuffer(cut["data"], dtype=np.uint8)  # z held at 1 keeps h_0 = 0 forever
    packed = cut["layers"][0]["h"]
    values = packed["lo"] + h[packed["offset"] : packed["offset"] + packed["size"]] * (
        (packed["hi"] - packed["lo"]) / 255
    )
    assert np.abs(values).max() < 0.01
