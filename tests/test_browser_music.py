"""Music in the real app, in headless Chromium against a real server: a generated tune is drawn
as a staff, plays with a moving cursor, and a viewer on the share link can play one too."""

from __future__ import annotations

import pytest
import requests

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS  # screenshots to look at (the report copies one out of the repo)
# A model that writes tunes with notes within a few hundred steps (tests/test_music.py).
CONFIG = {
    "model": "lstm",
    "hidden_size": 64,
    "num_layers": 1,
    "seq_len": 64,
    "batch_size": 32,
    "learning_rate": 0.01,
}
NOTES_AT_LEAST = (
    "([id, n]) => document.querySelectorAll(`[data-testid=${id}] svg .abcjs-note`).length >= n"
)
CURSOR_AT_LEAST = (
    "([id, n]) => Number(document.querySelector(`[data-testid=${id}]`).dataset.cursor || 0) >= n"
)


def create(server: Server) -> dict:
    body = {"task": "music", "source": {"collection": "oneills-jigs"}, "config": CONFIG}
    response = requests.post(f"{server.url}/api/sessions", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def test_a_generated_tune_is_drawn_as_a_staff_and_plays_with_a_moving_cursor(
    browser: Browser, server: Server
):
    s = create(server)
    page = open_page(browser, f"{server.url}/s/{s['id']}?t={s['owner_token']}")
    expect(page.get_by_test_id("music-view")).to_be_visible()
    expect(page.get_by_test_id("loss-chart")).to_have_attribute("data-score", "valid tunes")
    page.get_by_test_id("train-button").click()
    # Samples come every few seconds; wait for one with notes in it (a young model's first
    # tunes may hold none), drawn by abcjs as an SVG staff.
    page.wait_for_function(NOTES_AT_LEAST, arg=["music-generated", 8], timeout=180_000)
    card = page.get_by_test_id("music-generated")
    expect(card.locator("svg .abcjs-staff").first).to_be_attached()
    page.get_by_test_id("pause-button").click()
    play = card.get_by_test_id("music-play")
    expect(play).to_be_enabled()
    play.click()
    expect(card).to_have_attribute("data-audio", "running", timeout=15_000)
    page.wait_for_function(CURSOR_AT_LEAST, arg=["music-generated", 3])
    expect(card.get_by_test_id("music-cursor")).to_be_visible()
    assert card.locator(".music-playing").count() >= 1  # the note sounding is coloured
    page.screenshot(path=str(SHOTS / "task-music.png"), full_page=True)
    play.click()  # stop
    expect(card).not_to_have_attribute("data-playing", "true")


def test_a_viewer_hears_a_real_tune_from_the_collection(browser: Browser, server: Server):
    s = create(server)
    viewer = open_page(browser, f"{server.url}/s/{s['id']}?t={s['view_token']}")
    expect(viewer.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    viewer.get_by_test_id("music-real-ask").click()
    real = viewer.get_by_test_id("music-real")
    expect(real).to_have_attribute("data-valid", "true", timeout=30_000)
    viewer.wait_for_function(NOTES_AT_LEAST, arg=["music-real", 20])
    real.get_by_test_id("music-play").click()
    expect(real).to_have_attribute("data-audio", "running", timeout=15_000)
    viewer.wait_for_function(CURSOR_AT_LEAST, arg=["music-real", 3])
