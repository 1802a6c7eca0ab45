"""The words and prices views in Debian's headless Chromium, fed by the real tasks and tiny
trained models: typing shows the next words as a top-k list with the unknown words marked, and
the price chart draws truth, prediction and persistence with the errors under it.

The app mounts these views once the task seam is wired in; until then a page with only these
two views (frontend/src/components/tasks/wordsPricesHarness.ts, built here with Vite) is used.
"""

from __future__ import annotations

import subprocess

import pytest
import torch
from torch import nn

from backend.tasks.prices.task import TASK as PRICES
from backend.tasks.words.spec import SPEC as WORDS_SPEC
from backend.tasks.words.task import TASK as WORDS
from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import ROOT

require_chromium()

from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser
torch.set_num_threads(1)

BUILD = """
const { build } = await import("vite");
await build({
  configFile: false, root: process.cwd(), logLevel: "warn",
  build: { outDir: process.argv[1], emptyOutDir: true, target: "es2022", minify: false,
    lib: { entry: "frontend/src/components/tasks/wordsPricesHarness.ts", formats: ["iife"],
           name: "wordsPrices", fileName: () => "harness.js", cssFileName: "harness" } },
});
"""
COLORS = {
    "truth": (0x1F, 0x24, 0x30),
    "prediction": (0x2F, 0x6F, 0xDE),
    "persistence": (0xDF, 0x5A, 0x2C),
}


class TinyLSTM(nn.Module):
    """An LSTM with a linear head over inputs of `size` (ids are one-hot first)."""

    def __init__(self, size: int, out: int, hidden: int = 16) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.size = size
        self.rnn = nn.LSTM(size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, out)

    def forward(self, x, state=None):
        if not x.is_floating_point():
            x = nn.functional.one_hot(x, self.size).float()
        h, state = self.rnn(x, state)
        return self.head(h), state


def trained(task, steps: int, lr: float) -> TinyLSTM:
    model = TinyLSTM(task.input_size, task.output_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, y = task.dataset.batch(16, 8, g)
        loss = task.loss(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> str:
    """The two views on one page, bundled by Vite with the app's styles."""
    out = tmp_path_factory.mktemp("harness")
    subprocess.run(["node", "--input-type=module", "-e", BUILD, str(out)], cwd=ROOT, check=True)
    return str(out)


def open_harness(browser: Browser, harness: str) -> Page:
    page = open_page(browser, "about:blank")
    page.set_content("<!doctype html><html lang='en'><body></body></html>")
    page.add_style_tag(path=f"{harness}/harness.css")
    page.add_script_tag(path=f"{harness}/harness.js")
    return page


def pixels_like(canvas: Locator, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the canvas are within a little of the colour `rgb`."""
    return canvas.evaluate(
        """(c, [r, g, b]) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                const near = Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b);
                if (d[i + 3] > 200 && near < 40) n++;
            }
            return n;
        }""",
        list(rgb),
    )


def test_typing_shows_the_next_words_as_a_top_k_list(browser: Browser, harness: str) -> None:
    text = "the cat sat on the mat . the dog ran to the park . " * 40
    source = WORDS_SPEC.parse_source({"corpus": "upload", "text": text, "max_vocab": 50})
    task = WORDS.build(source, 0)
    model = trained(task, steps=60, lr=3e-2)
    page = open_harness(browser, harness)
    asked: list[str] = []

    def answer_words(typed: str) -> dict:
        asked.append(typed)
        return task.answer(model, "predict", WORDS_SPEC.parse_query("predict", {"text": typed}))

    page.expose_function("answerWords", answer_words)
    page.get_by_test_id("words-input").fill("The zebra sat on the")
    items = page.get_by_test_id("words-item")
    expect(items.first).to_have_attribute("data-word", "mat")
    expect(items).to_have_count(8)
    p = items.evaluate_all("els => els.map(e => Number(e.dataset.p))")
    assert p == sorted(p, reverse=True) and p[0] > 0.8 and sum(p) <= 1.0001
    expect(items.first).to_contain_text("mat")
    expect(page.get_by_test_id("words-unknown")).to_contain_text("zebra")
    known = page.get_by_test_id("words-token").evaluate_all("els => els.map(e => e.dataset.known)")
    assert known == ["true", "false", "true", "true", "true"]
    expect(page.get_by_test_id("words-continuation")).to_contain_text("mat.")
    assert asked[-1] == "The zebra sat on the"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "words-view.png"), full_page=True)


@pytest.mark.parametrize("series", ["seasonal", "IBM"])
def test_the_price_chart_draws_truth_prediction_and_persistence(
    browser: Browser, harness: str, series: str
) -> None:
    task = PRICES.build({"series": series}, 0)
    model = trained(task, steps=150, lr=1e-2)
    forecast = task.sample(model, length=24, temperature=1.0, generator=torch.Generator())
    page = open_harness(browser, harness)
    page.evaluate("f => window.wordsPrices.showForecast(f)", forecast)
    canvas = page.get_by_test_id("prices-chart").locator("canvas")
    expect(canvas).to_have_count(1)
    for line, rgb in COLORS.items():
        assert pixels_like(canvas, rgb) > 50, f"the {line} line is not drawn"
    legend = page.get_by_test_id("prices-chart").locator(".u-legend .u-label")
    expect(legend).to_contain_text(["Truth", "Model", "Persistence", "Roll-out"])
    shown = page.get_by_test_id("prices-errors").locator("dd")
    expect(shown).to_have_count(4)
    pct = shown.evaluate_all("els => els.map(e => Number(e.dataset.pct))")
    errors = forecast["errors"]
    assert pct == pytest.approx(
        [errors[k] for k in ("model", "persistence", "same_change", "mean_change")]
    )
    verdict = page.get_by_test_id("prices-verdict")
    expect(verdict).to_have_attribute("data-verdict", forecast["verdict"])
    if series == "seasonal":
        assert forecast["verdict"] == "beats"
        expect(verdict).to_contain_text("beats persistence")
    expect(page.get_by_test_id("prices-rollout")).to_contain_text("24 months")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"prices-view-{series}.png"), full_page=True)
