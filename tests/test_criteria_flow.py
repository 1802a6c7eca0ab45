"""The criteria table and the reach view over HTTP against a real server, from a lesson's runs."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.conftest import Client, Server

COPY_LINE = "b-=#~+-=#~+-#=~:"  # a key-recall line up to the repeated key


def post(server: Server, path: str, token: str | None = None, **kw) -> requests.Response:
    headers = {"X-Session-Token": token} if token else {}
    return requests.post(server.url + path, headers=headers, timeout=300, **kw)


def get(server: Server, path: str, token: str) -> requests.Response:
    return requests.get(server.url + path, headers={"X-Session-Token": token}, timeout=300)


def pause_all(lesson: dict, connect: Callable[[], Client]) -> None:
    """One pause stops every run of a lesson (frees the shared server's training slots)."""
    owner = connect()
    owner.join(lesson["id"], lesson["owner_token"])
    owner.emit("train:pause")
    owner.wait("session:state", lambda d: d["status"] in ("paused", "idle"), timeout=60)


def test_criteria_table_and_reach_from_a_lesson(server: Server, connect) -> None:
    lesson = post(server, "/api/lessons/sequence-criteria/start", json={"lang": "fr"}).json()
    state = connect().join(lesson["id"], lesson["owner_token"])
    assert state["lesson"]["run"] == "LSTM", "it opens on the model that meets all four"
    watcher = connect()
    watcher.join(lesson["id"], lesson["view_token"])
    watcher.wait("train:progress", lambda d: d["step"] >= 20, timeout=120)
    pause_all(lesson, connect)
    try:
        table = get(server, f"/api/sessions/{lesson['id']}/criteria", lesson["view_token"])
        assert table.status_code == 200, table.text
        rows = {row["label"]: row for row in table.json()["runs"]}
        assert list(rows) == [run["label"] for run in lesson["runs"]]
        window, bag = rows["window 8"], rows["bag of characters"]
        assert window["figures"]["beyond_width"] == 0.0
        assert window["verdicts"]["variable_length"] is False
        small, large = window["figures"]["params"]
        assert large > small and window["verdicts"]["sharing"] is False
        assert bag["figures"]["order"] == 0.0 and bag["verdicts"]["order"] is False
        for label in ("tanh RNN", "LSTM"):
            row = rows[label]
            assert row["figures"]["beyond_width"] > 0 and row["verdicts"]["variable_length"]
            assert row["verdicts"]["order"] and row["verdicts"]["sharing"]
            assert row["figures"]["params"][0] == row["figures"]["params"][1]
        assert table.json()["thresholds"]["gap"] == 40

        read = post(
            server, f"/api/sessions/{lesson['runs'][2]['id']}/reach", lesson["view_token"],
            json={"text": COPY_LINE},
        )  # fmt: skip
        assert read.status_code == 200, read.text
        runs = {run["label"]: run for run in read.json()["runs"]}
        assert set(runs) == set(rows), "asked from any run, every run answers"
        d = runs["window 8"]["dependence"]
        assert d[:-8] == [0.0] * (len(COPY_LINE) - 8) and min(d[-8:]) > 0
        assert min(runs["LSTM"]["dependence"]) > 0 and min(runs["tanh RNN"]["dependence"]) > 0
        assert runs["bag of characters"]["order"] == 0.0

        bad = post(server, f"/api/sessions/{lesson['id']}/reach", lesson["view_token"], json={})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "text"
        unseen = post(
            server, f"/api/sessions/{lesson['id']}/reach", lesson["view_token"],
            json={"text": "bonjour"},
        )  # fmt: skip
        assert unseen.status_code == 400 and "never saw" in unseen.json()["error"]["message"]
        nobody = get(server, f"/api/sessions/{lesson['id']}/criteria", "wrong-token")
        assert nobody.status_code in (401, 403)
    finally:
        pause_all(lesson, connect)


def test_reach_on_window_vs_rnn_and_no_table_there(server: Server, connect) -> None:
    lesson = post(server, "/api/lessons/window-vs-rnn/start", json={"lang": "en"}).json()
    pause_all(lesson, connect)
    read = post(
        server, f"/api/sessions/{lesson['id']}/reach", lesson["owner_token"],
        json={"text": "Once upon a time there was a"},
    )  # fmt: skip
    assert read.status_code == 200, read.text
    runs = {run["label"]: run for run in read.json()["runs"]}
    assert len(runs) == 7
    for width in (1, 4, 8, 16):
        d = runs[f"window {width}"]["dependence"]
        assert sum(1 for v in d if v > 0) == width, (width, d)
    assert all(v > 0 for v in runs["RNN"]["dependence"])
    table = get(server, f"/api/sessions/{lesson['id']}/criteria", lesson["owner_token"])
    assert table.status_code == 400 and "criteria" in table.json()["error"]["message"]
    plain = server.create()
    refused = post(server, f"/api/sessions/{plain['id']}/reach", plain["owner_token"],
                   json={"text": "abc"})  # fmt: skip
    assert refused.status_code == 400 and "lesson" in refused.json()["error"]["message"]
