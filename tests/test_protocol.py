"""The server does what docs/protocol.md says, where a client written from it would notice."""

from __future__ import annotations

import requests

from tests.conftest import Server


def test_predict_result_names_the_length_of_the_text_it_answers(server: Server, connect) -> None:
    s = server.create()
    c = connect()
    c.join(s["id"], s["view_token"])
    c.emit("predict:query", {"text": "The sea", "seq": 1, "length": 0})
    assert c.wait("predict:result")["text_len"] == len("The sea")


def test_joining_without_a_token_is_invalid(server: Server, connect) -> None:
    s = server.create()
    c = connect()
    c.emit("session:join", {"session": s["id"]})
    error = c.wait("error")
    assert (error["code"], error["field"]) == ("invalid", "token")


def test_the_last_state_after_a_pause_names_the_final_step(server: Server, connect) -> None:
    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    owner.wait("train:progress", lambda d: d["step"] >= 20)
    owner.emit("train:pause")
    owner.wait("session:state", lambda d: d["status"] == "paused")
    # A fork with weights waits for the worker's checkpoint: the pause is then complete.
    fork = requests.post(
        f"{server.url}/api/sessions/{s['id']}/fork",
        json={"weights": True},
        headers={"X-Session-Token": s["owner_token"]},
        timeout=30,
    )
    final = connect().join(s["id"], s["owner_token"])["step"]
    assert fork.status_code == 201
    owner.wait("session:state", lambda d: d["status"] == "paused" and d["step"] == final)


def test_an_export_lock_travels_with_forked_weights(server: Server, connect) -> None:
    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("class:settings", {"locks": ["export"]})
    owner.wait("session:state", lambda d: "export" in d["classroom"]["locks"])

    def export_a_viewers_fork(weights: bool) -> requests.Response:
        fork = requests.post(
            f"{server.url}/api/sessions/{s['id']}/fork",
            json={"weights": weights},
            headers={"X-Session-Token": s["view_token"]},
            timeout=30,
        ).json()
        return requests.get(
            f"{server.url}/api/sessions/{fork['id']}/export?t={fork['owner_token']}", timeout=30
        )

    export = export_a_viewers_fork(weights=True)
    assert export.status_code == 403 and "locked" in export.json()["error"]["message"]
    export = export_a_viewers_fork(weights=False)
    assert export.status_code == 200, "an untrained fork carries nothing the lock protects"
