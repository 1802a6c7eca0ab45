"""Lessons over HTTP against a real server: one click starts every run, side by side."""

from __future__ import annotations

import math

import requests

from backend.lessons import verdicts
from tests.conftest import Server


def post(server: Server, path: str, token: str | None = None, **kw) -> requests.Response:
    headers = {"X-Session-Token": token} if token else {}
    return requests.post(server.url + path, headers=headers, timeout=300, **kw)


def get(server: Server, path: str, token: str) -> requests.Response:
    return requests.get(server.url + path, headers={"X-Session-Token": token}, timeout=120)


def test_lessons_are_listed_in_both_languages(server: Server) -> None:
    en = requests.get(f"{server.url}/api/lessons?lang=en", timeout=10).json()["lessons"]
    fr = requests.get(f"{server.url}/api/lessons?lang=fr", timeout=10).json()["lessons"]
    assert [lesson["id"] for lesson in en] == [lesson["id"] for lesson in fr]
    assert {"window-vs-rnn", "order-matters", "long-range", "vanishing-gradients"} <= {
        lesson["id"] for lesson in en
    }
    assert en[0]["title"] != fr[0]["title"] and fr[0]["link"].endswith("&lang=fr")
    bad = requests.get(f"{server.url}/api/lessons?lang=de", timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "lang"


def test_starting_a_lesson_trains_every_run_side_by_side(server: Server, connect) -> None:
    started = post(server, "/api/lessons/window-vs-rnn/start", json={"lang": "en"})
    assert started.status_code == 201
    lesson = started.json()
    labels = [run["label"] for run in lesson["runs"]]
    state = connect().join(lesson["id"], lesson["owner_token"])
    assert state["lesson"] == {"id": "window-vs-rnn", "lang": "en", "run": "RNN", "steps": 300}
    assert lesson["id"] != lesson["main"], "it opens on the RNN, not on the bag listed first"
    assert state["status"] in ("running", "queued")
    for run in lesson["runs"][1:]:  # one owner link controls every run
        assert connect().join(run["id"], lesson["owner_token"])["role"] == "owner"

    def table() -> dict[str, dict]:
        rows = get(server, f"/api/sessions/{lesson['id']}/runs", lesson["view_token"]).json()
        return {row["label"]: row for row in rows["runs"]}

    rows = table()
    assert list(rows) == labels
    from_child = get(server, f"/api/sessions/{lesson['runs'][2]['id']}/runs", lesson["view_token"])
    assert [r["label"] for r in from_child.json()["runs"]] == labels, "one view link shows all"
    assert connect().join(lesson["runs"][2]["id"], lesson["view_token"])["role"] == "viewer"
    windows = sorted(
        (row["config"]["window"], row["params"])
        for row in rows.values()
        if row["config"]["model"] == "window" and row["params"]
    )
    assert len(windows) >= 2 and [p for _, p in windows] == sorted(p for _, p in windows)
    assert windows[0][1] < windows[-1][1], "the window's parameters grow with its width"
    owner = connect()
    owner.join(lesson["runs"][-1]["id"], lesson["owner_token"])
    owner.emit("train:pause")  # one pause stops every run of the lesson
    owner.wait("session:state", lambda d: d["status"] == "paused")
    assert {row["status"] for row in table().values()} == {"paused"}


def test_a_lesson_stops_at_its_budget_runs_on_and_resets_as_one(server: Server, connect) -> None:
    lesson = post(server, "/api/lessons/exploding-gradients/start", json={"lang": "en"}).json()
    budget = 200  # the lesson's `steps`

    def table() -> list[dict]:
        return get(server, f"/api/sessions/{lesson['main']}/runs", lesson["view_token"]).json()[
            "runs"
        ]

    owner = connect()
    owner.join(lesson["id"], lesson["owner_token"])
    ended = owner.wait("session:state", lambda d: d["pause_reason"] == "budget", timeout=240)
    assert ended["status"] == "paused" and ended["step"] == budget, "on the very step"
    watcher = connect()  # the other run stops by itself too
    other = watcher.join(lesson["runs"][1]["id"], lesson["view_token"])
    if other["pause_reason"] != "budget":  # it may have stopped before the watcher joined
        other = watcher.wait("session:state", lambda d: d["pause_reason"] == "budget", timeout=240)
    rows = table()
    assert all(r["pause_reason"] == "budget" and r["step"] == r["budget"] == budget for r in rows)
    # The verdict the page shows reads these rows: each run's last validation point against
    # the first, before training; the lesson's claim holds on them.
    figures = {r["label"]: math.nan if r["val"][-1] is None else r["val"][-1] for r in rows}
    verdict = verdicts.judge("exploding-gradients", {**figures, "start": rows[0]["val"][0]})
    assert verdict.held, str(verdict)

    owner.emit("train:start")  # "run on": every run goes on past the budget
    owner.wait("train:progress", lambda d: d["step"] > ended["step"], timeout=120)
    watcher.wait("train:progress", lambda d: d["step"] > other["step"], timeout=120)
    owner.emit("train:pause")
    owner.wait("session:state", lambda d: d["status"] == "paused")
    watcher.wait("session:state", lambda d: d["status"] == "paused")
    assert {(r["status"], r["pause_reason"]) for r in table()} == {("paused", "user")}

    owner.emit("train:reset")  # one reset: every run from step 0, with its budget again
    watcher.wait("session:state", lambda d: d["status"] == "idle" and d["step"] == 0)
    assert {(r["status"], r["step"]) for r in table()} == {("idle", 0)}
    owner.emit("train:start")
    again = owner.wait("session:state", lambda d: d["pause_reason"] == "budget", timeout=240)
    assert again["step"] == budget


def test_long_range_lesson_measures_accuracy_against_the_gap(server: Server, connect) -> None:
    lesson = post(server, "/api/lessons/long-range/start").json()
    response = get(server, f"/api/sessions/{lesson['id']}/gaps", lesson["view_token"])
    assert response.status_code == 200, response.text
    curves = response.json()
    assert curves["chance"] == 0.25 and curves["gaps"][0] < curves["gaps"][-1]
    assert [run["label"] for run in curves["runs"]] == [r["label"] for r in lesson["runs"]]
    for run in curves["runs"]:
        assert len(run["accuracy"]) == len(curves["gaps"])
        assert all(0 <= a <= 1 for a in run["accuracy"])
    for run in lesson["runs"]:
        client = connect()
        client.join(run["id"], lesson["owner_token"])
        client.emit("train:pause")
    plain = server.create()
    refused = get(server, f"/api/sessions/{plain['id']}/gaps", plain["view_token"])
    assert refused.status_code == 400 and "lesson" in refused.json()["error"]["message"]


def test_order_matters_the_bag_cannot_tell_flipped_sentences_apart(server: Server, connect) -> None:
    lesson = post(server, "/api/lessons/order-matters/start").json()
    for run in lesson["runs"]:  # the classifiers train on their own; free the CPU for them
        client = connect()
        client.join(run["id"], lesson["owner_token"])
        client.emit("train:pause")
    path = f"/api/sessions/{lesson['id']}/sentiment"
    good = post(
        server, path, lesson["view_token"], json={"text": "The food was good, not bad at all."}
    )
    bad = post(
        server, path, lesson["view_token"], json={"text": "The food was bad, not good at all."}
    )
    assert good.status_code == 200, good.text
    good_runs = {run["label"]: run for run in good.json()["runs"]}
    bad_runs = {run["label"]: run for run in bad.json()["runs"]}
    bag = next(label for label, run in good_runs.items() if run["kind"] == "bag")
    assert good_runs[bag]["running"][-1] == bad_runs[bag]["running"][-1]
    assert good_runs[bag]["pair_accuracy"] == 0.5
    lstm = next(label for label, run in good_runs.items() if run["kind"] == "lstm")
    assert good_runs[lstm]["running"][-1] > 0.5 > bad_runs[lstm]["running"][-1]
    assert len(good_runs[lstm]["running"]) == len("The food was good, not bad at all.")
    too_long = post(server, path, lesson["view_token"], json={"text": "x" * 301})
    assert too_long.status_code == 400


def test_the_next_word_lesson_starts_words_sessions_in_the_class_language(
    server: Server, connect
) -> None:
    lesson = post(server, "/api/lessons/next-word/start", json={"lang": "fr"}).json()
    assert [run["label"] for run in lesson["runs"]] == [
        "bag of words",
        "2-word window",
        "5-word window",
        "RNN",
    ]
    owner = connect()
    state = owner.join(lesson["id"], lesson["owner_token"])
    owner.emit("train:pause")  # one pause stops every run: the test needs no training
    assert state["task"]["name"] == "words" and state["task"]["unit"] == "bits/word"
    assert state["source"]["source"] == "french" and state["source"]["max_vocab"] == 500
    assert state["lesson"]["run"] == "RNN"
