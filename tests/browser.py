"""Helpers for browser tests: Debian's Chromium driven by Playwright, never a downloaded browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"  # screenshots, to look at
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the module without Chromium, except where it is required (CI): then fail."""
    if CHROMIUM.exists():
        return
    if os.environ.get("PLAYGROUND_REQUIRE_BROWSER"):
        raise RuntimeError("browser tests are required here but /usr/bin/chromium is missing")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


_contexts: list = []  # every context `open_page` made; conftest closes them after each test


def open_page(browser, url: str, width: int = 1366, height: int = 768):
    """A fresh context (its own storage, like another laptop) at `url`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    _contexts.append(context)
    page = context.new_page()
    # Generous: a CI machine may be shared; a passing test waits no longer for it.
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def close_pages() -> None:
    """Close every context the last test opened: a page left open keeps drawing its live
    charts, and a failed test's pages would slow every test after it."""
    from playwright.sync_api import Error

    while _contexts:
        try:
            _contexts.pop().close()
        except Error:  # closed by the test already, or the browser is gone
            pass


OWNER_KEY = "rnn-playground:owner:"  # where the page keeps owner tokens (frontend/src/route.ts)


def owner_link(page) -> str:
    """The page's owner link: its address plus the token the page moved into storage."""
    address = page.url.split("?")[0]
    session = address.rsplit("/s/", 1)[1]
    token = page.evaluate("key => localStorage.getItem(key)", OWNER_KEY + session)
    return f"{address}?t={token}"
