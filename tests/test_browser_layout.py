"""Layout in Debian's headless Chromium: with a lesson card on screen, on a laptop (1366×768),
a projector (1920×1080) and a phone (390×844), in English and French, the loss chart stays
readable (at least 200 px tall) and no text runs out of its card."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

SIZES = [(1366, 768), (1920, 1080), (390, 844)]

# Text whose box reaches past its card's edge, outside any container that scrolls or clips.
OVERFLOWING = """() => {
  const bad = [];
  const clips = (el, card) => {
    for (let p = el.parentElement; p && p !== card; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  for (const card of document.querySelectorAll(".card")) {
    const c = card.getBoundingClientRect();
    if (c.width === 0 || c.height === 0) continue;
    for (const el of card.querySelectorAll("*")) {
      const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      const r = el.getBoundingClientRect();
      if (!text || r.width === 0 || clips(el, card)) continue;
      if (r.right > c.right + 1 || r.left < c.left - 1) {
        bad.push(`${el.tagName}.${el.className}: "${el.textContent.trim().slice(0, 40)}"`);
      }
    }
  }
  return bad;
}"""


@pytest.fixture
def lesson(server: Server, connect: Callable[[], Client]) -> Iterator[dict]:
    """The next-character lesson (its first view is the loss chart), paused afterwards."""
    started = requests.post(
        f"{server.url}/api/lessons/next-character/start", json={"lang": "en"}, timeout=60
    ).json()
    yield started
    client = connect()
    client.join(started["id"], started["owner_token"])
    client.emit("train:pause", {})
    client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_loss_chart_stays_readable_and_text_stays_in_its_card(
    browser: Browser, server: Server, lesson: dict, lang: str
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in SIZES:
        page = open_page(browser, server.url + lesson["owner_url"], width, height)
        if lang == "fr":
            page.get_by_test_id("lang-switch").select_option("fr")
        expect(page.get_by_test_id("lesson-card")).to_be_visible()
        expect(page.get_by_test_id("lesson-look-for")).not_to_be_empty()
        chart = page.get_by_test_id("loss-chart")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        page.screenshot(path=str(ARTIFACTS / f"layout-lesson-{lang}-{width}.png"))
        assert box is not None and box["height"] >= 200, (width, height, lang, box)
        assert page.evaluate(OVERFLOWING) == [], (width, height, lang)
        page.context.close()


def test_projector_mode_keeps_the_lesson_views(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    started = requests.post(
        f"{server.url}/api/lessons/window-vs-rnn/start", json={"lang": "en"}, timeout=60
    ).json()
    page = open_page(browser, server.url + started["owner_url"], 1920, 1080)
    page.get_by_test_id("projector-toggle").click()
    expect(page.locator("html")).to_have_class(re.compile("projector"))
    # The comparison is what this lesson shows the room: its tab opens it in projector mode.
    page.get_by_test_id("tab-compare").click()
    expect(page.locator(".pane-compare")).to_be_visible()
    expect(page.get_by_test_id("compare-row")).to_have_count(len(started["runs"]), timeout=30_000)
    expect(page.locator(".pane-training")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "projector-compare-1920.png"))
    # Looking inside works on the room's screen too.
    page.get_by_test_id("predict-input").fill("The cat sat")
    page.get_by_test_id("tab-inspect").click()
    canvas = page.get_by_test_id("heatmap-canvas")
    expect(canvas).to_have_attribute("data-length", "11", timeout=30_000)
    page.get_by_test_id("tab-training").click()
    expect(page.get_by_test_id("loss-chart")).to_be_visible()
    # A+ makes the room's text larger still.
    size = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
    before = page.evaluate(size)
    page.get_by_test_id("large-text").click()
    assert page.evaluate(size) > before
    page.get_by_test_id("large-text").click()
    client = Client(server.url)
    client.join(started["id"], started["owner_token"])
    client.emit("train:pause", {})
    client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))
    client.close()


FONT = "sel => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize)"


def test_large_text_on_a_laptop_makes_every_figure_larger(
    browser: Browser, server: Server, lesson: dict
) -> None:
    """A+ at 1366×768: the figures, the lesson text and the chart labels all grow; none shrinks
    to fit its card, and the loss chart keeps its height (the page scrolls instead)."""
    page = open_page(browser, server.url + lesson["owner_url"], 1366, 768)
    expect(page.get_by_test_id("lesson-look-for")).not_to_be_empty()
    watched = [f'[data-testid="{name}"]' for name in ("step-count", "params", "lesson-look-for")]
    before = [page.evaluate(FONT, sel) for sel in watched]
    page.get_by_test_id("large-text").click()
    expect(page.locator("html")).to_have_class(re.compile("large-text"))
    after = [page.evaluate(FONT, sel) for sel in watched]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    box = page.get_by_test_id("loss-chart").bounding_box()
    page.screenshot(path=str(ARTIFACTS / "layout-large-text-1366.png"), full_page=True)
    assert box is not None and box["height"] >= 200, box
    assert page.evaluate(OVERFLOWING) == []


def test_compare_table_shows_every_run_on_a_laptop(browser: Browser, server: Server) -> None:
    """At 1366×768 with the lesson card open, all seven runs of "a fixed window or a recurrent
    state" are on screen at once, each on one line."""
    started = requests.post(
        f"{server.url}/api/lessons/window-vs-rnn/start", json={"lang": "fr"}, timeout=60
    ).json()
    try:
        page = open_page(browser, server.url + started["owner_url"], 1366, 768)
        page.get_by_test_id("tab-compare").click()
        rows = page.get_by_test_id("compare-row")
        expect(rows).to_have_count(len(started["runs"]), timeout=30_000)
        expect(page.get_by_test_id("lesson-card")).to_be_visible()
        # Every row inside the window and one line high, once the runs' figures have arrived.
        page.wait_for_function(
            """() => {
              const rows = [...document.querySelectorAll('[data-testid="compare-row"]')];
              const line = 2.6 * parseFloat(getComputedStyle(rows[0].cells[0]).fontSize);
              return rows.every((r) => {
                const b = r.getBoundingClientRect();
                return b.bottom <= innerHeight && b.height <= line;
              });
            }""",
            timeout=15_000,
        )
        page.screenshot(path=str(ARTIFACTS / "layout-compare-1366.png"))
    finally:
        client = Client(server.url)
        client.join(started["id"], started["owner_token"])
        client.emit("train:pause", {})
        client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))
        client.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_phone_header_leaves_the_screen_to_the_lesson(
    browser: Browser, server: Server, lesson: dict, lang: str
) -> None:
    """On a 390×844 phone the owner's header takes at most a fifth of the first screen."""
    page = open_page(browser, server.url + lesson["owner_url"], 390, 844)
    if lang == "fr":
        page.get_by_test_id("lang-switch").select_option("fr")
    expect(page.get_by_test_id("lesson-card")).to_be_visible()
    header = page.locator(".app-header").bounding_box()
    page.screenshot(path=str(ARTIFACTS / f"layout-phone-header-{lang}.png"))
    assert header is not None and header["height"] <= 844 / 5, header
    assert page.evaluate(OVERFLOWING) == []


# ------------------------------------------ the music and translation views at every size

# Every chart on screen (a [data-testid] ending in "-chart" and drawn): its height in px.
CHART_HEIGHTS = """() => [...document.querySelectorAll('div[data-testid$="-chart"]')]
  .filter((el) => el.getBoundingClientRect().width > 0)
  .map((el) => [el.dataset.testid, el.getBoundingClientRect().height])"""
# The page is never wider than the screen (nothing to scroll sideways on a phone).
SIDEWAYS = "() => document.documentElement.scrollWidth - innerWidth"
STAFF = """(id) => {
  const staff = document.querySelector(`[data-testid=${id}] svg .abcjs-staff`);
  return staff ? staff.getBoundingClientRect().height : 0;
}"""
# Laptop, projector in French, projector mode, phone in French.
LOOKS = [((1366, 768), "en", False), ((1920, 1080), "fr", False), ((1920, 1080), "en", True)]
LOOKS += [((390, 844), "fr", False)]
# Words of the English verdicts and numbers that must not show on a French page.
ENGLISH = re.compile(r"header|needs|skips|of the bars|cannot read|log p = -?\d+\.\d|\d,\d{3}")


def open_look(browser: Browser, url: str, size: tuple[int, int], lang: str, projector: bool):
    """The page at `size`, in `lang`, in projector mode if asked."""
    page = open_page(browser, url, *size)
    if lang == "fr":
        page.get_by_test_id("lang-switch").select_option("fr")
    if projector:
        page.get_by_test_id("projector-toggle").click()
        expect(page.locator("html")).to_have_class(re.compile("projector"))
    return page


def check_fits(page, name: str) -> None:
    """Charts at least 200 px tall, no text out of its card, nothing wider than the screen."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    short = [(chart, h) for chart, h in page.evaluate(CHART_HEIGHTS) if h < 200]
    assert short == [], (name, short)
    assert page.evaluate(OVERFLOWING) == [], name
    assert page.evaluate(SIDEWAYS) <= 0, name


def pause(server: Server, started: dict) -> None:
    client = Client(server.url)
    client.join(started["id"], started["owner_token"])
    client.emit("train:pause", {})
    client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))
    client.close()


def test_music_view_fits_every_screen_and_its_staff_grows_with_the_text(
    browser: Browser, server: Server
) -> None:
    """The music lesson: a real tune drawn as a staff on a laptop, a projector (in French and
    in projector mode) and a phone; its staff grows with A+, and its verdicts read French."""
    ARTIFACTS.mkdir(exist_ok=True)
    started = requests.post(
        f"{server.url}/api/lessons/many-to-many-music/start", json={"lang": "en"}, timeout=60
    ).json()
    try:
        for size, lang, projector in LOOKS:
            page = open_look(browser, server.url + started["owner_url"], size, lang, projector)
            expect(page.get_by_test_id("music-view")).to_be_visible(timeout=30_000)
            page.get_by_test_id("music-real-ask").click()
            real = page.get_by_test_id("music-real")
            expect(real).to_have_attribute("data-valid", "true", timeout=30_000)
            page.wait_for_function(f"() => ({STAFF})('music-real') > 0")
            real.scroll_into_view_if_needed()
            name = f"layout-music-{lang}-{size[0]}{'-projector' if projector else ''}"
            check_fits(page, name)
            if lang == "fr":
                verdicts = page.locator("[data-testid=music-view] .music-verdict").all_inner_texts()
                assert not [v for v in verdicts if ENGLISH.search(v)], verdicts
            if projector:
                # A+ on the room's screen: the staff is laid out again, larger.
                before = page.evaluate(STAFF, "music-real")
                page.get_by_test_id("large-text").click()
                page.wait_for_function(f"() => ({STAFF})('music-real') > {before * 1.05}")
                page.get_by_test_id("large-text").click()
            page.context.close()
    finally:
        pause(server, started)


def test_translation_view_fits_every_screen_and_its_heatmaps_grow_with_the_text(
    browser: Browser, server: Server
) -> None:
    """The translation lesson: a typed number translated, its encoder states drawn, on a laptop,
    a projector (in French and in projector mode) and a phone; the heatmap's cells and the
    typed text grow with A+, and French numbers read "9 999" and "-0,12"."""
    ARTIFACTS.mkdir(exist_ok=True)
    started = requests.post(
        f"{server.url}/api/lessons/translate-attention/start", json={"lang": "en"}, timeout=60
    ).json()
    number = "four hundred and ninety-seven"
    try:
        for size, lang, projector in LOOKS:
            page = open_look(browser, server.url + started["owner_url"], size, lang, projector)
            view = page.get_by_test_id("translate-view")
            expect(view).to_be_visible(timeout=30_000)
            page.get_by_test_id("translate-input").fill(number)
            page.get_by_test_id("translate-go").click()
            encoder = page.get_by_test_id("translate-encoder")
            expect(encoder).to_have_attribute("data-rows", str(len(number)), timeout=30_000)
            output = page.get_by_test_id("translate-output")  # revealed a character at a time
            expect(output).to_have_attribute("data-done", "true", timeout=30_000)
            name = f"layout-translate-{lang}-{size[0]}{'-projector' if projector else ''}"
            view.scroll_into_view_if_needed()
            check_fits(page, name)
            # The typed text is as large as the page's own (not the browser's 13 px default).
            assert page.evaluate(FONT, '[data-testid="translate-input"]') >= page.evaluate(
                FONT, '[data-testid="translate-view"]'
            ), name
            if lang == "fr":
                ranges = page.get_by_test_id("translate-new-range").locator("option")
                assert re.fullmatch(r"9\s999", ranges.nth(2).inner_text()), ranges.all_inner_texts()
                assert not ENGLISH.search(view.inner_text()), name
            if projector:
                cell = float(encoder.get_attribute("data-cell") or 0)
                font = page.evaluate(FONT, '[data-testid="translate-input"]')
                page.get_by_test_id("large-text").click()
                page.wait_for_function(
                    f"() => Number(document.querySelector('[data-testid=translate-encoder]')"
                    f".dataset.cell) > {cell}"
                )
                assert page.evaluate(FONT, '[data-testid="translate-input"]') > font
                page.get_by_test_id("large-text").click()
            page.context.close()
    finally:
        pause(server, started)
