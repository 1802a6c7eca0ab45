"""Gradients in Debian's headless Chromium: every run of a lesson on one gradient chart, one
line per run, and an LSTM's cell-state highway beside its hidden-state gradient."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.browser import open_page, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = Path("/work/tmp/shots/gradients")  # to look at; not in the repository
WAIT_MS = 240_000  # five runs share a loaded machine: each is measured after 5 s of its own


def test_every_run_shares_one_gradient_chart_and_the_lstm_shows_its_highway(
    browser: Browser, server: Server, connect: Callable[[], Client]
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    lesson = requests.post(
        f"{server.url}/api/lessons/vanishing-gradients/start", json={"lang": "fr"}, timeout=120
    ).json()
    french = {
        item["id"]: item
        for item in requests.get(f"{server.url}/api/lessons?lang=fr", timeout=10).json()["lessons"]
    }["vanishing-gradients"]
    try:
        page = open_page(browser, server.url + lesson["owner_url"])
        page.get_by_test_id("lang-switch").select_option("fr")
        # The lesson opens on its gradient view; every run gets its line once it is measured.
        expect(page.get_by_test_id("inspect-view-gradients")).to_have_attribute(
            "aria-selected", "true"
        )
        chart = page.get_by_test_id("run-gradients-chart")
        runs = len(lesson["runs"])
        expect(chart).to_have_attribute("data-runs", str(runs), timeout=WAIT_MS)
        legend = chart.locator(".u-legend .u-series:not(:first-child) .u-label")
        labels = legend.all_inner_texts()
        for run in french["runs"]:  # one line per run, named as the class reads it
            assert run["name"] in labels, (run["name"], labels)
        assert len(labels) == runs + 1, "and the LSTM's cell state, dashed"
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "run-gradients-fr-1366.png"))
        page.get_by_test_id("run-gradients").screenshot(path=str(SHOTS / "run-gradients-card.png"))

        # The LSTM's own page shows its cell-state highway with the equation behind it.
        lstm = next(run for run in lesson["runs"] if run["label"] == "LSTM")
        page.goto(f"{server.url}/s/{lstm['id']}?t={lesson['owner_token']}")
        page.get_by_test_id("tab-inspect").click()
        page.get_by_test_id("inspect-view-gradients").click()
        highway = page.get_by_test_id("highway-view")
        expect(highway).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("highway-equation")).to_contain_text("∂L/∂C_t ⊙ f_t")
        expect(page.get_by_test_id("highway-summary")).to_contain_text("portes d'oubli")
        highway.screenshot(path=str(SHOTS / "highway-fr-1366.png"))
        page.get_by_test_id("projector-toggle").click()
        expect(page.locator("html")).to_have_class(re.compile("projector"))
        expect(page.get_by_test_id("run-gradients-chart")).to_be_visible()
        page.get_by_test_id("run-gradients-chart").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "run-gradients-projector-fr-1366.png"))
    finally:
        owner = connect()
        owner.join(lesson["id"], lesson["owner_token"])
        owner.emit("train:pause")  # one pause stops every run of the lesson
        owner.wait("session:state", lambda d: d["status"] in ("paused", "idle"))


def test_the_exploding_lesson_explodes_slowly_enough_to_watch(
    browser: Browser, server: Server, connect: Callable[[], Client]
) -> None:
    lesson = requests.post(
        f"{server.url}/api/lessons/exploding-gradients/start", json={"lang": "en"}, timeout=120
    ).json()
    try:
        page = open_page(browser, server.url + lesson["owner_url"])
        expect(page.get_by_test_id("inspect-view-gradients")).to_have_attribute(
            "aria-selected", "true"
        )
        # Its window profile fades between bursts, but the panel names the bursts: exploding.
        summary = page.get_by_test_id("gradients-summary")
        expect(summary).to_have_attribute("data-verdict", "exploding", timeout=WAIT_MS)
        expect(summary).to_contain_text("explodes in bursts")
        chart = page.get_by_test_id("run-gradients-chart")
        expect(chart).to_have_attribute("data-runs", "2", timeout=WAIT_MS)
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "exploding-en-1366.png"))
    finally:
        owner = connect()
        owner.join(lesson["id"], lesson["owner_token"])
        owner.emit("train:pause")
        owner.wait("session:state", lambda d: d["status"] in ("paused", "idle"))
