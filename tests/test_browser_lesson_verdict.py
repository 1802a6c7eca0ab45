"""A task's lesson runs to its end in Chromium and the card says whether its claim held.

The music lesson (one LSTM, 1,000 steps) stops by itself at its budget; the server judges its
claim on what the run ended on, and the card says "The claim held: …" or "Not this time: …"
with the figures of the curves on screen (the valid share beside the loss, the last
validation loss), in English and in French.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.browser import open_page, owner_link, require_chromium
from tests.conftest import Client, Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

LESSON = "many-to-many-music"
SHOTS = Path(os.environ.get("PLAYGROUND_SHOTS", "test-artifacts"))


@pytest.fixture
def lesson_page(browser: Browser, server: Server, connect: Callable[[], Client]) -> Iterator[Page]:
    """The lesson's owner page; afterwards its run is paused, so it frees its training slot."""
    page = open_page(browser, f"{server.url}/?lesson={LESSON}&lang=en", 1366, 768)
    yield page
    url = urlparse(owner_link(page))
    session, token = url.path.rsplit("/", 1)[-1], parse_qs(url.query)["t"][0]
    page.context.close()
    client = connect()
    client.join(session, token)
    client.emit("train:pause", {})
    client.wait("session:state", lambda state: state["status"] in ("paused", "idle"))


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
