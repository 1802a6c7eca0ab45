"""A paced lesson trains no faster than its pace, watched over a real Socket.IO connection."""

from __future__ import annotations

import time

import requests

from backend.lessons import catalog as lessons
from tests.conftest import Server

WATCH_S = 8.0  # long enough for dozens of unpaced steps, short enough for a quick test
SLACK = 3  # steps: the first one is free, and a progress message may be in flight


def test_a_paced_lesson_keeps_to_its_pace(server: Server, connect) -> None:
    pace = lessons.get("exploding-gradients").pace
    assert 0 < pace <= 10, "the exploding lesson is paced for a class to watch"
    began = time.monotonic()
    started = requests.post(
        f"{server.url}/api/lessons/exploding-gradients/start", json={"lang": "en"}, timeout=300
    )
    assert started.status_code == 201
    lesson = started.json()
    owner = connect()
    assert owner.join(lesson["id"], lesson["owner_token"])["lesson"]["pace"] == pace
    last = 0
    while time.monotonic() - began < WATCH_S:
        last = owner.wait("train:progress", lambda d: d["step"] > 0, timeout=120)["step"]
        # Every step it reports was taken before now: never more than the pace allows.
        assert last <= pace * (time.monotonic() - began) + SLACK, last
    owner.emit("train:pause")  # one pause stops both runs, and frees the core
    owner.wait("session:state", lambda d: d["status"] == "paused")
    rows = requests.get(
        f"{server.url}/api/sessions/{lesson['main']}/runs",
        headers={"X-Session-Token": lesson["view_token"]},
        timeout=120,
    ).json()["runs"]
    elapsed = time.monotonic() - began
    assert last > 0 and len(rows) == 2
    assert all(row["step"] <= pace * elapsed + SLACK for row in rows), rows
