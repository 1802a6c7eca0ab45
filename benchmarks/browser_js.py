"""The in-browser alternative: a plain-JavaScript character LSTM (benchmarks/js_lstm.mjs).

`vs_browser_js` compares the playground's training speed with what a page could do on its
own, one thread, without a server: the same LSTM on the same text, written in plain JS on
Float32Array. Its gradients are first checked against finite differences (`--check`), so
the comparison is with a trainer that is correct, not merely fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from benchmarks.common import BENCH_MODEL, CLIP_NORM, CORPUS_FILE, LEARNING_RATE, ROOT

SCRIPT = ROOT / "benchmarks" / "js_lstm.mjs"


def node() -> str | None:
    return shutil.which("node")


def _run(*args: str, timeout: float) -> dict:
    """Run js_lstm.mjs with `args`; its last stdout line is one JSON object."""
    done = subprocess.run(
        [node() or "node", str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"js_lstm.mjs failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gradient_check() -> dict:
    """Backward's gradients against central differences on a tiny Float64 model."""
    return _run("--check", timeout=60)


def js_rate(seconds: float, batch: int) -> dict:
    """Train the JS LSTM for about `seconds` (after one warm-up step); its chars/s and more."""
    args = {
        "text": str(CORPUS_FILE),
        "hidden": BENCH_MODEL["hidden_size"],
        "batch": batch,
        "seq": BENCH_MODEL["seq_len"],
        "seconds": seconds,
        "lr": LEARNING_RATE,
        "clip": CLIP_NORM,
    }
    flat = [part for key, value in args.items() for part in (f"--{key}", str(value))]
    return _run(*flat, timeout=seconds * 10 + 120)
