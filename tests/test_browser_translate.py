"""The translator in the real app, in headless Chromium against a real server: a new translator
with attention starts from the page, a typed number is translated character by character, and
the encoder's states, the decoder's starting vector and the attention matrix are drawn."""

from __future__ import annotations

import re

import pytest

from tests.browser import open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

SHOTS = "/work/tmp/shots/translate"

# Pixels of a canvas that are painted (not transparent) and not white: cells and labels.
COLOURED = """(testid) => {
    const canvas = document.querySelector(`canvas[data-testid=${testid}]`);
    if (!canvas || canvas.width === 0) return 0;
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && d[i] + d[i + 1] + d[i + 2] < 735) n++;
    }
    return n;
}"""


def test_a_typed_number_is_translated_and_the_attention_matrix_draws(
    browser: Browser, server: Server, tmp_path
):
    page = open_page(browser, "about:blank")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/?task=translate")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    first = page.url
    view = page.get_by_test_id("translate-view")
    expect(view).to_be_visible()
    expect(page.get_by_test_id("predict-input")).to_be_hidden()  # the character box gives way
    # This session has no attention: the page says so, and offers a translator with it.
    expect(page.get_by_test_id("translate-attention")).to_be_hidden()
    page.get_by_test_id("translate-new-range").select_option("99")
    page.get_by_test_id("translate-new-attention").select_option("general")
    page.get_by_test_id("translate-new").click()
    page.wait_for_url(lambda url: url != first and re.search(r"/s/[\w-]+$", url) is not None)
    expect(page.get_by_test_id("translate-split")).to_contain_text("0 to 99", timeout=30_000)
    page.get_by_test_id("train-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=step-count]').dataset.value) > 20"
    )

    box = page.get_by_test_id("translate-input")
    box.click()
    box.press_sequentially("forty-two", delay=20)
    expect(page.get_by_test_id("translate-reads")).to_contain_text("forty-two")
    output = page.get_by_test_id("translate-output")
    expect(output).to_have_attribute("data-done", "true", timeout=30_000)
    expect(page.get_by_test_id("translate-verdict")).to_contain_text("quarante-deux")
    expect(page.get_by_test_id("translate-candidates").locator("li").first).to_be_visible()
    for canvas in ("translate-encoder", "translate-start", "translate-attention"):
        expect(page.get_by_test_id(canvas)).to_be_visible()
        assert page.evaluate(COLOURED, canvas) > 200, canvas
    # The attention matrix: one column per English character, one row per French one written.
    attention = page.get_by_test_id("translate-attention")
    assert attention.get_attribute("data-cols") == str(len("forty-two"))
    written = len(page.get_by_test_id("translate-output").inner_text())
    assert int(attention.get_attribute("data-rows") or 0) in (written, written + 1)  # + <eos>
    # An example chip types a number written in digits; the page reads it in words.
    page.get_by_test_id("translate-examples").get_by_text("321", exact=True).click()
    expect(page.get_by_test_id("translate-input")).to_have_value("321")
    # Range 99: 321 is beyond it, and the page says so.
    expect(page.get_by_test_id("translate-reads")).to_contain_text("three hundred and twenty-one")
    expect(page.get_by_test_id("translate-verdict")).to_contain_text("beyond")
    expect(page.get_by_test_id("translate-accuracy")).to_have_attribute(
        "data-overall", re.compile(r"^[0-9.]+$"), timeout=30_000
    )
    page.screenshot(path=f"{SHOTS}/translate.png", full_page=True)
    page.get_by_test_id("translate-inside").screenshot(path=f"{SHOTS}/translate-inside.png")
    assert not errors, errors
    page.get_by_test_id("pause-button").click()
