"""The ball, next words and prices in the real app, in headless Chromium against a real server:
each session of a task opens its own view, trains, and answers what a user asks of it."""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, Page, WebSocket, expect  # noqa: E402

pytestmark = pytest.mark.browser

STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"

# How many pixels of a canvas are close to each colour (r, g, b); a colour drawn shows up.
COUNT_COLOURS = """([testid, colours]) => {
    const canvas = document.querySelector(`[data-testid=${testid}] canvas`)
        || document.querySelector(`canvas[data-testid=${testid}]`);
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const counts = colours.map(() => 0);
    for (let i = 0; i < d.length; i += 4) {
        colours.forEach(([r, g, b], k) => {
            if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 40)
                counts[k]++;
        });
    }
    return counts;
}"""


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]


def blend(colour: str, alpha: float, under: str) -> list[int]:
    return [
        round(alpha * a + (1 - alpha) * b) for a, b in zip(rgb(colour), rgb(under), strict=True)
    ]


def open_task(browser: Browser, server: Server, task: str) -> tuple[Page, WebSocket]:
    """A new session of `task` from the start page, training; and the page's socket."""
    page = open_page(browser, "about:blank")
    with page.expect_websocket() as socket:
        page.goto(f"{server.url}/?task={task}")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    expect(page.get_by_test_id("task-select")).to_have_value(task)
    page.get_by_test_id("train-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    return page, socket.value


def answered(socket: WebSocket, event: str):
    """Waits (on leaving the block) for the server to send the page `event`."""
    return socket.expect_event(
        "framereceived", lambda payload: f'["{event}"' in str(payload), timeout=30_000
    )


def test_the_start_lists_every_kind_of_sequence_with_one_line(browser: Browser, server: Server):
    page = open_page(browser, server.url + "/")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    options = page.get_by_test_id("task-select").locator("option")
    expect(options).to_have_count(6)
    assert [options.nth(i).get_attribute("value") for i in range(6)] == [
        "text",
        "words",
        "ball",
        "prices",
        "music",
        "translate",
    ]
    page.get_by_test_id("task-select").select_option("ball")
    expect(page.get_by_test_id("task-summary")).to_contain_text("ball")
    page.get_by_test_id("task-start").click()
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    expect(page.get_by_test_id("ball-view")).to_be_visible()


def test_a_task_is_started_on_the_source_chosen_in_the_picker(browser: Browser, server: Server):
    """The picker offers a task's source choices (here a collection of tunes), in French."""
    page = open_page(browser, server.url + "/")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    page.get_by_test_id("lang-switch").select_option("fr")
    page.get_by_test_id("task-select").select_option("music")
    collection = page.get_by_test_id("task-field-collection")
    expect(collection).to_have_value("oneills-jigs")  # the task's default source
    expect(collection.locator("option[value=essen]")).to_have_text(
        "Chansons populaires d'Essen (allemandes)"
    )
    collection.select_option("essen")
    frames: list[str] = []  # every frame of the next page's socket, from its first
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    page.get_by_test_id("task-start").click()
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    expect(page.get_by_test_id("task-select")).to_have_value("music")
    # The new session's state names its source: the picker's choice reached the server.
    for _ in range(120):
        if any('"collection":"essen"' in frame for frame in frames):
            break
        page.wait_for_timeout(500)
    assert any('"collection":"essen"' in frame for frame in frames), frames[:3]


def test_a_ball_trains_its_ghost_follows_and_a_throw_is_predicted(browser: Browser, server: Server):
    ARTIFACTS.mkdir(exist_ok=True)
    page, socket = open_task(browser, server, "ball")
    # Character panels give way to the ball: no text samples, no next-character box; Look
    # inside stays, over the frames (tests/test_browser_inspect_steps.py).
    expect(page.get_by_test_id("ball-view")).to_be_visible()
    expect(page.get_by_test_id("predict-input")).to_be_hidden()
    expect(page.get_by_test_id("sample-text")).to_be_hidden()
    expect(page.get_by_test_id("tab-inspect")).to_be_visible()

    # A live sample arrives (every 5 s of training) and plays: the ball moves.
    canvas = page.get_by_test_id("ball-canvas")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=ball-canvas]').dataset.step) > 2",
        timeout=60_000,
    )
    # The model's ghost (its colour at 35% over the box, outlined) and its imagined path (dotted,
    # in its colour) show beside the ball while it flies: the sample replays from the release.
    colours = [rgb("#2f6fde"), rgb("#df5a2c"), blend("#df5a2c", 0.35, "#f4f7fb")]
    page.wait_for_function(
        f"args => {{ const [ball, edge, fill] = ({COUNT_COLOURS})(args);"
        " return ball > 20 && edge + fill > 20; }",
        arg=["ball-canvas", colours],
        timeout=15_000,
    )
    page.screenshot(path=str(ARTIFACTS / "task-ball-sample.png"))

    # "Throw one for me": the server simulates the throw, the model predicts it, it plays.
    with answered(socket, "throw:result"):
        page.get_by_test_id("ball-throw-random").click()
    expect(page.get_by_test_id("ball-throw")).to_be_visible()

    # A throw with the mouse: drag from the middle of the box and let go.
    box = canvas.bounding_box()
    assert box
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
    with answered(socket, "throw:result"):
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 8):
            page.mouse.move(x + 12 * i, y - 6 * i)
            page.wait_for_timeout(16)
        page.mouse.up()
    page.wait_for_timeout(700)  # a few frames of the thrown ball, for the picture
    page.screenshot(path=str(ARTIFACTS / "task-ball-throw.png"))
    page.get_by_test_id("pause-button").click()


def test_words_show_the_likeliest_next_words_as_they_are_typed(browser: Browser, server: Server):
    page, _ = open_task(browser, server, "words")
    expect(page.get_by_test_id("words-view")).to_be_visible()
    expect(page.get_by_test_id("predict-input")).to_be_hidden()  # the character box gives way
    page.wait_for_function(STEP_ABOVE, arg=20)

    box = page.get_by_test_id("words-input")
    box.click()
    box.press_sequentially("This morning I took my cat for a", delay=30)
    top = page.get_by_test_id("words-top").locator("[data-word]")
    expect(top.first).to_be_visible()
    assert top.count() >= 5
    probabilities = [float(top.nth(i).get_attribute("data-p") or "nan") for i in range(5)]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1
    expect(page.get_by_test_id("words-token").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "task-words.png"))
    page.get_by_test_id("pause-button").click()


def test_prices_chart_truth_prediction_and_persistence(browser: Browser, server: Server):
    page, _ = open_task(browser, server, "prices")
    view = page.get_by_test_id("prices-view")
    expect(view).to_be_visible()
    expect(page.get_by_test_id("sample-text")).to_be_hidden()
    expect(page.get_by_test_id("tab-inspect")).to_be_visible()  # over the months
    # The first live sample is the forecast: errors beside persistence, and a verdict.
    verdict = page.get_by_test_id("prices-verdict")
    expect(verdict).to_have_attribute(
        "data-verdict", re.compile("beats|ties|loses"), timeout=60_000
    )
    errors = page.get_by_test_id("prices-errors").locator("[data-pct]")
    expect(errors).to_have_count(4)
    page.screenshot(path=str(ARTIFACTS / "task-prices.png"))
    truth, model, persistence = page.evaluate(
        COUNT_COLOURS, ["prices-chart", [rgb("#1f2430"), rgb("#2f6fde"), rgb("#df5a2c")]]
    )
    assert truth > 10 and model > 10 and persistence > 10, (truth, model, persistence)
    page.get_by_test_id("pause-button").click()
