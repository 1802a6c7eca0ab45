"""The page itself, in Debian's headless Chromium driven by Playwright, against a real server."""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

# True once the page's step counter passes `arg` (it streams from train:progress).
STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"


def number(page: Page, testid: str) -> float:
    text = page.get_by_test_id(testid).inner_text()
    match = re.search(r"[\d.,]+", text.replace("\u202f", "").replace("\xa0", ""))
    return float(match.group().replace(",", "")) if match else 0.0


def top_predictions(page: Page) -> list[str]:
    items = page.get_by_test_id("predict-item")
    return [items.nth(i).get_attribute("data-char") or "" for i in range(items.count())]


def test_train_type_and_share(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, server.url + "/")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))  # the owner token stays out of sight
    expect(page.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")
    expect(page.get_by_test_id("device-badge")).to_contain_text(re.compile("CPU", re.I))

    # Train: the step count and the curve grow.
    page.get_by_test_id("train-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "running")
    page.wait_for_function(STEP_ABOVE, arg=30)
    assert number(page, "train-loss") > 0
    expect(page.get_by_test_id("loss-chart").locator("canvas").first).to_be_visible()

    # Type: the predictions follow every keystroke.
    box = page.get_by_test_id("predict-input")
    box.click()
    box.press_sequentially("The sea", delay=40)
    expect(page.get_by_test_id("predict-item").first).to_be_visible()
    after_sea = top_predictions(page)
    box.press_sequentially(" was calm th", delay=40)
    # The answer shown is for the latest text: top characters differ from the "The sea" ones.
    page.wait_for_function(
        """before => {
            const items = [...document.querySelectorAll('[data-testid=predict-item]')];
            return items.length > 0 && items.map(i => i.dataset.char).join() !== before.join();
        }""",
        arg=after_sea,
    )
    # The bars come first; the continuations follow in a second answer at reading pace.
    greedy = "document.querySelector('[data-testid=predict-greedy]')?.textContent ?? ''"
    page.wait_for_function(f"() => ({greedy}).length > 10")

    # Share: a second browser opens the view link and sees the same session live.
    page.get_by_test_id("share-button").click()
    view_url = page.get_by_test_id("share-url").input_value()
    assert "/s/" in view_url and "?t=" in view_url
    viewer = open_page(browser, view_url)
    expect(viewer.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    expect(viewer.get_by_test_id("train-button")).to_be_disabled()
    start = number(viewer, "step-count")
    viewer.wait_for_function(STEP_ABOVE, arg=start + 10)
    vbox = viewer.get_by_test_id("predict-input")
    vbox.press_sequentially("Bonjour", delay=30)
    expect(viewer.get_by_test_id("predict-item").first).to_be_visible()

    page.screenshot(path=str(ARTIFACTS / "owner-laptop.png"))
    viewer.screenshot(path=str(ARTIFACTS / "viewer-laptop.png"))
    page.get_by_test_id("pause-button").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "paused")


def test_the_page_keeps_its_csp_hides_the_owner_token_and_deletes(
    browser: Browser, server: Server
) -> None:
    session = server.create(config={"model": "lstm"})
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.set_default_timeout(30_000)
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.goto(server.url + session["owner_url"])

    # The owner link works, then its token leaves the address bar (a projector shows it).
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))
    expect(page.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")
    assert session["owner_token"] not in page.url
    page.get_by_test_id("train-button").click()
    page.wait_for_function(STEP_ABOVE, arg=10)
    page.get_by_test_id("predict-input").fill("The sea")
    expect(page.get_by_test_id("predict-item").first).to_be_visible()
    page.get_by_test_id("tab-inspect").click()
    expect(page.get_by_test_id("heatmap-canvas")).to_have_attribute("data-kind", "lstm")
    page.reload()  # the bare address still opens the session as its owner
    expect(page.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")

    # Delete, after a confirmation: watchers are told, the owner lands on a new session.
    viewer = open_page(browser, server.url + session["view_url"])
    expect(viewer.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-button").click()
    page.wait_for_url(re.compile(r"/s/(?!" + re.escape(session["id"]) + r")[\w-]+$"))
    expect(viewer.get_by_test_id("fatal")).to_contain_text("deleted")
    assert violations == [], violations
    page.context.close()
    viewer.context.close()


def test_the_task_picker_lists_every_kind_of_sequence_and_starts_one(
    browser: Browser, server: Server
) -> None:
    from backend.tasks.registry import TASKS

    page = open_page(browser, server.url + "/?task=text")
    page.wait_for_url(re.compile(r"/s/[\w-]+$"))  # a session of that task, its owner's page
    picker = page.get_by_test_id("task-select")
    expect(picker).to_have_value("text")
    names = picker.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert names == list(TASKS)
    expect(page.get_by_test_id("task-summary")).to_contain_text("character")
    expect(page.get_by_test_id("task-start")).to_be_disabled()  # this session's own task
    # The loss axis is labelled in the task's unit.
    expect(page.get_by_test_id("loss-chart")).to_have_attribute("data-unit", "bits per character")
