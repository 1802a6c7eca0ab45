"""The page says when its session trains in one batched step with others (as on a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Client, start_server, stop_server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser


def test_the_speed_says_how_many_sessions_share_a_step(browser: Browser, tmp_path: Path) -> None:
    srv = start_server(tmp_path, BATCH_SESSIONS="on", WORKERS="1")
    try:
        created = [srv.create(corpus="grammar") for _ in range(3)]
        page = open_page(browser, srv.url + created[0]["owner_url"])
        expect(page.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")
        others = []
        for s in created[1:]:
            client = Client(srv.url)
            client.join(s["id"], s["owner_token"])
            client.emit("train:start")
            others.append(client)
        page.get_by_test_id("train-button").click()
        speed = page.locator(".figure-chars-per-sec .stat-sub")
        expect(speed).to_have_text("chars / s · 3 batched", timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cohort-stats.png"))
        others[0].emit("train:pause")  # one leaves: the other two go on together
        expect(speed).to_have_text("chars / s · 2 batched", timeout=60_000)
        page.get_by_test_id("pause-button").click()  # paused: no speed, the plain caption
        expect(speed).to_have_text("chars / s", timeout=30_000)
        for client in others:
            client.close()
        page.context.close()
    finally:
        stop_server(srv)
