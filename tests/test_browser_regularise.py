"""The settings against overfitting in the real app: a teacher turns them on from the settings
panel, and the server keeps them for every page of the session."""

from __future__ import annotations

import pytest

from tests.browser import open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser
SHOTS = "/work/tmp/shots/h14t"


def test_dropout_weight_decay_and_carried_state_from_the_settings_panel(
    browser: Browser, server: Server
) -> None:
    session = server.create()
    page = open_page(browser, server.url + session["owner_url"], height=1400)
    carry = page.get_by_test_id("setting-carry_state")
    expect(carry).not_to_be_checked()
    carry.check()
    page.get_by_test_id("setting-dropout").fill("0.3")
    page.get_by_test_id("setting-dropout").press("Enter")
    page.get_by_test_id("setting-weight_decay").fill("0.01")
    page.get_by_test_id("setting-weight_decay").press("Enter")
    expect(page.get_by_test_id("setting-weight_decay-range")).not_to_have_value("0")
    page.get_by_test_id("settings-group-training").screenshot(path=f"{SHOTS}/training.png")
    page.get_by_test_id("train-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")

    # Another page of the same session shows what the server kept.
    other = open_page(browser, server.url + session["owner_url"])
    expect(other.get_by_test_id("setting-carry_state")).to_be_checked()
    expect(other.get_by_test_id("setting-dropout")).to_have_value("0.3")
    expect(other.get_by_test_id("setting-weight_decay")).to_have_value("0.01")
    page.get_by_test_id("pause-button").click()
