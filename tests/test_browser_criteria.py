"""The four-criteria table and the reach view in Debian's headless Chromium against a real
server: figures with verdicts that agree with them, on a laptop and on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import open_page, owner_link, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

OWNER_URL = re.compile(r"/s/[\w-]+$")
SHOTS = Path("/work/tmp/shots/criteria")  # to look at; outside the repository
COLUMNS = ("variable_length", "long_term", "order", "sharing")


@pytest.fixture
def started(server: Server, connect: Callable[[], Client]) -> Iterator[list[Page]]:
    """Pages on lessons a test started; afterwards one pause stops every run of each."""
    pages: list[Page] = []
    yield pages
    for page in pages:
        url = urlparse(owner_link(page))
        main, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
        page.context.close()
        client = connect()
        client.join(main, token)
        client.emit("train:pause", {})
        client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def table_cells(page: Page) -> dict[str, dict[str, tuple[str, str]]]:
    """The criteria table as {run: {criterion: (figure shown, verdict)}}."""
    return page.eval_on_selector_all(
        "[data-testid=criteria-table] tbody tr",
        """rows => Object.fromEntries(rows.map(row => [row.dataset.run, Object.fromEntries(
            [...row.querySelectorAll('td[data-criterion]')].map(td => [td.dataset.criterion,
              [td.querySelector('.criteria-figure').textContent, td.dataset.verdict]]))]))""",
    )


def test_criteria_table_and_reach_view_show_measured_figures(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    page = open_page(browser, f"{server.url}/?lesson=sequence-criteria&lang=en")
    page.wait_for_url(OWNER_URL, timeout=60_000)
    started.append(page)
    expect(page.get_by_test_id("tab-criteria")).to_have_attribute("aria-selected", "true")
    rows = page.locator("[data-testid=criteria-table] tbody tr")
    expect(rows).to_have_count(4, timeout=120_000)
    cells = table_cells(page)
    assert list(cells) == ["window 8", "bag of characters", "tanh RNN", "LSTM"]
    for run, row in cells.items():
        assert set(row) == set(COLUMNS), run
        for criterion, (figure, verdict) in row.items():
            assert figure.strip() and verdict in ("met", "unmet"), (run, criterion)
            if criterion in ("variable_length", "order"):  # ✓ exactly when it moved at all
                assert (figure == "0") == (verdict == "unmet"), (run, criterion, figure)
    assert cells["window 8"]["variable_length"] == ["0", "unmet"]
    assert cells["bag of characters"]["order"] == ["0", "unmet"]
    for run, row in cells.items():  # "715 → 715": met exactly when the two counts agree
        small, large = (re.sub(r"\D", "", n) for n in row["sharing"][0].split("→"))
        assert (small == large) == (row["sharing"][1] == "met"), (run, row["sharing"])
    assert cells["window 8"]["sharing"][1] == "unmet"
    expect(page.locator(".criteria-legend li")).to_have_count(4)
    page.get_by_test_id("criteria-table").scroll_into_view_if_needed()
    shot(page, "criteria-1366")

    page.get_by_test_id("tab-reach").click()
    expect(page.get_by_test_id("reach-run")).to_have_count(4, timeout=120_000)
    text = page.get_by_test_id("reach-input").input_value()
    assert len(text) > 8
    window = page.locator(".reach-strip[data-run='window 8'] .reach-char")
    expect(window).to_have_count(len(text))
    expect(page.locator(".reach-strip[data-run='window 8'] .is-ignored")).to_have_count(
        len(text) - 8
    )
    expect(page.locator(".reach-strip[data-run='LSTM'] .is-ignored")).to_have_count(0)
    page.get_by_test_id("reach-runs").scroll_into_view_if_needed()
    shot(page, "reach-1366")

    # Changing an early character changes nothing for the window: the figures stay at 0.
    page.get_by_test_id("reach-input").fill("c" + text[1:])
    expect(page.get_by_test_id("reach-input")).to_have_value("c" + text[1:])
    expect(page.locator(".reach-strip[data-run='window 8'] .reach-char").first).to_have_text(
        "c", timeout=60_000
    )
    expect(page.locator(".reach-strip[data-run='window 8'] .is-ignored")).to_have_count(
        len(text) - 8
    )


def test_criteria_table_fits_a_phone_in_french(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    page = open_page(browser, f"{server.url}/?lesson=sequence-criteria&lang=fr", 390, 844)
    page.wait_for_url(OWNER_URL, timeout=60_000)
    started.append(page)
    page.get_by_test_id("tab-criteria").click()
    expect(page.locator("[data-testid=criteria-table] tbody tr")).to_have_count(4, timeout=120_000)
    expect(page.get_by_test_id("criteria-panel")).to_contain_text("Partage des paramètres")
    expect(page.locator(".criteria-table th .criteria-short").first).to_have_text("Longueur")
    fits = page.evaluate(
        """() => {
            const table = document.querySelector('[data-testid=criteria-table]');
            const card = document.querySelector('[data-testid=criteria-panel]');
            return {table: table.scrollWidth, card: card.clientWidth,
                    page: document.documentElement.scrollWidth, view: window.innerWidth};
        }"""
    )
    assert fits["table"] <= fits["card"], fits
    assert fits["page"] <= fits["view"], fits
    page.get_by_test_id("criteria-table").scroll_into_view_if_needed()
    shot(page, "criteria-390-fr")
