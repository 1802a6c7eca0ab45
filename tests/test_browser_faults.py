"""The owner's page in Debian's headless Chromium sees a fault explained in its own language."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from benchmarks.procs import training_workers
from tests.browser import open_page, require_chromium
from tests.conftest import start_server, stop_server

require_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.browser

STEP_ABOVE = "n => Number(document.querySelector('[data-testid=step-count]').dataset.value) > n"


def test_a_worker_restart_is_explained_to_the_owner_in_french(
    browser: Browser, tmp_path: Path
) -> None:
    srv = start_server(tmp_path, WORKERS="1", CHECKPOINT_S="0.3")
    try:
        s = srv.create()
        page = open_page(browser, srv.url + s["owner_url"])
        page.get_by_test_id("lang-switch").select_option("fr")
        page.get_by_test_id("train-button").click()
        page.wait_for_function(STEP_ABOVE, arg=5)  # joined, and training
        (worker,) = training_workers(srv.proc.pid)
        os.kill(worker, signal.SIGKILL)
        toast = page.locator("[data-testid=toast][data-code=worker_restarted]")
        expect(toast).to_be_visible()
        expect(toast).to_contain_text("Entraînement relancé")
        expect(toast).to_contain_text("dernière sauvegarde")
        page.context.close()
    finally:
        stop_server(srv)
