"""Looking inside the user's own model over a real socket: gates, saliency, gradients."""

from __future__ import annotations

import numpy as np

from tests.conftest import Server


def decode(result: dict, packed: dict) -> np.ndarray:
    data = result["data"][packed["offset"] : packed["offset"] + packed["size"]]
    raw = np.frombuffer(data, dtype=np.uint8).reshape(packed["shape"])
    return packed["lo"] + raw * (packed["hi"] - packed["lo"]) / 255


def test_inspect_returns_every_gate_as_binary_for_the_typed_text(server: Server, connect) -> None:
    s = server.create(config={"num_layers": 2})
    c = connect()
    c.join(s["id"], s["view_token"])
    c.emit("inspect:query", {"seq": 1, "text": "The sea was calm"})
    result = c.wait("inspect:result")
    assert result["kind"] == "lstm" and result["chars"] == list("The sea was calm")
    assert len(result["layers"]) == 2 and set(result["layers"][0]) == set("ifgoch")
    forget = decode(result, result["layers"][1]["f"])
    assert forget.shape == (16, 32) and 0 <= forget.min() and forget.max() <= 1
    assert isinstance(result["data"], bytes), "arrays travel as one binary attachment"
    saliency = result["saliency"]
    assert saliency["position"] == 16 and len(saliency["normalised"]) == 16
    assert max(saliency["normalised"]) == 1.0 and result["surgery"] is False
    c.emit("inspect:query", {"seq": 2, "text": "The sea was calm", "saliency": False})
    assert c.wait("inspect:result", lambda d: d["seq"] == 2)["saliency"] is None
    p = [n["p"] for n in result["next"]]
    assert len(p) == 5 and p == sorted(p, reverse=True) and 0 < sum(p) <= 1 + 1e-6


def test_surgery_changes_the_predictions(server: Server, connect) -> None:
    s = server.create()
    c = connect()
    c.join(s["id"], s["view_token"])
    text = "The harbour wall was grey"
    c.emit("inspect:query", {"seq": 1, "text": text})
    plain = c.wait("inspect:result")
    clamp = {"clamps": [{"layer": 0, "gate": "o", "value": 0.0}]}
    c.emit("inspect:query", {"seq": 2, "text": text, "surgery": clamp})
    cut = c.wait("inspect:result", lambda d: d["seq"] == 2)
    assert cut["surgery"] is True
    h_top = decode(cut, cut["layers"][0]["h"])
    assert np.abs(h_top).max() < 0.01, "an output gate held at 0 silences h"
    assert [n["p"] for n in cut["next"]] != [n["p"] for n in plain["next"]]
    c.emit(
        "inspect:query",
        {"seq": 3, "text": text, "surgery": {"clamps": [{"layer": 9, "gate": "f", "value": 0}]}},
    )
    error = c.wait("error")
    assert error["event"] == "inspect:query" and error["code"] == "invalid"
    c.emit("inspect:query", {"seq": 4, "text": "x" * 301})
    assert c.wait("error")["field"] == "text"


def test_training_streams_gradient_norms_through_time(server: Server, connect) -> None:
    s = server.create(config={"model": "rnn", "clip_threshold": 0.5})
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    progress = owner.wait("train:progress", lambda d: d["grad"])
    assert len(progress["grad"]) == len(progress["train"])
    step, norm, clipped = progress["grad"][0]
    assert norm > 0 and clipped in (0, 1)
    profile = owner.wait("train:gradients", timeout=30)
    assert profile["seq_len"] == 16 and len(profile["h_norms"][0]) == 16
    assert profile["c_norms"] is None and 0 <= profile["clip_rate"] <= 1
    assert profile["h_norms"][0][-1] > 0 and profile["clip_threshold"] == 0.5
    owner.emit("train:pause")
    state = owner.wait("session:state", lambda d: d["status"] == "paused")
    assert state["gradients"]["step"] > 0
    assert len(state["history"]["grad"]) == len(state["history"]["train"])
