"""Look inside a ball and a price series in Debian's headless Chromium against a real server:
the gates are drawn over the task's own steps, named by frame or by month, not by characters;
and under follow-me, the teacher's sentence in a words session's box."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.browser import open_page, require_chromium
from tests.conftest import TINY, Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = Path("/work/tmp/shots/h12")
STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"
INKED = """c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
    }
    return n;
}"""


def open_task(browser: Browser, server: Server, task: str, train: bool = True) -> Page:
    """A new session of `task` from the start page (trained a few steps), on Look inside."""
    page = open_page(browser, f"{server.url}/?task={task}")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    if train:
        page.get_by_test_id("train-button").click()
        page.wait_for_function(STEP_ABOVE, arg=5, timeout=60_000)
    page.get_by_test_id("tab-inspect").click()
    return page


def open_view(page: Page, view: str) -> None:
    page.get_by_test_id(f"inspect-view-{view}").click()
    expect(page.get_by_test_id("inspect-panel")).to_have_attribute("data-view", view)


def test_look_inside_a_ball_draws_the_gates_frame_by_frame(browser: Browser, server: Server):
    page = open_task(browser, server, "ball")
    # Nothing is typed: the ball's own held-out throw is traced, 45 frames of it.
    expect(page.get_by_test_id("inspect-note")).to_be_hidden()
    canvas = page.get_by_test_id("heatmap-canvas")
    expect(canvas).to_have_attribute("data-length", "45", timeout=30_000)
    expect(canvas).to_have_attribute("data-kind", "lstm")
    assert canvas.evaluate(INKED) > 1000
    expect(page.get_by_test_id("inspect-hint")).to_contain_text("step the model reads")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ball-gates.png"), full_page=True)

    # Saliency names each frame, and says which one the prediction comes after.
    open_view(page, "saliency")
    steps = page.get_by_test_id("saliency-char")
    expect(steps).to_have_count(45)
    expect(steps.first).to_have_text("0")
    expect(page.get_by_test_id("saliency-target")).to_contain_text("after frame 44")
    steps.nth(9).click()
    expect(page.get_by_test_id("saliency-target")).to_contain_text("after frame 9")
    expect(page.get_by_test_id("saliency-target")).to_have_attribute("data-position", "10")

    # Unrolled, each step reads its frame and predicts numbers, not a character.
    open_view(page, "unrolled")
    last = page.get_by_test_id("unrolled-step").last
    expect(last.locator(".u-x")).to_have_text("44")
    expect(last.locator(".u-numbers")).to_have_text(re.compile(r"^\(-?\d+\.\d\d, -?\d+\.\d\d\)$"))

    # Surgery: a forget gate held at 0 forgets every frame, and the numbers predicted change.
    open_view(page, "surgery")
    expect(page.get_by_test_id("surgery-before-item")).to_have_count(1)
    page.get_by_test_id("surgery-preset-f0").click()
    expect(page.get_by_test_id("surgery-next")).to_have_attribute("data-surgery", "true")
    after = page.get_by_test_id("surgery-next-item").inner_text()
    assert re.fullmatch(r"\(-?\d+\.\d{3}, -?\d+\.\d{3}\)", after)
    assert after != page.get_by_test_id("surgery-before-item").inner_text()
    page.screenshot(path=str(SHOTS / "ball-surgery.png"), full_page=True)


def test_look_inside_prices_names_each_month(browser: Browser, server: Server):
    page = open_task(browser, server, "prices", train=False)  # an untrained model has gates too
    canvas = page.get_by_test_id("heatmap-canvas")
    expect(canvas).to_have_attribute("data-length", "122", timeout=30_000)
    open_view(page, "units")
    months = page.get_by_test_id("unit-char")
    expect(months).to_have_count(122)
    expect(months.first).to_have_text("2000-02")
    expect(months.last).to_have_text("2010-03")
    open_view(page, "saliency")
    expect(page.get_by_test_id("saliency-target")).to_contain_text("after 2010-03")
    page.screenshot(path=str(SHOTS / "prices-saliency.png"), full_page=True)


def test_a_follower_sees_the_teachers_sentence_in_the_words_box(browser: Browser, server: Server):
    """Under follow-me, a viewer's words box shows what the teacher types, with its answer."""
    body = {"task": "words", "config": TINY}
    response = requests.post(f"{server.url}/api/sessions", json=body, timeout=10)
    response.raise_for_status()
    session = response.json()
    owner = open_page(browser, server.url + session["owner_url"])
    student = open_page(browser, server.url + session["view_url"])
    expect(student.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    owner.get_by_test_id("class-follow").click()
    expect(student.get_by_test_id("follow-bar")).to_have_attribute(
        "data-following", "true", timeout=20_000
    )
    owner.get_by_test_id("words-input").press_sequentially("the cat sat on the", delay=30)
    expect(student.get_by_test_id("words-input")).to_have_value(
        "the cat sat on the", timeout=20_000
    )
    expect(student.get_by_test_id("words-token")).to_have_count(5, timeout=20_000)
    expect(student.get_by_test_id("words-top").locator("li").first).to_be_visible()
    # Broken away, the student's own sentence stays theirs.
    student.get_by_test_id("follow-break").click()
    expect(student.get_by_test_id("follow-bar")).to_have_attribute("data-following", "false")
    student.get_by_test_id("words-input").fill("a dog")
    owner.get_by_test_id("words-input").press_sequentially(" mat", delay=30)
    expect(student.get_by_test_id("words-token")).to_have_count(2, timeout=20_000)
    expect(student.get_by_test_id("words-input")).to_have_value("a dog")
    student.screenshot(path=str(SHOTS / "words-follow.png"), full_page=True)
