"""How fast a character model learns: validation bits/char against CPU seconds of training.

    python -m benchmarks.learning                       # the text task's defaults on its text
    python -m benchmarks.learning --text english --seeds 0 1 --marks 15 30 60 \\
        --settings '{"num_layers": 2, "learning_rate": 0.003, "batch_size": 32, "seq_len": 64}'

One torch thread; the clock is the training thread's CPU time (`time.thread_time`), so the
figures do not depend on how busy the machine is, and evaluation is not counted. This is how
the text task's `default_config` was chosen (docs/performance.md, "Words within seconds").
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from backend import corpora
from backend.config import parse
from backend.core.training import Trainer
from backend.tasks.text.spec import SPEC
from backend.tasks.text.task import TextTask


def curve(
    text: str, settings: dict, seed: int, marks: list[float]
) -> list[tuple[float, int, float]]:
    """(CPU seconds, step, validation bits/char) at each mark."""
    trainer = Trainer(TextTask.from_text(text), parse({**settings, "seed": seed}))
    used, out = 0.0, []
    for mark in marks:
        while used < mark:
            started = time.thread_time()
            trainer.step()
            used += time.thread_time() - started
        out.append((mark, trainer.step_count, round(trainer.evaluate(), 3)))
    return out


def main() -> None:
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=SPEC.default_source["corpus"], help="a corpus id")
    parser.add_argument("--settings", default=json.dumps(SPEC.default_config), help="JSON")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--marks", type=float, nargs="+", default=[15, 30, 60])
    args = parser.parse_args()
    text, settings = corpora.load(args.text), json.loads(args.settings)
    print(f"{args.text} ({len(text):,} chars), settings {settings}")
    for seed in args.seeds:
        points = curve(text, settings, seed, sorted(args.marks))
        shown = "  ".join(f"{s:g} s: {bits:.3f} (step {step})" for s, step, bits in points)
        print(f"seed {seed}: {shown}", flush=True)


if __name__ == "__main__":
    main()
