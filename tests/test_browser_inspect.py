"""Look inside the model, in Debian's headless Chromium against a real server: gates and states,
one unit's colouring, saliency, gradients through time and gate surgery on a training LSTM."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import TINY, Server

require_chromium()

from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"
HEATMAP_STEP_ABOVE = (
    "n => Number(document.querySelector('[data-testid=heatmap-canvas]').dataset.step) > n"
)
TEXT = "The sea was calm"


def inked_pixels(canvas: Locator) -> int:
    """Pixels of the canvas that are neither transparent nor white: the heatmap was drawn."""
    return canvas.evaluate(
        """c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
            }
            return n;
        }"""
    )


def values(page: Page, testid: str) -> list[str]:
    return page.get_by_test_id(testid).evaluate_all("els => els.map(e => e.dataset.value)")


def next_chars(page: Page) -> list[tuple[str, str]]:
    return page.get_by_test_id("surgery-next-item").evaluate_all(
        "els => els.map(e => [e.dataset.char, e.dataset.p])"
    )


def open_view(page: Page, view: str) -> None:
    page.get_by_test_id(f"inspect-view-{view}").click()
    expect(page.get_by_test_id("inspect-panel")).to_have_attribute("data-view", view)


def test_look_inside_a_training_lstm(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    session = server.create(config={"model": "lstm"})
    page = open_page(browser, server.url + session["owner_url"])
    page.get_by_test_id("train-button").click()
    page.wait_for_function(STEP_ABOVE, arg=40)
    box = page.get_by_test_id("predict-input")
    box.fill(TEXT)
    page.get_by_test_id("tab-inspect").click()

    # Gates and states: the heatmap traces every character over every unit, and keeps
    # refreshing while the model trains.
    canvas = page.get_by_test_id("heatmap-canvas")
    expect(canvas).to_have_attribute("data-length", str(len(TEXT)))
    expect(canvas).to_have_attribute("data-kind", "lstm")
    expect(canvas).to_have_attribute("data-units", str(TINY["hidden_size"]))
    assert inked_pixels(canvas) > 1000
    traced_at = int(canvas.get_attribute("data-step") or 0)
    page.wait_for_function(HEATMAP_STEP_ABOVE, arg=traced_at, timeout=20_000)
    page.get_by_test_id("heatmap-q-f").click()
    expect(canvas).to_have_attribute("data-quantity", "f")
    # Clicking a column picks that unit.
    frame = page.locator(".heatmap-scroll").bounding_box()
    drawn = canvas.bounding_box()
    assert frame is not None and drawn is not None
    bottom = min(frame["y"] + frame["height"], drawn["y"] + drawn["height"])
    page.mouse.click(drawn["x"] + drawn["width"] - 4, bottom - 8)
    expect(canvas).to_have_attribute("data-unit", str(TINY["hidden_size"] - 1))
    # Each quantity comes with its equation, in the course's names (subscripts are <sub>).
    equation = page.get_by_test_id("heatmap-equation")
    expect(equation).to_have_text("ft = σ(Whf ht−1 + Wxf xt + bf)")
    page.get_by_test_id("heatmap-q-g").click()
    expect(page.get_by_test_id("heatmap-q-g")).to_contain_text("c̃t candidate")
    expect(equation).to_have_text("c̃t = tanh(Whc ht−1 + Wxc xt + bc)")
    page.get_by_test_id("heatmap-q-c").click()
    expect(equation).to_have_text("Ct = ft ⊙ Ct−1 + it ⊙ c̃t")
    # Sorted by their mean, the units are redrawn in another order, and a click still picks
    # the unit drawn under the pointer.
    page.get_by_test_id("heatmap-sort").click()
    expect(canvas).to_have_attribute("data-sorted", "true")
    first_column = float(canvas.get_attribute("data-label-width") or 0)
    page.mouse.click(drawn["x"] + first_column + 2, bottom - 8)
    picked = int(canvas.get_attribute("data-unit") or -1)
    assert 0 <= picked < TINY["hidden_size"]
    page.screenshot(path=str(ARTIFACTS / "inspect-gates.png"))
    page.get_by_test_id("heatmap-sort").click()
    page.get_by_test_id("heatmap-q-f").click()
    page.mouse.click(drawn["x"] + drawn["width"] - 4, bottom - 8)
    expect(canvas).to_have_attribute("data-unit", str(TINY["hidden_size"] - 1))

    # One unit: the typed text coloured by its activation, following the text as it changes.
    open_view(page, "units")
    expect(page.get_by_test_id("unit-text")).to_have_attribute(
        "data-unit", str(TINY["hidden_size"] - 1)
    )
    expect(page.get_by_test_id("unit-char")).to_have_count(len(TEXT))
    box.press_sequentially(" tonight", delay=20)
    expect(page.get_by_test_id("unit-char")).to_have_count(len(TEXT) + len(" tonight"))
    suggestion = page.get_by_test_id("unit-suggestion").nth(1)
    unit = suggestion.get_attribute("data-unit")
    suggestion.click()
    expect(page.get_by_test_id("unit-text")).to_have_attribute("data-unit", unit or "")
    page.screenshot(path=str(ARTIFACTS / "inspect-unit.png"))

    # From here on the weights stay put, so before/after comparisons are about the view only.
    page.get_by_test_id("tab-training").click()
    page.get_by_test_id("pause-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    page.get_by_test_id("tab-inspect").click()

    # Saliency: one span per character; clicking one moves the target there.
    text = TEXT + " tonight"
    open_view(page, "saliency")
    chars = page.get_by_test_id("saliency-char")
    expect(chars).to_have_count(len(text))
    target = page.get_by_test_id("saliency-target")
    expect(target).to_have_attribute("data-position", str(len(text)))
    whole = values(page, "saliency-char")
    chars.nth(9).click()
    expect(target).to_have_attribute("data-position", "10")
    expect(page.locator("[data-testid=saliency-char].is-unread")).to_have_count(len(text) - 10)
    assert values(page, "saliency-char") != whole
    page.screenshot(path=str(ARTIFACTS / "inspect-saliency.png"))

    # Unrolled in time: the same weights at every step, one column per character shown.
    open_view(page, "unrolled")
    steps = page.get_by_test_id("unrolled-step")
    expect(steps.first).to_be_visible()
    assert 4 <= steps.count() <= 12
    steps.first.hover()
    expect(page.get_by_test_id("unrolled-detail")).to_contain_text("‖h_t‖")
    page.screenshot(path=str(ARTIFACTS / "inspect-unrolled.png"))

    # Gradients through time: the profile over the BPTT window arrived while training; pin it.
    open_view(page, "gradients")
    chart = page.get_by_test_id("gradients-chart")
    expect(chart).to_have_attribute("data-seq-len", str(TINY["seq_len"]))
    expect(chart.locator("canvas")).to_be_visible()
    expect(page.get_by_test_id("gradients-summary")).to_contain_text("‖∂L/∂h_1‖")
    expect(page.get_by_test_id("gradnorm-chart").locator("canvas")).to_be_visible()
    page.get_by_test_id("gradients-pin").click()
    expect(page.get_by_test_id("gradients-pin-chip")).to_have_count(1)
    expect(page.get_by_test_id("gradients-pin-chip")).to_contain_text("lstm")
    page.screenshot(path=str(ARTIFACTS / "inspect-gradients.png"))

    # Gate surgery: holding every forget gate at 0 changes what comes next.
    open_view(page, "surgery")
    after = page.get_by_test_id("surgery-next")
    expect(after).to_have_attribute("data-surgery", "false")
    expect(page.get_by_test_id("surgery-next-item").first).to_be_visible()
    plain = next_chars(page)
    page.get_by_test_id("surgery-preset-f0").click()
    expect(page.get_by_test_id("surgery-chip")).to_have_count(1)
    expect(after).to_have_attribute("data-surgery", "true")
    assert next_chars(page) != plain
    page.screenshot(path=str(ARTIFACTS / "inspect-surgery.png"))
    page.get_by_test_id("surgery-remove").click()
    expect(after).to_have_attribute("data-surgery", "false")


def test_look_inside_on_a_projector_sized_screen(browser: Browser, server: Server) -> None:
    """The same views at 1920×1080, in French, for a screenshot to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    session = server.create(config={"model": "gru"})
    page = open_page(browser, server.url + session["owner_url"], 1920, 1080)
    page.get_by_test_id("lang-switch").select_option("fr")
    page.get_by_test_id("step-button").click()
    page.wait_for_function(STEP_ABOVE, arg=0)
    page.get_by_test_id("predict-input").fill("Il était une fois")
    page.get_by_test_id("tab-inspect").click()
    canvas = page.get_by_test_id("heatmap-canvas")
    expect(canvas).to_have_attribute("data-kind", "gru")
    expect(page.get_by_test_id("heatmap-q-z")).to_be_visible()
    expect(page.get_by_test_id("inspect-hint")).to_contain_text("colonnes")
    page.screenshot(path=str(ARTIFACTS / "inspect-gates-fr-1920.png"))
    open_view(page, "unrolled")
    expect(page.get_by_test_id("unrolled-step")).to_have_count(12)
    page.screenshot(path=str(ARTIFACTS / "inspect-unrolled-fr-1920.png"))
