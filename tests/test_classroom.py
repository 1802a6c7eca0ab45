"""A class on one session: roles on every event, links, class mode, forks, export and import."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import requests

from tests.conftest import Client, Server, start_server, stop_server


def api(server: Server, method: str, path: str, token: str | None = None, **kw):
    headers = {**kw.pop("headers", {}), **({"X-Session-Token": token} if token else {})}
    return requests.request(method, server.url + path, headers=headers, timeout=30, **kw)


def trained(server: Server, connect, steps: int = 30, **config) -> tuple[dict, Client]:
    """A session trained for about `steps` steps, then paused; with its owner's client."""
    s = server.create(config=config)
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    owner.emit("train:start")
    owner.wait("train:progress", lambda d: d["step"] >= steps, timeout=60)
    owner.emit("train:pause")
    owner.wait("session:state", lambda d: d["status"] == "paused")
    return s, owner


def test_every_owner_event_is_refused_to_a_viewer(server: Server, connect) -> None:
    s = server.create()
    viewer = connect()
    viewer.join(s["id"], s["view_token"])
    owner_events = {
        "train:start": {},
        "train:pause": {},
        "train:step": {},
        "train:reset": {},
        "train:config": {"config": {"seed": 3}},
        "link:renew": {},
        "class:settings": {"follow": True},
        "class:focus": {"text": "hi"},
    }
    for event, data in owner_events.items():
        viewer.emit(event, data)
        error = viewer.wait("error")
        assert (error["code"], error["event"]) == ("forbidden", event)
    assert api(server, "GET", f"/api/sessions/{s['id']}/forks", s["view_token"]).status_code == 403
    assert api(server, "GET", f"/api/sessions/{s['id']}/forks", "forged").status_code == 403


def test_renewing_the_view_link_drops_old_viewers(server: Server, connect) -> None:
    s = server.create()
    owner, viewer = connect(), connect()
    owner.join(s["id"], s["owner_token"])
    viewer.join(s["id"], s["view_token"])
    owner.emit("link:renew")
    state = owner.wait("session:state", lambda d: d["view_url"] != s["view_url"])
    assert "revoked" not in state
    assert "replaced" in viewer.wait("session:revoked")["message"]
    owner.emit("train:start")  # the dropped viewer no longer gets the room's messages
    owner.wait("train:progress")
    assert not [e for e, _ in viewer.drain() if e == "train:progress"]
    again = connect()
    again.emit("session:join", {"session": s["id"], "token": s["view_token"]})
    assert again.wait("error")["code"] == "forbidden"
    new_token = state["view_url"].split("?t=")[1]
    assert again.join(s["id"], new_token)["role"] == "viewer"
    owner.emit("train:pause")


def test_class_mode_locks_are_enforced_and_focus_is_relayed(server: Server, connect) -> None:
    s = server.create()
    owner, viewer = connect(), connect()
    owner.join(s["id"], s["owner_token"])
    viewer.join(s["id"], s["view_token"])
    owner.emit(
        "class:settings", {"locks": ["predict", "fork"], "hidden": ["samples"], "follow": True}
    )
    state = viewer.wait("session:state", lambda d: d["classroom"]["follow"])
    assert state["classroom"]["locks"] == ["fork", "predict"] and state["samples"] == []
    viewer.emit("predict:query", {"text": "abc", "seq": 1})
    assert viewer.wait("error")["code"] == "forbidden"
    owner.emit("predict:query", {"text": "abc", "seq": 1})
    assert owner.wait("predict:result")["seq"] == 1, "locks bind viewers, not the owner"
    fork = api(server, "POST", f"/api/sessions/{s['id']}/fork", s["view_token"], json={})
    assert fork.status_code == 403 and "locked" in fork.json()["error"]["message"]
    owner.emit("class:focus", {"text": "The sea", "unit": 3, "layer": 0, "view": "gates"})
    focus = viewer.wait("class:focus")
    assert focus == {"text": "The sea", "unit": 3, "layer": 0, "view": "gates"}
    owner.emit("class:settings", {"locks": ["teleport"]})
    assert owner.wait("error")["field"] == "locks"
    owner.emit("class:focus", {"unit": -1})
    assert owner.wait("error")["field"] == "unit"


def test_fork_with_weights_lands_on_the_class_board(server: Server, connect) -> None:
    s, owner = trained(server, connect)
    fork = api(
        server, "POST", f"/api/sessions/{s['id']}/fork", s["view_token"], json={"weights": True}
    )
    assert fork.status_code == 201
    mine = fork.json()
    parent = connect().join(s["id"], s["view_token"])  # the fork saved it: state is final
    student = connect()
    state = student.join(mine["id"], mine["owner_token"])
    assert state["role"] == "owner" and state["parent"] == s["id"]
    assert state["step"] == parent["step"] and state["status"] == "paused"
    assert state["history"]["step"] == parent["history"]["step"]
    student.emit("train:config", {"config": {"learning_rate": 0.01}})
    student.emit("train:start")
    student.wait("train:progress", lambda d: d["step"] > parent["step"] + 5)
    student.emit("train:pause")
    plain = api(server, "POST", f"/api/sessions/{s['id']}/fork", s["view_token"]).json()
    board = api(server, "GET", f"/api/sessions/{s['id']}/forks", s["owner_token"]).json()
    rows = {row["id"]: row for row in board["forks"]}
    assert list(rows) == [mine["id"], plain["id"]]
    assert rows[mine["id"]]["config"]["learning_rate"] == 0.01 and rows[mine["id"]]["val"]
    assert rows[plain["id"]]["step"] == 0


def test_export_then_import_gives_identical_predictions(
    server: Server, connect, tmp_path: Path
) -> None:
    s, owner = trained(server, connect, model="gru")
    response = requests.get(
        f"{server.url}/api/sessions/{s['id']}/export?t={s['view_token']}", timeout=30
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    blob = response.content
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        names = {"model.safetensors", "settings.json", "source.json", "text.txt", "sample.py"}
        assert set(z.namelist()) == names
        z.extractall(tmp_path)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["config"]["model"] == "gru" and settings["step"] >= 30

    imported = api(
        server,
        "POST",
        "/api/sessions/import",
        data=blob,
        headers={"Content-Type": "application/zip"},
    ).json()
    copy = connect()
    assert copy.join(imported["id"], imported["owner_token"])["status"] == "paused"
    query = {"text": "The harbour", "seq": 1, "k": 5, "length": 0}
    owner.emit("predict:query", query)
    copy.emit("predict:query", query)
    original, clone = owner.wait("predict:result"), copy.wait("predict:result")
    assert original["top"] == clone["top"]

    run = subprocess.run(
        [sys.executable, "sample.py", "--length", "40"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert len(run.stdout.strip()) >= 20, "the standalone script samples from the export"


def test_a_model_larger_than_the_text_limit_round_trips(server: Server, connect) -> None:
    s = server.create(config={"hidden_size": 256, "num_layers": 2})
    blob = requests.get(
        f"{server.url}/api/sessions/{s['id']}/export?t={s['owner_token']}", timeout=60
    ).content
    assert len(blob) > 2 * 1024 * 1024, "bigger than the body cap for texts"
    response = api(server, "POST", "/api/sessions/import", files={"file": ("m.zip", blob)})
    assert response.status_code == 201, response.text
    assert connect().join(response.json()["id"], response.json()["owner_token"])["params"] > 8e5


def test_malformed_and_hostile_uploads_are_rejected(server: Server, connect) -> None:
    s, _ = trained(server, connect, steps=2)
    good = requests.get(
        f"{server.url}/api/sessions/{s['id']}/export?t={s['owner_token']}", timeout=30
    ).content
    members = {
        n: zipfile.ZipFile(io.BytesIO(good)).read(n)
        for n in ("model.safetensors", "settings.json", "source.json", "text.txt")
    }

    def zipped(**replace: bytes | None) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in {**members, **replace}.items():
                if data is not None:
                    z.writestr(name, data)
        return out.getvalue()

    settings = json.loads(members["settings.json"])
    bigger = json.dumps({**settings, "config": {**settings["config"], "hidden_size": 64}})
    pickle = b"\x80\x04\x95" + b"cos\nsystem\n(S'echo pwned'\ntR." * 3
    nan_weights = bytearray(members["model.safetensors"])
    nan_weights[-4:] = b"\x00\x00\xc0\x7f"  # a NaN in the last float
    cases = {
        b"not a zip at all": "zip",
        zipped(**{"model.safetensors": None}): "model.safetensors",
        zipped(**{"settings.json": b"{nope"}): "JSON",
        zipped(**{"settings.json": bigger.encode()}): "shape",
        zipped(**{"model.safetensors": pickle}): "header",
        zipped(**{"model.safetensors": bytes(nan_weights)}): "finite",
        zipped(**{"source.json": b"\xff\xfe" * 200}): "source.json",
        zipped(**{"source.json": b'{"corpus": "upload", "text": "too short"}'}): "at least",
    }
    for blob, message in cases.items():
        response = api(server, "POST", "/api/sessions/import", data=blob)
        assert response.status_code == 400, (message, response.text)
        assert message in response.json()["error"]["message"], response.json()


def test_training_slots_queue_and_free_up(tmp_path: Path) -> None:
    srv = start_server(tmp_path, MAX_RUNNING="1", WORKERS="1")
    try:
        first, second = srv.create(), srv.create()
        a, b = Client(srv.url), Client(srv.url)
        a.join(first["id"], first["owner_token"])
        b.join(second["id"], second["owner_token"])
        a.emit("train:start")
        a.wait("session:state", lambda d: d["status"] == "running")
        b.emit("train:start")
        queued = b.wait("session:state", lambda d: d["status"] == "queued")
        assert queued["queue_position"] == 1
        a.emit("train:pause")
        assert b.wait("session:state", lambda d: d["status"] == "running")["queue_position"] is None
        b.wait("train:progress", lambda d: d["step"] > 0)
        b.emit("train:pause")
        a.close()
        b.close()
    finally:
        stop_server(srv)
