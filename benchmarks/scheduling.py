"""Sharing the machine: fairness between 8 training sessions and what they achieve together.

On a server with its default workers (one per core), 8 sessions of the class's default
model train at once, each with its owner's client joined. Over a steady window:

- `fairness_min_over_max`: the slowest session's characters/s over the fastest's;
- `aggregate_ratio_vs_single`: the 8 sessions' total over one session training alone on the
  same server. Alone, a session has one worker and so one core, so on a machine with C cores
  the ideal is min(workers, C), not 1: `aggregate_ratio_vs_cores` divides by that.

"Alone" and "all 8" rounds alternate and the medians are reported. Afterwards one of the 8
pauses and the window is measured again: 7 sessions cannot be split evenly over 2 workers
(4 + 3; a session moves only when two workers differ by 2), which `fairness_7_running` shows.
Then the paused one resumes while the 7 keep training and a window opens at once:
`fairness_after_resume` shows whether a session coming back is levelled with those that kept
training, or takes its worker to itself until its compute time has caught up with theirs.
Last, two sessions that were placed on the same worker start: `pair_on_one_worker_vs_single`
is their total over one alone, 2 when one of them moves to the idle worker, 1 if they share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from benchmarks.common import UI_DEFAULT_MODEL, Mode, log, median, rounded, spread
from benchmarks.server import (
    Server,
    TrainingSession,
    Window,
    close_all,
    open_session,
    pause_all,
    start_all,
    steady_window,
    warm_up,
)

SESSIONS = 8


def cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass
class SchedulingResult:
    workers: int
    single: list[float] = field(default_factory=list)  # chars/s of the lone session, per round
    totals: list[float] = field(default_factory=list)  # chars/s of all 8 together, per round
    fairness: list[float] = field(default_factory=list)  # slowest / fastest, per round
    rates: list[list[float]] = field(default_factory=list)  # each session's chars/s, per round
    cpu_single: list[float] = field(default_factory=list)  # cores the workers got, per round
    cpu_eight: list[float] = field(default_factory=list)
    worker_spread: list[float] = field(default_factory=list)  # least / most CPU of a worker
    fairness_7: float = float("nan")
    rates_7: list[float] = field(default_factory=list)
    rates_resumed: list[float] = field(default_factory=list)  # the resumed session first
    rates_pair: list[float] = field(default_factory=list)  # two placed on one worker

    def per_cpu_ratio(self) -> float:
        """Characters per worker CPU second, 8 together over one alone: the cost of sharing."""
        together = median([t / c for t, c in zip(self.totals, self.cpu_eight, strict=True)])
        alone = median([s / c for s, c in zip(self.single, self.cpu_single, strict=True)])
        return together / alone

    def to_dict(self) -> dict:
        single, total = median(self.single), median(self.totals)
        ideal = min(self.workers, cores())
        return {
            "fairness_min_over_max": rounded(median(self.fairness), 3),
            "aggregate_ratio_vs_single": rounded(total / single, 3),
            "aggregate_ratio_vs_cores": rounded(total / (single * ideal), 3),
            "aggregate_ratio_per_cpu_second": rounded(self.per_cpu_ratio(), 3),
            "single_session_chars_per_s": rounded(single),
            "eight_sessions_total_chars_per_s": rounded(total),
            "eight_sessions_rates_last_round": [rounded(r) for r in self.rates[-1]],
            "fairness_rounds": [rounded(f, 3) for f in self.fairness],
            "fairness_7_running": rounded(self.fairness_7, 3),
            "seven_sessions_rates": [rounded(r) for r in self.rates_7],
            "fairness_after_resume": rounded(spread(self.rates_resumed), 3),
            "after_resume_rates": [rounded(r) for r in self.rates_resumed],
            "pair_on_one_worker_vs_single": rounded(sum(self.rates_pair) / single, 3)
            if self.rates_pair
            else None,
            "pair_on_one_worker_rates": [rounded(r) for r in self.rates_pair],
            "workers_cpu_share_single": rounded(median(self.cpu_single), 3),
            "workers_cpu_share_eight": rounded(median(self.cpu_eight), 3),
            "workers_cpu_min_over_max_eight": rounded(median(self.worker_spread), 3),
            "scheduling_workers": self.workers,
            "scheduling_rounds": len(self.totals),
        }


def run_together(server: Server, sessions: list[TrainingSession], mode: Mode) -> Window:
    """Start every session, measure each one's rate over the same window, pause them all."""
    start_all(sessions)
    window = steady_window(server, sessions, mode.resume_s, mode.window_s)
    pause_all(sessions)
    return window


def seven_then_eight(
    server: Server, group: list[TrainingSession], mode: Mode
) -> tuple[list[float], list[float]]:
    """Rates of 7 training without the first; then of all 8 right after it comes back.

    The 8th resumes while the 7 keep training, as a student pressing Train again would; the
    window opens at once, so it shows how the worker treats a returning session.
    """
    start_all(group[1:])
    seven = steady_window(server, group[1:], mode.resume_s, mode.window_s).rates
    start_all(group[:1])
    eight = steady_window(server, group, 0.0, mode.window_s).rates
    pause_all(group)
    return seven, eight


def measure_scheduling(server: Server, mode: Mode) -> SchedulingResult:
    """Alternate rounds of one session alone and 8 together; then 7 of the 8, and the 8th back."""
    result = SchedulingResult(server.workers)
    alone = open_session(server, UI_DEFAULT_MODEL)
    group = [open_session(server, UI_DEFAULT_MODEL) for _ in range(SESSIONS)]
    try:
        warm_up([alone], mode.warmup_s)
        warm_up(group, mode.warmup_s)  # separately: the server may cap sessions training at once
        for round_ in range(1, mode.rounds + 1):
            lone = run_together(server, [alone], mode)
            together = run_together(server, group, mode)
            single, rates = lone.rates[0], together.rates
            result.single.append(single)
            result.cpu_single.append(lone.cpu_share)
            result.cpu_eight.append(together.cpu_share)
            result.worker_spread.append(spread(together.worker_shares))
            result.totals.append(sum(rates))
            result.fairness.append(spread(rates))
            result.rates.append(rates)
            log(
                f"scheduling round {round_}: alone {single:,.0f} chars/s "
                f"({lone.cpu_share:.2f} cores); 8 together {sum(rates):,.0f} chars/s in all "
                f"({' + '.join(f'{c:.2f}' for c in together.worker_shares)} cores), "
                f"slowest/fastest {result.fairness[-1]:.2f}; "
                f"web process {together.web_cpu_share:.2f} cores; "
                f"each: {', '.join(f'{r:,.0f}' for r in rates)}"
            )
        result.rates_7, result.rates_resumed = seven_then_eight(server, group, mode)
        result.fairness_7 = spread(result.rates_7)
        log(
            f"7 sessions running: slowest/fastest {result.fairness_7:.2f} "
            f"({', '.join(f'{r:,.0f}' for r in result.rates_7)} chars/s)"
        )
        log(
            f"the 8th resumed while they train: {result.rates_resumed[0]:,.0f} chars/s, "
            f"the others {', '.join(f'{r:,.0f}' for r in result.rates_resumed[1:])} chars/s"
        )
        if server.workers >= 2:
            # Placement alternates (the lone session first), so sessions 1 and 3 share a worker.
            pair = run_together(server, [group[1], group[3]], mode)
            result.rates_pair = pair.rates
            log(f"two placed on one worker: {', '.join(f'{r:,.0f}' for r in pair.rates)} chars/s")
    finally:
        close_all([alone, *group])
    return result
