"""Many sessions on one GPU: total characters/s of 32 sessions training at once.

Only when this process sees CUDA (the server's workers would then train on it); on a CPU-only
machine the figures are null and `gpu_note` says why.
"""

from __future__ import annotations

import torch

from benchmarks.common import BENCH_MODEL, Mode, log, rounded, spread
from benchmarks.server import (
    close_all,
    open_session,
    pause_all,
    running_server,
    start_all,
    steady_window,
)


def measure_gpu(mode: Mode) -> dict:
    """Start `mode.gpu_sessions` sessions on a CUDA server; sum their rates over a window."""
    if not torch.cuda.is_available():
        return {
            "gpu_sessions": None,
            "gpu_total_chars_per_s": None,
            "gpu_note": "skipped: torch.cuda.is_available() is False on this machine",
        }
    with running_server(DEVICE="cuda") as server:
        sessions = [open_session(server, BENCH_MODEL) for _ in range(mode.gpu_sessions)]
        try:
            start_all(sessions)
            window = steady_window(server, sessions, 2 * mode.warmup_s, mode.window_s)
            pause_all(sessions)
        finally:
            close_all(sessions)
    total = sum(window.rates)
    log(f"GPU: {len(sessions)} sessions, {total:,.0f} chars/s in all")
    return {
        "gpu_sessions": len(sessions),
        "gpu_total_chars_per_s": rounded(total),
        "gpu_slowest_over_fastest": rounded(spread(window.rates), 3),
        "gpu_device": torch.cuda.get_device_name(0),
    }
