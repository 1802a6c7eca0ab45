"""Lessons in Debian's headless Chromium against a real server: a lesson's link lands on its
card and its comparison, the lessons drawer starts one, the gap view measures, and the
sentiment view shows that a bag of characters cannot tell a sentence from its flipped twin."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.browser import ARTIFACTS, open_page, owner_link, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

OWNER_URL = re.compile(r"/s/[\w-]+$")  # the token moves to storage
SIZES = {"1366": (1366, 768), "1920": (1920, 1080)}


@pytest.fixture
def started(server: Server, connect: Callable[[], Client]) -> Iterator[list[Page]]:
    """Pages on lessons a test started. Afterwards every run of those lessons is paused: up to
    seven models each would otherwise hold the shared server's training slots for ten minutes."""
    pages: list[Page] = []
    yield pages
    for page in pages:
        url = urlparse(owner_link(page))
        main, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
        runs = requests.get(
            f"{server.url}/api/sessions/{main}/runs",
            headers={"X-Session-Token": token},
            timeout=10,
        ).json()["runs"]
        page.context.close()
        for run in runs:
            client = connect()
            client.join(run["id"], token)
            client.emit("train:pause", {})
            client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))


def lessons(server: Server, lang: str = "en") -> dict[str, dict]:
    """The lessons as the API lists them, by id."""
    response = requests.get(f"{server.url}/api/lessons", params={"lang": lang}, timeout=10)
    response.raise_for_status()
    return {lesson["id"]: lesson for lesson in response.json()["lessons"]}


def shoot(browser: Browser, url: str, name: str, ready: str) -> None:
    """Screenshots of `url` at both sizes once `ready` (a test id) is visible."""
    for size, (width, height) in SIZES.items():
        page = open_page(browser, url, width, height)
        expect(page.get_by_test_id(ready).first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / f"lessons-{name}-{size}.png"))
        page.context.close()


def rows(page: Page) -> list[tuple[str, int]]:
    return [
        (label, int(params))
        for label, params in page.get_by_test_id("compare-row").evaluate_all(
            "els => els.map(e => [e.dataset.label, e.dataset.params])"
        )
    ]


def final(page: Page, label: str) -> tuple[float, str]:
    """A run's final P(positive) in the sentiment table, raw and as displayed."""
    row = page.locator(f'[data-testid=sentiment-run][data-label="{label}"]')
    expect(row).to_be_visible()
    return float(row.get_attribute("data-final") or "nan"), row.locator(".final-value").inner_text()


def answered(page: Page, text: str) -> None:
    """Type `text` into the sentiment box and wait for the table to be about it."""
    page.get_by_test_id("sentiment-input").fill(text)
    # The first answer trains one classifier per run (10-30 s on a CPU).
    try:
        expect(page.get_by_test_id("sentiment-table")).to_have_attribute(
            "data-text", text, timeout=55_000
        )
    except AssertionError:
        status = page.get_by_test_id("sentiment-status")
        raise AssertionError(
            f"no answer for {text!r}: {status.get_attribute('data-state')} {status.inner_text()!r}"
        ) from None


def test_bag_of_characters_cannot_tell_flipped_sentences_apart(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    lesson = lessons(server)["order-matters"]
    page = open_page(browser, server.url + lesson["link"])
    page.wait_for_url(OWNER_URL)
    started.append(page)
    expect(page.get_by_test_id("tab-sentiment")).to_have_attribute("aria-selected", "true")
    pair = page.get_by_test_id("sentiment-pair")
    expect(pair).to_have_count(2)
    first, second = pair.nth(0).inner_text(), pair.nth(1).inner_text()
    assert first == "The food was good, not bad at all."
    assert second == "The food was bad, not good at all."

    bag = next(run["label"] for run in lesson["runs"] if run["settings"]["model"] == "bag")
    answered(page, first)
    expect(page.get_by_test_id("sentiment-run")).to_have_count(len(lesson["runs"]))
    good, good_shown = final(page, bag)
    page.screenshot(path=str(ARTIFACTS / "lessons-sentiment-1366.png"))
    answered(page, second)
    bad, bad_shown = final(page, bag)
    # The same characters in another order: the bag gives the very same answer.
    assert good == pytest.approx(bad, abs=1e-6)
    assert good_shown == bad_shown
    assert 0 <= good <= 1

    wide = open_page(browser, owner_link(page), *SIZES["1920"])
    answered(wide, "I thought the film would be awful, but it was lovely.")
    wide.screenshot(path=str(ARTIFACTS / "lessons-sentiment-1920.png"))
    wide.context.close()


def test_lesson_link_lands_on_its_card_and_comparison(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    lesson = lessons(server)["window-vs-rnn"]
    page = open_page(browser, f"{server.url}/?lesson=window-vs-rnn&lang=en")
    page.wait_for_url(OWNER_URL)
    started.append(page)
    expect(page.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")

    # The card says what to look for; the lesson's first view, the comparison, is open.
    card = page.get_by_test_id("lesson-card")
    expect(card).to_have_attribute("data-lesson", "window-vs-rnn")
    expect(card).to_contain_text(lesson["title"])
    expect(page.get_by_test_id("lesson-look-for")).to_contain_text(lesson["look_for"])
    # It opens on the run that makes the point (the RNN), not the bag of characters listed first.
    assert lesson["opens"] == "RNN" != lesson["runs"][0]["label"]
    expect(page.get_by_test_id("lesson-run")).to_contain_text(lesson["opens"])
    expect(page.get_by_test_id("tab-compare")).to_have_attribute("aria-selected", "true")

    # Every run is in the table, in the lesson's order, with its parameter count.
    expect(page.get_by_test_id("compare-row")).to_have_count(len(lesson["runs"]))
    table = rows(page)
    assert [label for label, _ in table] == [run["label"] for run in lesson["runs"]]
    assert all(params > 0 for _, params in table)
    # Parameter sharing: each extra character of window width costs weights; the RNN's do not.
    windows = sorted(
        (run["settings"]["window"], dict(table)[run["label"]])
        for run in lesson["runs"]
        if run["settings"].get("model") == "window"
    )
    counts = [params for _, params in windows]
    assert len(counts) >= 3 and counts == sorted(set(counts)), windows
    assert dict(table)["RNN"] < counts[-1]
    expect(page.get_by_test_id("compare-chart")).to_be_attached()
    shoot(browser, owner_link(page), "compare", "compare-row")

    # In French the card reads French (the lesson list is fetched again in that language).
    french = lessons(server, "fr")["window-vs-rnn"]
    page.get_by_test_id("lang-switch").select_option("fr")
    expect(card).to_contain_text(french["title"])
    expect(page.get_by_test_id("lesson-look-for")).to_contain_text(french["look_for"])
    expect(page.get_by_test_id("tab-compare")).to_have_text("Comparer")
    page.screenshot(path=str(ARTIFACTS / "lessons-compare-fr-1366.png"))


def test_lessons_panel_starts_a_lesson_and_class_mode_hides_it(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    catalogue = lessons(server)
    owner = open_page(browser, server.url + "/")
    owner.wait_for_url(OWNER_URL)
    expect(owner.get_by_test_id("lesson-card")).to_be_hidden()

    # The drawer lists every lesson with a Start button and its absolute, shareable link.
    owner.get_by_test_id("lessons-tab").click()
    panel = owner.get_by_test_id("lessons-panel")
    expect(panel).to_be_visible()
    items = owner.get_by_test_id("lesson-item")
    expect(items).to_have_count(len(catalogue))
    assert items.evaluate_all("els => els.map(e => e.dataset.lesson)") == list(catalogue)
    first = items.first
    expect(first.get_by_test_id("lesson-link")).to_have_value(
        server.url + catalogue["next-character"]["link"]
    )
    owner.wait_for_function("() => document.getAnimations().length === 0")
    owner.screenshot(path=str(ARTIFACTS / "lessons-panel-1366.png"))
    owner.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # Class mode: hiding "lessons" takes the button away from viewers, not from the owner.
    owner.get_by_test_id("share-button").click()
    view_url = owner.get_by_test_id("share-url").input_value()
    owner.keyboard.press("Escape")
    viewer = open_page(browser, view_url)
    expect(viewer.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    expect(viewer.get_by_test_id("lessons-tab")).to_be_visible()
    owner.get_by_test_id("class-hide-lessons").check()
    expect(viewer.get_by_test_id("lessons-tab")).to_be_hidden()
    expect(owner.get_by_test_id("lessons-tab")).to_be_visible()
    viewer.context.close()

    # Start: the page becomes the owner link of the lesson's main run, on its first view.
    before = owner.url
    owner.get_by_test_id("lessons-tab").click()
    first.get_by_test_id("lesson-start").click()
    owner.wait_for_url(lambda url: url != before and OWNER_URL.search(url) is not None)
    started.append(owner)
    expect(owner.get_by_test_id("lesson-card")).to_have_attribute("data-lesson", "next-character")
    expect(owner.get_by_test_id("tab-training")).to_have_attribute("aria-selected", "true")


def test_gap_view_measures_every_run(browser: Browser, server: Server, started: list[Page]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    lesson = lessons(server)["long-range"]
    page = open_page(browser, server.url + lesson["link"])
    page.wait_for_url(OWNER_URL)
    started.append(page)
    expect(page.get_by_test_id("tab-gap")).to_have_attribute("aria-selected", "true")
    chart = page.get_by_test_id("gap-chart")
    # The tab measures once when it opens; the button measures again.
    expect(chart).to_have_attribute("data-runs", str(len(lesson["runs"])), timeout=45_000)
    page.get_by_test_id("gap-measure").click()
    expect(page.get_by_test_id("gap-measure")).to_be_enabled(timeout=45_000)
    result = json.loads(chart.get_attribute("data-result") or "{}")
    assert result["gaps"] == lesson["data"]["eval_gaps"]
    assert [run["label"] for run in result["runs"]] == [run["label"] for run in lesson["runs"]]
    assert all(0 <= a <= 1 for run in result["runs"] for a in run["accuracy"])
    expect(chart.locator("canvas").first).to_be_visible()
    shoot(browser, owner_link(page), "gap", "gap-chart")


def test_a_lesson_stops_at_its_end_with_a_verdict_in_measured_figures(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, f"{server.url}/?lesson=exploding-gradients&lang=en")
    page.wait_for_url(OWNER_URL)
    started.append(page)
    end = page.get_by_test_id("lesson-end")
    expect(end).to_be_hidden()
    # Both runs stop by themselves at the budget (200 steps, a minute or two on a busy CPU).
    expect(end).to_be_visible(timeout=240_000)
    expect(page.get_by_test_id("lesson-end-title")).to_contain_text("step 200")
    expect(page.locator(".figure-status")).to_contain_text("end of the lesson")
    verdict = page.get_by_test_id("lesson-verdict")
    # The server judges the claim on what the runs ended on; the card says whether it held.
    expect(verdict).to_have_attribute("data-held", "true", timeout=60_000)

    # The verdict quotes each run's latest validation loss, the end of its curve.
    url = urlparse(owner_link(page))
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]

    runs = requests.get(
        f"{server.url}/api/sessions/{session}/runs", headers={"X-Session-Token": token}, timeout=10
    ).json()["runs"]
    assert all(r["pause_reason"] == "budget" for r in runs), runs
    latest = {run["label"]: run["val"][-1] for run in runs}  # None: not a number (diverged)

    def check(decimal: str, held: str) -> None:
        text = verdict.inner_text()
        assert text.startswith(held), text
        for val in latest.values():
            figure = "NaN" if val is None else f"{val:.2f}".replace(".", decimal)
            assert f"({figure} " in text, (figure, text)

    check(".", "The claim held: ")
    page.screenshot(path=str(ARTIFACTS / "lessons-end-1366.png"))

    # In French the figures have a decimal comma.
    page.get_by_test_id("lang-switch").select_option("fr")
    expect(verdict).to_contain_text("L'affirmation a tenu")
    expect(verdict).to_contain_text("sans écrêtage")
    check(",", "L'affirmation a tenu : ")
    page.screenshot(path=str(ARTIFACTS / "lessons-end-fr-1366.png"))

    # "Run on" trains every run past the budget; the notice goes.
    page.get_by_test_id("lesson-run-on").click()
    expect(end).to_be_hidden()
    expect(page.get_by_test_id("status")).to_have_text(re.compile("En cours|En attente"))


def test_students_on_the_teachers_link_watch_the_same_runs(
    browser: Browser, server: Server, started: list[Page]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    teacher = open_page(browser, f"{server.url}/?lesson=order-matters&lang=en")
    teacher.wait_for_url(OWNER_URL)
    started.append(teacher)
    expect(teacher.get_by_test_id("lesson-run")).to_contain_text("LSTM")
    # The drawer's link for the lesson under way is the teacher's view link, not a new start.
    teacher.get_by_test_id("lessons-tab").click()
    item = teacher.locator('[data-testid=lesson-item][data-lesson="order-matters"]')
    link = item.get_by_test_id("lesson-link").input_value()
    assert "/s/" in link and "lesson=" not in link, link
    expect(item.get_by_test_id("lesson-link-note")).to_contain_text("watch your runs")
    teacher.keyboard.press("Escape")

    # Three phones open it at once: all see the teacher's runs, none waits in a queue.
    phones = [open_page(browser, link, 390, 844) for _ in range(3)]
    for phone in phones:
        expect(phone.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
        card = phone.get_by_test_id("lesson-card")
        expect(card).to_have_attribute("data-lesson", "order-matters")
        expect(phone.get_by_test_id("lesson-run")).to_contain_text("LSTM")
        expect(phone.get_by_test_id("status")).not_to_have_text(re.compile("queue|Queued", re.I))
    phones[0].screenshot(path=str(ARTIFACTS / "lessons-student-390.png"))
    url = urlparse(link)
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
    runs = requests.get(
        f"{server.url}/api/sessions/{session}/runs", headers={"X-Session-Token": token}, timeout=10
    ).json()["runs"]
    assert [r["label"] for r in runs] == ["bag of characters", "window 8", "RNN", "LSTM"]

    # One pause on the teacher's page stops every run, as every phone sees.
    teacher.get_by_test_id("pause-button").click()
    for phone in phones:
        expect(phone.get_by_test_id("status")).to_have_text(re.compile("Paused"))
        phone.context.close()
    runs = requests.get(
        f"{server.url}/api/sessions/{session}/runs", headers={"X-Session-Token": token}, timeout=10
    ).json()["runs"]
    assert {r["status"] for r in runs} == {"paused"}, runs
