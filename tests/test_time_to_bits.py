"""The benchmark's `time_to_2bpc_s` and `bits_at_30s` read a validation as the page shows it."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest

from benchmarks import classroom


class FakeOwner:
    """A session owner whose validation points arrive at given offsets after Train."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        self.points = points
        self.started = math.inf
        self.sent: list[str] = []

    def emit(self, event: str) -> None:
        self.sent.append(event)
        if event == "train:start":
            self.started = time.perf_counter()

    def wait(self, event: str, check) -> dict:
        return {"status": "running" if self.sent[-1] == "train:start" else "paused"}

    def validation(self) -> list[tuple[float, float]]:
        now = time.perf_counter()
        return [(self.started + dt, b) for dt, b in self.points if self.started + dt <= now]


@pytest.fixture
def short_goal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classroom, "SHOWN_AT_S", 0.5)


def sessions(points: list[tuple[float, float]]) -> list[SimpleNamespace]:
    return [SimpleNamespace(owner=FakeOwner(points)), SimpleNamespace(owner=FakeOwner([]))]


def test_reports_the_first_point_at_the_target_and_what_was_shown_by_the_goal(
    short_goal: None,
) -> None:
    watched = sessions([(0.1, 2.6), (0.3, 2.2), (0.8, 1.95), (0.9, 1.9)])
    took, shown = classroom.time_to_bits(watched, limit_s=5.0)
    assert 0.75 <= took < 2.0  # the point at 0.8 s, not the later, lower one
    assert shown == 2.2  # the last point within 0.5 s of Train
    assert watched[1].owner.sent == ["train:start", "train:pause"]  # the others trained too


def test_a_target_never_reached_is_nan_but_the_shown_figure_is_kept(short_goal: None) -> None:
    took, shown = classroom.time_to_bits(sessions([(0.1, 2.4)]), limit_s=1.0)
    assert math.isnan(took) and shown == 2.4
