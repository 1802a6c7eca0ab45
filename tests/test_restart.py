"""Sessions outlive the server's memory: a kill -9 mid-training, or eviction when idle."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import Client, kill_server, start_server, stop_server


def test_kill_9_mid_training_then_restart_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    srv = start_server(tmp_path, CHECKPOINT_S="0.5")
    s = srv.create(corpus="grammar", config={"learning_rate": 0.01})
    owner = Client(srv.url)
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:config", {"config": {"temperature": 0.5}})
    owner.emit("train:start")
    owner.wait("train:sample", timeout=30)
    owner.wait("train:sample", timeout=30)  # well into training: the first sample is checkpointed
    before = owner.wait("train:progress", lambda d: d["train"])
    checkpoint = tmp_path / "checkpoints" / f"{s['id']}.safetensors"
    assert checkpoint.exists()
    owner.sio.disconnect()
    kill_server(srv)

    srv = start_server(tmp_path, CHECKPOINT_S="0.5")
    try:
        viewer = Client(srv.url)
        state = viewer.join(s["id"], s["view_token"])
        assert state["status"] == "running" and state["config"]["temperature"] == 0.5
        assert state["text"]["source"] == "grammar" and state["samples"]
        history = state["history"]
        assert history["step"] and history["val"], "the loss history came back"
        resumed_at = viewer.wait("session:state", lambda d: d["params"] > 0, timeout=30)["step"]
        assert resumed_at > 0 and resumed_at >= history["step"][-1] - 1
        assert resumed_at <= before["step"]
        later = viewer.wait("train:progress", lambda d: d["train"] and d["step"] > resumed_at + 5)
        assert later["train"][0][0] > resumed_at, "steps continue from the checkpoint, not zero"
        recent = [loss for _, loss in later["train"]]
        assert max(recent) < history["train"][0], "the resumed model is the trained one"
        viewer.close()
    finally:
        stop_server(srv)


def test_idle_sessions_leave_memory_and_come_back_on_demand(tmp_path: Path) -> None:
    srv = start_server(tmp_path, EVICT_S="1", HOUSEKEEPING_S="0.3", WORKERS="1")
    try:
        s = srv.create(config={"learning_rate": 0.01})
        owner = Client(srv.url)
        owner.join(s["id"], s["owner_token"])
        owner.emit("train:step")
        stepped = owner.wait("train:progress", lambda d: d["step"] == 1)
        owner.close()
        deadline = time.monotonic() + 20
        while requests.get(f"{srv.url}/api/health", timeout=5).json()["sessions"]:
            assert time.monotonic() < deadline, "the idle session never left memory"
            time.sleep(0.2)
        back = Client(srv.url)
        state = back.join(s["id"], s["view_token"])
        assert state["step"] == stepped["step"] and state["config"]["learning_rate"] == 0.01
        assert state["history"]["step"] == [1]
        assert requests.get(f"{srv.url}/api/health", timeout=5).json()["sessions"] == 1
        back.close()
    finally:
        stop_server(srv)


def test_a_ball_session_resumes_after_kill_9(tmp_path: Path) -> None:
    """Not only text: a ball session killed mid-training comes back with its task, its source
    and its trained weights, and goes on from its checkpoint."""
    from tests.conftest import TINY

    srv = start_server(tmp_path, CHECKPOINT_S="0.5")
    body = {"task": "ball", "source": {"input": "coords"}, "config": {**TINY, "model": "lstm"}}
    s = requests.post(f"{srv.url}/api/sessions", json=body, timeout=10).json()
    owner = Client(srv.url)
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    owner.wait("train:sample", timeout=30)
    owner.wait("train:sample", timeout=30)  # well into training: the first sample is checkpointed
    assert (tmp_path / "checkpoints" / f"{s['id']}.safetensors").exists()
    before = owner.wait("train:progress", lambda d: d["train"])
    owner.sio.disconnect()
    kill_server(srv)

    srv = start_server(tmp_path, CHECKPOINT_S="0.5")
    try:
        viewer = Client(srv.url)
        state = viewer.join(s["id"], s["view_token"])
        assert state["task"]["name"] == "ball" and state["source"]["input"] == "coords"
        history = state["history"]
        resumed = viewer.wait("session:state", lambda d: d["params"] > 0, timeout=30)["step"]
        assert 0 < resumed <= before["step"]
        later = viewer.wait("train:progress", lambda d: d["train"] and d["step"] > resumed + 5)
        assert later["train"][0][0] > resumed, "steps continue from the checkpoint, not zero"
        recent = [loss for _, loss in later["train"] if loss is not None]
        first = [loss for loss in history["train"][:10] if loss is not None]
        assert history["train"], "the loss history came back"
        mean = sum(recent) / len(recent)
        assert mean < sum(first) / len(first), "the resumed model is the trained one"
        viewer.close()
    finally:
        stop_server(srv)
