"""Lessons run to their end in Chromium and the card says whether their claim held.

The music lesson (one LSTM, 1,000 steps) and the catalog's next-character lesson (one LSTM,
300 steps) stop by themselves at their budget; the server judges the claim on what the runs
ended on, and the card says "The claim held: …" or "Not this time: …" with the figures of the
curves on screen (the last validation loss; the valid share beside it; the entropy of the
letters of the validation text), in English and in French with French numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from backend.lessons import catalog as lessons
from backend.lessons import ends
from tests.browser import open_page, owner_link, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

LESSON = "many-to-many-music"
SHOTS = Path(os.environ.get("PLAYGROUND_SHOTS", "test-artifacts"))


def pause(page: Page, connect: Callable[[], Client]) -> None:
    """Pause the lesson of the owner's `page`, so it frees its training slots, and close it."""
    url = urlparse(owner_link(page))
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
    page.context.close()
    client = connect()
    client.join(session, token)
    client.emit("train:pause", {})
    client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))


def runs_of(server: Server, page: Page) -> dict:
    """`GET /runs` for the owner's page: every run's row, and the server's verdict."""
    url = urlparse(owner_link(page))
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
    return requests.get(
        f"{server.url}/api/sessions/{session}/runs", headers={"X-Session-Token": token}, timeout=30
    ).json()


@pytest.fixture
def lesson_page(browser: Browser, server: Server, connect: Callable[[], Client]) -> Iterator[Page]:
    """The lesson's owner page; afterwards its run is paused, so it frees its training slot."""
    page = open_page(browser, f"{server.url}/?lesson={LESSON}&lang=en", 1366, 768)
    yield page
    pause(page, connect)


@pytest.mark.timeout(900)
def test_a_task_lesson_ends_saying_whether_its_claim_held(
    server: Server, lesson_page: Page, connect: Callable[[], Client]
):
    page = lesson_page
    page.wait_for_url("**/s/**")
    steps = requests.get(f"{server.url}/api/lessons", timeout=10).json()["lessons"]
    budget = next(lesson["steps"] for lesson in steps if lesson["id"] == LESSON)
    # The header says what this task learns, not "one character at a time" on every task.
    expect(page.get_by_test_id("tagline")).to_have_text(
        "Watch a recurrent network read folk tunes in ABC notation one character at a time, "
        "then write new ones."
    )
    end = page.get_by_test_id("lesson-end")
    # One LSTM of 1,000 steps: about a minute on a quiet CPU, several on a busy one.
    expect(end).to_be_visible(timeout=600_000)
    verdict = page.get_by_test_id("lesson-verdict")
    expect(verdict).to_have_attribute("data-held", "true", timeout=60_000)

    url = urlparse(owner_link(page))
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
    body = requests.get(
        f"{server.url}/api/sessions/{session}/runs", headers={"X-Session-Token": token}, timeout=30
    ).json()
    (run,) = body["runs"]
    judged = body["verdict"]
    assert run["step"] == budget and run["pause_reason"] == "budget", run
    assert judged["lesson"] == LESSON and judged["held"] is True, judged

    # The sentence is the server's verdict, with the figures the curves end on.
    (check,) = judged["checks"]
    text = verdict.inner_text()
    assert text.startswith("The claim held: ") and check["says"]["en"] in text, text
    assert check["measured"]["en"] in text
    assert f"validation loss {run['val'][-1]:.2f}" in text, (run["val"][-1], text)
    client = connect()  # the history the page draws its curves from
    history = client.join(session, token)["history"]
    last = [share for share in history["score"] if share is not None][-1]
    assert f"{round(last * 8)} of 8 valid" in text, (last, text)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lesson-verdict-1366.png"))

    page.get_by_test_id("lang-switch").select_option("fr")
    expect(verdict).to_contain_text("L'affirmation a tenu : ")
    expect(page.get_by_test_id("tagline")).to_contain_text(
        "Regardez un réseau récurrent lire des airs traditionnels notés en ABC"
    )
    assert check["measured"]["fr"] in verdict.inner_text()
    page.screenshot(path=str(SHOTS / "lesson-verdict-fr-1366.png"))


@pytest.mark.timeout(900)
def test_a_catalog_lesson_ends_on_the_servers_verdict_with_the_figures_it_measured(
    browser: Browser, server: Server, connect: Callable[[], Client]
):
    lesson = lessons.get("next-character")
    page = open_page(browser, f"{server.url}/?lesson={lesson.id}&lang=en", 1366, 768)
    try:
        page.wait_for_url("**/s/**")
        # One LSTM of 300 steps: under a minute on a quiet CPU, a few on a busy one.
        expect(page.get_by_test_id("lesson-end")).to_be_visible(timeout=600_000)
        verdict = page.get_by_test_id("lesson-verdict")
        expect(verdict).to_have_attribute("data-held", "true", timeout=120_000)
        body = runs_of(server, page)
        (run,) = body["runs"]
        assert run["step"] == lesson.steps and run["pause_reason"] == "budget", run
        (check,) = body["verdict"]["checks"]

        # The sentence is the server's verdict, and its figures are the ones measured: the end
        # of the validation curve on screen, and the entropy of the validation text's letters.
        lstm = run["val"][-1]
        entropy = ends.letter_entropy(ends.held_out(lessons.training_text(lesson.data, "en")))
        text = verdict.inner_text()
        assert text == f"The claim held: {check['says']['en']} ({check['measured']['en']}).", text
        assert check["measured"]["en"] == f"LSTM {lstm:.2f}, entropy {entropy:.2f} bits", check
        assert lstm < entropy
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "catalog-verdict-1366.png"))

        page.get_by_test_id("lang-switch").select_option("fr")
        expect(verdict).to_contain_text("L'affirmation a tenu : la perte de validation du LSTM")
        french = f"LSTM : {lstm:.2f} ; entropie : {entropy:.2f} bits".replace(".", ",")
        assert f"({french})" in verdict.inner_text(), (french, verdict.inner_text())
        page.screenshot(path=str(SHOTS / "catalog-verdict-fr-1366.png"))
    finally:
        pause(page, connect)
