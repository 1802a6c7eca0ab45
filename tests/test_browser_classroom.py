"""A class on one session, in Debian's headless Chromium against a real server: the teacher's
follow-me, a student's fork landing on the class board, export and import, a renewed link."""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, open_page, require_chromium
from tests.conftest import Server

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.browser

STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"


def step(page: Page) -> int:
    return int(page.get_by_test_id("step-count").get_attribute("data-value") or 0)


def top_guesses(page: Page) -> list[str]:
    items = page.get_by_test_id("predict-item")
    return items.evaluate_all(
        "els => els.map(e => e.dataset.char + Number(e.dataset.p).toFixed(3))"
    )


def settled_step(a: Page, b: Page) -> int:
    """The step two pages agree on: a pause is followed by the last steps already under way."""
    for _ in range(50):
        seen = step(a)
        try:
            expect(b.get_by_test_id("step-count")).to_have_attribute(
                "data-value", str(seen), timeout=300
            )
        except AssertionError:
            continue
        if step(a) == seen:
            return seen
    raise AssertionError(f"the pages never agreed on a step: {step(a)} vs {step(b)}")


def trained(browser: Browser, server: Server, steps: int = 30) -> tuple[dict, Page]:
    """A session trained a little and paused, with its owner's page."""
    session = server.create()
    owner = open_page(browser, server.url + session["owner_url"])
    owner.get_by_test_id("train-button").click()
    owner.wait_for_function(STEP_ABOVE, arg=steps)
    owner.get_by_test_id("pause-button").click()
    expect(owner.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    return session, owner


def test_follow_me(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    session = server.create()
    owner = open_page(browser, server.url + session["owner_url"])
    student = open_page(browser, server.url + session["view_url"])
    witness = open_page(browser, server.url + session["view_url"])
    expect(student.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
    expect(owner.get_by_test_id("viewers")).to_have_attribute("data-value", "3")

    # The teacher turns follow-me on: students see the banner, then the teacher's typing.
    owner.get_by_test_id("class-follow").click()
    expect(student.get_by_test_id("follow-bar")).to_have_attribute("data-following", "true")
    owner.get_by_test_id("predict-input").press_sequentially("To be or not", delay=30)
    expect(student.get_by_test_id("predict-input")).to_have_value("To be or not")
    expect(student.get_by_test_id("predict-item").first).to_be_visible()
    owner.get_by_test_id("tab-inspect").click()
    owner.get_by_test_id("inspect-view-saliency").click()
    expect(student.get_by_test_id("tab-inspect")).to_have_attribute("aria-selected", "true")
    expect(student.get_by_test_id("inspect-panel")).to_have_attribute("data-view", "saliency")
    student.screenshot(path=str(ARTIFACTS / "classroom-following.png"))

    # A student breaks away and types their own text; the teacher's next words pass them by.
    student.get_by_test_id("follow-break").click()
    expect(student.get_by_test_id("follow-bar")).to_have_attribute("data-following", "false")
    student.get_by_test_id("predict-input").fill("Bonjour")
    owner.get_by_test_id("predict-input").press_sequentially(" to be", delay=30)
    expect(witness.get_by_test_id("predict-input")).to_have_value("To be or not to be")
    expect(student.get_by_test_id("predict-input")).to_have_value("Bonjour")
    student.screenshot(path=str(ARTIFACTS / "classroom-broke-away.png"))

    # "Follow the teacher" brings them back to where the teacher is.
    student.get_by_test_id("follow-resume").click()
    expect(student.get_by_test_id("predict-input")).to_have_value("To be or not to be")
    expect(student.get_by_test_id("follow-bar")).to_have_attribute("data-following", "true")
    owner.screenshot(path=str(ARTIFACTS / "classroom-teacher-follow.png"))


def test_fork_lands_on_the_class_board(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    session, owner = trained(browser, server)
    student = open_page(browser, server.url + session["view_url"])
    parent_step = settled_step(owner, student)

    # A student forks with the trained weights: their own session, owned, at the same step.
    student.get_by_test_id("fork-weights-button").click()
    student.wait_for_url(re.compile(r"/s/(?!" + re.escape(session["id"]) + r")[\w-]+$"))
    expect(student.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")
    expect(student.get_by_test_id("step-count")).to_have_attribute("data-value", str(parent_step))
    fork_id = re.search(r"/s/([\w-]+)", student.url).group(1)  # type: ignore[union-attr]
    student.get_by_test_id("setting-learning_rate").fill("0.01")
    student.get_by_test_id("setting-learning_rate").press("Enter")
    student.get_by_test_id("train-button").click()
    student.wait_for_function(STEP_ABOVE, arg=parent_step + 20)

    # The teacher's class board lists the fork, its changed setting highlighted.
    board_tab = owner.get_by_test_id("tab-board")
    expect(board_tab).to_be_visible(timeout=15_000)
    board_tab.click()
    row = owner.get_by_test_id("board-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-id", fork_id)
    expect(row.locator(".is-changed")).to_have_count(1, timeout=15_000)
    expect(row.locator(".is-changed")).to_contain_text("0.01")
    expect(owner.get_by_test_id("board-chart").locator("canvas")).to_be_visible()
    owner.wait_for_function(
        "n => Number(document.querySelector('[data-testid=board-row]').dataset.step) > n",
        arg=parent_step,
        timeout=15_000,
    )
    owner.screenshot(path=str(ARTIFACTS / "classroom-board.png"))
    student.get_by_test_id("pause-button").click()


def test_export_then_import(browser: Browser, server: Server, tmp_path) -> None:
    session, owner = trained(browser, server)
    other = open_page(browser, server.url + session["view_url"])
    exported_step = settled_step(owner, other)
    with owner.expect_download() as download:
        owner.get_by_test_id("export-button").click()
    archive = tmp_path / "model.zip"
    download.value.save_as(archive)
    assert archive.stat().st_size > 1000
    assert download.value.suggested_filename.endswith(f"step{exported_step}.zip")

    # Anyone may open an export: a new session they own, with the same weights (so the same
    # next-character guesses as the original), paused.
    other.get_by_test_id("import-input").set_input_files(str(archive))
    other.wait_for_url(re.compile(r"/s/(?!" + re.escape(session["id"]) + r")[\w-]+$"))
    expect(other.get_by_test_id("role-badge")).to_have_attribute("data-role", "owner")
    expect(other.get_by_test_id("status")).to_have_attribute("data-status", "paused")
    for page in (owner, other):
        page.get_by_test_id("predict-input").fill("The sea was")
        expect(page.get_by_test_id("predict-item").first).to_be_visible()
    assert top_guesses(other) == top_guesses(owner)

    # A file that is not an export is refused, in the server's words.
    bogus = tmp_path / "notes.zip"
    bogus.write_bytes(b"not a zip at all")
    other.get_by_test_id("import-input").set_input_files(str(bogus))
    expect(other.get_by_test_id("tools-error")).to_be_visible()
    expect(other.get_by_test_id("tools-error")).not_to_be_empty()


def test_renewed_link_and_class_mode(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    session = server.create()
    owner = open_page(browser, server.url + session["owner_url"])
    student = open_page(browser, server.url + session["view_url"])
    expect(student.get_by_test_id("settings")).to_be_visible()

    # Hidden panels disappear for students; locked actions are disabled with a note.
    owner.get_by_test_id("class-hide-settings").check()
    owner.get_by_test_id("class-lock-fork").check()
    owner.get_by_test_id("class-lock-predict").check()
    expect(student.get_by_test_id("settings")).to_be_hidden()
    expect(student.get_by_test_id("fork-button")).to_be_disabled()
    expect(student.get_by_test_id("tools-locked")).to_be_visible()
    expect(student.get_by_test_id("predict-input")).to_be_disabled()
    expect(student.get_by_test_id("predict-locked")).to_be_visible()
    expect(owner.get_by_test_id("settings")).to_be_visible()
    student.screenshot(path=str(ARTIFACTS / "classroom-locked.png"))

    # Renewing the link drops the student on the old one and shows the owner the new one.
    owner.get_by_test_id("share-button").click()
    old = owner.get_by_test_id("share-url").input_value()
    owner.get_by_test_id("share-renew").click()
    expect(owner.get_by_test_id("share-url")).not_to_have_value(old)
    expect(student.get_by_test_id("fatal")).to_be_visible()
    expect(student.get_by_test_id("fatal")).to_contain_text("replaced")
    fresh = owner.get_by_test_id("share-url").input_value()
    again = open_page(browser, fresh)
    expect(again.get_by_test_id("role-badge")).to_have_attribute("data-role", "viewer")
