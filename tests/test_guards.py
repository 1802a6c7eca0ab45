"""One person must not hurt a class: rate limits, same-origin writes, headers, honest errors."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from backend.web import guards
from tests.conftest import TINY, Client, Server, start_server, stop_server

LIMITED = {
    "RATE_LIMITS": "true",
    "RATE_CREATE": '"3 per minute"',
    "RATE_FORK": '"2 per minute"',
    "RATE_IMPORT": '"1 per minute"',
    "RATE_LESSON": '"1 per minute"',
    "RATE_BAD_TOKEN": '"3 per minute"',
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with tiny limits (the shared one runs with limits off)."""
    srv = start_server(tmp_path_factory.mktemp("limited"), **LIMITED)
    yield srv
    stop_server(srv)


def post(server: Server, path: str, **kw) -> requests.Response:
    return requests.post(server.url + path, timeout=30, **kw)


def assert_limited(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_creating_forking_importing_and_lessons_are_rate_limited(limited: Server) -> None:
    body = {"config": TINY}
    created = [post(limited, "/api/sessions", json=body) for _ in range(3)]
    assert [r.status_code for r in created] == [201, 201, 201]
    assert_limited(post(limited, "/api/sessions", json=body))

    s = created[0].json()
    fork = f"/api/sessions/{s['id']}/fork"
    headers = {"X-Session-Token": s["view_token"]}
    assert [post(limited, fork, headers=headers).status_code for _ in range(2)] == [201, 201]
    assert_limited(post(limited, fork, headers=headers))

    assert post(limited, "/api/sessions/import", data=b"not a zip").status_code == 400
    assert_limited(post(limited, "/api/sessions/import", data=b"not a zip"))

    assert post(limited, "/api/lessons/nope/start", json={}).status_code == 404
    assert_limited(post(limited, "/api/lessons/nope/start", json={}))


def test_token_guessing_is_rate_limited_over_http_and_sockets(limited: Server) -> None:
    """Last in this module: it uses up the address's wrong tokens for a minute."""
    s = requests.get(limited.url + "/api/health", timeout=10)  # the server is up
    assert s.ok
    db = sqlite3.connect(Path(limited.log).parent / "playground.db")
    session_id = db.execute("select id from sessions limit 1").fetchone()[0]
    runs = f"{limited.url}/api/sessions/{session_id}/runs"
    for guess in ("a", "b"):
        assert requests.get(runs, params={"t": guess}, timeout=10).status_code == 403
    client = Client(limited.url)
    try:
        client.emit("session:join", {"session": session_id, "token": "c"})
        assert client.wait("error")["code"] == "forbidden"
        client.emit("session:join", {"session": session_id, "token": "d"})
        error = client.wait("error")
        assert error["code"] == "rate_limited" and error["retry_after"] > 0
    finally:
        client.close()
    assert_limited(requests.get(runs, params={"t": "e"}, timeout=10))


def test_cross_site_writes_are_refused(server: Server) -> None:
    """A form on another site cannot create sessions, start lessons or fork by a view link."""
    s = server.create()
    evil = {"Origin": "https://evil.example"}
    refused = [
        post(server, "/api/sessions", data={"corpus": "english"}, headers=evil),
        post(server, "/api/lessons/long-range/start", headers=evil),
        post(server, f"/api/sessions/{s['id']}/fork?t={s['view_token']}", headers=evil),
        post(server, "/api/sessions", json={}, headers={"Sec-Fetch-Site": "cross-site"}),
    ]
    for response in refused:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    same = {"Origin": server.url}
    assert post(server, "/api/sessions", json={"config": TINY}, headers=same).status_code == 201
    assert post(server, "/api/sessions", json={"config": TINY}).status_code == 201  # no Origin


def test_every_response_carries_security_headers_and_no_source_map(server: Server) -> None:
    for path in ("/", "/api/health", "/api/nope", "/s/abc"):
        response = requests.get(server.url + path, timeout=10)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert requests.get(server.url + "/assets/index.js.map", timeout=10).status_code == 404


def test_view_tokens_are_stored_as_digests(server: Server, connect) -> None:
    s = server.create()
    db = sqlite3.connect(Path(server.log).parent / "playground.db")
    stored = db.execute("select view_token from sessions where id = ?", (s["id"],)).fetchone()[0]
    assert s["view_token"] not in stored and len(stored) == 64
    assert connect().join(s["id"], s["view_token"])["role"] == "viewer"
    assert connect().join(s["id"], s["owner_token"])["view_url"] == s["view_url"]


def test_hostile_numbers_and_nesting_answer_invalid_not_500(server: Server, connect) -> None:
    huge = "1" + "0" * 400
    body = '{"config": {"seed": ' + huge + "}}"
    response = post(
        server, "/api/sessions", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    deep = "[" * 5000 + "]" * 5000
    response = post(
        server, "/api/sessions", data=deep, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"

    response = post(server, "/api/sessions/import", data=zip_with_shape([0, 2**70]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"

    s = server.create()
    owner = connect()
    owner.join(s["id"], s["owner_token"])
    before = server.log.read_text().count("Traceback")
    owner.sio.emit("train:config", {"config": {"seed": 10**400}})
    error = owner.wait("error")
    assert (error["code"], error["field"]) == ("invalid", "seed")
    log = server.log.read_text()
    assert log.count("Traceback") == before and "401-digit integer" in log


def zip_with_shape(shape: list[int]) -> bytes:
    """An export whose one tensor declares `shape` (with no bytes behind it)."""
    head = json.dumps({"x": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}}).encode()
    weights = struct.pack("<Q", len(head)) + head
    text = "abcdefgh " * 40
    settings = {"format": 1, "config": {"model": "rnn"}, "vocab": sorted(set(text))}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("model.safetensors", weights)
        z.writestr("settings.json", json.dumps(settings))
        z.writestr("text.txt", text)
    return out.getvalue()


def test_an_unexpected_error_answers_500_internal() -> None:
    app = Flask(__name__)
    guards.init_app(app)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal"
    assert "a bug" not in response.get_data(as_text=True)
