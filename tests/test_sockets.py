"""Socket flows against a real gunicorn server with a real Socket.IO client over websocket."""

from __future__ import annotations

import time

import requests

from tests.conftest import Server, start_server, stop_server


def test_owner_and_viewer_join_in_their_roles(server: Server, connect) -> None:
    s = server.create()
    owner = connect().join(s["id"], s["owner_token"])
    viewer = connect().join(s["id"], s["view_token"])
    assert owner["role"] == "owner" and owner["view_url"] == s["view_url"]
    assert viewer["role"] == "viewer" and "view_url" not in viewer
    assert viewer["config"]["hidden_size"] == 32
    assert viewer["status"] == "idle" and viewer["step"] == 0
    assert viewer["text"]["source"] == "english" and viewer["text"]["vocab_size"] > 20


def test_bad_joins_get_clear_errors(server: Server, connect) -> None:
    s = server.create()
    c = connect()
    c.emit("session:join", {"session": s["id"], "token": "guess"})
    assert c.wait("error")["code"] == "forbidden"
    c.emit("session:join", {"session": "nope", "token": s["owner_token"]})
    assert c.wait("error")["code"] == "not_found"
    c.emit("train:start", {})
    assert c.wait("error") == {
        "code": "not_joined",
        "message": "join a session first (session:join)",
        "event": "train:start",
    }
    c.emit("session:join", ["not", "an", "object"])
    assert c.wait("error")["code"] == "invalid"
    c.emit("train:launch", {})
    assert c.wait("error")["code"] == "unknown_event"
    assert c.join(s["id"], s["owner_token"])["role"] == "owner"  # the connection still works


def test_training_streams_progress_and_samples_then_pauses(server: Server, connect) -> None:
    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    assert owner.wait("session:state", lambda d: d["status"] == "running")
    first = owner.wait("train:progress", lambda d: d["train"])
    later = owner.wait("train:progress", lambda d: d["step"] > first["step"] + 20, timeout=60)
    assert later["chars_per_sec"] > 0 and later["status"] == "running"
    steps = [p[0] for p in later["train"]]
    assert steps == sorted(steps) and all(loss > 0 for _, loss in later["train"])
    assert owner.wait("train:progress", lambda d: d["val"], timeout=30)["val"][0][1] > 0
    sample = owner.wait("train:sample", timeout=30)
    assert len(sample["text"]) > 50 and sample["temperature"] == 0.8

    owner.emit("train:pause")
    paused = owner.wait("session:state", lambda d: d["status"] == "paused")
    assert paused["pause_reason"] == "user" and paused["history"]["train"]
    time.sleep(0.5)  # let in-flight progress land, then nothing more may move
    owner.drain()
    step = requests.get(f"{server.url}/api/health", timeout=5).json()  # a bounded pause
    assert step["ok"]
    assert not [d for e, d in owner.drain() if e == "train:progress" and d["status"] == "running"]


def test_progress_is_rate_limited_per_room(server: Server, connect) -> None:
    s = server.create(config={"hidden_size": 8, "seq_len": 4, "batch_size": 1})  # ~1000 steps/s
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    owner.wait("train:progress")
    owner.drain()
    time.sleep(3.0)
    progress = [d for e, d in owner.drain() if e == "train:progress"]
    owner.emit("train:pause")
    steps = sum(len(d["train"]) for d in progress)
    assert len(progress) <= 3.0 * 10 + 3, len(progress)
    assert steps > 2 * len(progress), "points are batched, not one message per step"


def test_viewer_cannot_control_the_session(server: Server, connect) -> None:
    s = server.create()
    owner, viewer = connect(), connect()
    owner.join(s["id"], s["owner_token"])
    viewer.join(s["id"], s["view_token"])
    for event, data in [
        ("train:start", {}),
        ("train:pause", {}),
        ("train:step", {}),
        ("train:reset", {}),
        ("train:config", {"config": {"hidden_size": 64}}),
    ]:
        viewer.emit(event, data)
        error = viewer.wait("error")
        assert (error["code"], error["event"]) == ("forbidden", event)
    response = requests.put(
        f"{server.url}/api/sessions/{s['id']}/text",
        data="x" * 500,
        headers={"X-Session-Token": s["view_token"], "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 403
    state = connect().join(s["id"], s["owner_token"])
    assert state["status"] == "idle" and state["config"]["hidden_size"] == 32


def test_out_of_range_settings_are_refused_and_nothing_changes(server: Server, connect) -> None:
    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    for bad, field in [
        ({"hidden_size": 100000}, "hidden_size"),
        ({"model": "transformer"}, "model"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"colour": 1}, "colour"),
        ({"clip": 1}, "clip"),
    ]:
        owner.emit("train:config", {"config": bad})
        error = owner.wait("error")
        assert error["code"] == "invalid" and error["field"] == field
    owner.emit("train:config", {"config": {"learning_rate": 0.01, "model": "gru"}})
    state = owner.wait("session:state", lambda d: d["config"]["model"] == "gru")
    assert state["config"]["learning_rate"] == 0.01 and state["config"]["hidden_size"] == 32


def test_predictions_answer_the_latest_keystroke(server: Server, connect) -> None:
    s = server.create()
    c = connect()
    c.join(s["id"], s["view_token"])
    text = "The sea was calm that morning"
    for i in range(1, len(text) + 1):
        c.emit("predict:query", {"text": text[:i], "seq": i, "k": 3, "length": 20})
    # The bars may come first, and the continuation (`continued`) once it is due.
    last = c.wait("predict:result", lambda d: d["seq"] == len(text) and d["continued"])
    assert len(last["top"]) == 3 and 0 < sum(t["p"] for t in last["top"]) <= 1.0001
    assert len(last["greedy"]) == 20 and len(last["sample"]) == 20 and last["step"] == 0
    answered = [d["seq"] for e, d in c.drain() if e == "predict:result"]
    assert not answered, "nothing older may arrive after the latest answer"
    c.emit("predict:query", {"text": "x", "seq": 3})  # stale: lower than the latest sent
    c.emit("predict:query", {"text": "y" * 5000, "seq": 99})
    assert c.wait("error")["field"] == "text"
    c.emit("predict:query", {"text": "abc", "seq": 100, "k": 50})
    assert c.wait("error")["field"] == "k"
    for op in ("gaps", "sentiment", "reach"):  # a lesson's measurements: only the server asks
        c.emit("task:query", {"op": op, "seq": 101, "n": 10**9})
        assert c.wait("error")["field"] == "op"


def test_text_upload_limits_and_replacement(server: Server, connect) -> None:
    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    url = f"{server.url}/api/sessions/{s['id']}/text"
    headers = {"X-Session-Token": s["owner_token"], "Content-Type": "text/plain; charset=utf-8"}
    big = requests.put(url, data=b"a" * (2 * 1024 * 1024 + 1), headers=headers, timeout=20)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    short = requests.put(url, data="too short", headers=headers, timeout=10)
    assert short.status_code == 400 and "at least" in short.json()["error"]["message"]
    binary = requests.put(url, data=b"\xff\xfe" * 300, headers=headers, timeout=10)
    assert binary.status_code == 400 and "UTF-8" in binary.json()["error"]["message"]
    unchanged = connect().join(s["id"], s["owner_token"])
    assert unchanged["text"]["source"] == "english"

    mine = "abab cdcd " * 60
    ok = requests.put(url, data=mine.encode(), headers=headers, timeout=10)
    assert ok.status_code == 200
    assert {k: ok.json()[k] for k in ("source", "chars", "vocab_size")} == {
        "source": "upload",
        "chars": 600,
        "vocab_size": 5,
    }
    state = owner.wait("session:state", lambda d: d["text"]["source"] == "upload")
    assert state["text"]["preview"].startswith("abab cdcd") and state["step"] == 0
    token = {"X-Session-Token": s["owner_token"]}
    corpus = requests.put(url, json={"corpus": "french"}, headers=token, timeout=10)
    assert corpus.status_code == 200 and corpus.json()["source"] == "french"
    assert (
        requests.put(url, json={"corpus": "klingon"}, headers=token, timeout=10).status_code == 404
    )


def test_http_api_describes_itself(server: Server) -> None:
    schema = requests.get(f"{server.url}/api/schema", timeout=5).json()
    names = [s["name"] for s in schema["settings"]]
    assert {"model", "hidden_size", "seq_len", "learning_rate", "clip_threshold"} <= set(names)
    assert schema["limits"]["max_text_bytes"] == 2 * 1024 * 1024 and schema["device"] == "cpu"
    corpora = requests.get(f"{server.url}/api/corpora", timeout=5).json()["corpora"]
    assert {"english", "french", "python", "grammar"} <= {c["id"] for c in corpora}
    bad = requests.post(f"{server.url}/api/sessions", json={"config": {"seq_len": 0}}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "seq_len"
    assert (
        requests.get(f"{server.url}/api/nothing", timeout=5).json()["error"]["code"] == "not_found"
    )


def test_unwatched_sessions_pause_themselves(tmp_path) -> None:
    srv = start_server(tmp_path, IDLE_PAUSE_S="1", HOUSEKEEPING_S="0.3", WORKERS="1")
    try:
        from tests.conftest import Client

        s = srv.create()
        owner = Client(srv.url)
        owner.join(s["id"], s["owner_token"])
        owner.emit("train:start")
        owner.wait("train:progress")
        owner.close()  # the tab closes: training goes on until nobody has watched for 1 s
        deadline = time.monotonic() + 20
        while requests.get(f"{srv.url}/api/health", timeout=5).json()["running"]:
            assert time.monotonic() < deadline, "never paused"
            time.sleep(0.2)
        again = Client(srv.url)
        state = again.join(s["id"], s["view_token"])
        assert state["status"] == "paused" and state["pause_reason"] == "idle"
        assert state["step"] > 0
        again.close()
    finally:
        stop_server(srv)
