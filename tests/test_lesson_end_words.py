"""The words task's lesson, trained to the end of its budget from its preset on the lesson's own
seed (the one a class's live run uses), ends with its claim held by the judge the page shows:
four models of 600 steps (bag, 2- and 5-word windows, RNN)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from backend.lessons import verdicts
from backend.tasks.words.lesson import RUNNING_EXAMPLE
from tests.lesson_ends import trained_to_budget


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.timeout(1200)  # a busy 2-core machine is several times slower than a quiet one
def test_the_lesson_holds_its_claim_at_the_end_of_its_budget():
    verdict = verdicts.judge(RUNNING_EXAMPLE.id, trained_to_budget(RUNNING_EXAMPLE))
    assert verdict.held, str(verdict)
