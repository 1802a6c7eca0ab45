"""How fast a character model learns: validation bits/char against CPU seconds of training.

    python -m benchmarks.learning                       # the text task's defaults on its text
    python -m benchmarks.learning --text english --seeds 0 1 --marks 15 30 60 \\
        --settings '{"num_layers": 2, "learning_rate": 0.003, "batch_size": 32, "seq_len": 64}'
    python -m benchmarks.learning --over-default --settings '{}' '{"carry_state": true}'
    python -m benchmarks.learning --steps --marks 600 1200 --seeds 0 1   # at equal steps

One torch thread; the clock is the training thread's CPU time (`time.thread_time`), so the
figures depend much less on how busy the machine is than wall time would (on a crowded
machine a step still costs up to a fifth more: `--steps` compares at equal steps), and
evaluation is not counted. Each
mark shows the validation the page would show (`Trainer.evaluate`: windows of seq_len, or
of 512 steps with a carried state) and, after the slash, the same model measured on
windows of 512 steps from the zero state, which is the same yardstick for every setting.
This is how the text task's `default_config` was chosen (docs/performance.md, "Words
within seconds").
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import torch

from backend import corpora
from backend.config import parse
from backend.core.training import CARRY_VAL_T, Trainer
from backend.tasks.text.spec import SPEC
from backend.tasks.text.task import TextTask


@torch.no_grad()
def long_context_bits(trainer: Trainer) -> float:
    """Validation bits/char on windows of CARRY_VAL_T steps, each from the zero state."""
    trainer.model.eval()
    x, y = trainer.dataset.val_windows(CARRY_VAL_T)
    out, _ = trainer.model(trainer.task.encode(x))
    return trainer.task.metric(trainer.task.loss(out, y).item())


def curve(
    task: TextTask, settings: dict, seed: int, marks: list[float], in_steps: bool = False
) -> Iterator[tuple[float, int, float, float]]:
    """(CPU seconds, step, shown validation bits/char, long-window bits/char) at each mark,
    as each is reached (a long run on a busy machine shows its first marks early).

    Marks are CPU seconds, or steps with `in_steps`: on a crowded machine (load well above
    the cores) a step costs up to a fifth more CPU time, so settings whose steps cost the
    same are best compared at equal steps.
    """
    trainer = Trainer(task, parse({**settings, "seed": seed}))
    used = 0.0
    for mark in marks:
        while (trainer.step_count if in_steps else used) < mark:
            started = time.thread_time()
            trainer.step()
            used += time.thread_time() - started
        shown, long = trainer.evaluate(), long_context_bits(trainer)
        yield used, trainer.step_count, round(shown, 3), round(long, 3)


def main() -> None:
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=SPEC.default_source["corpus"], help="a corpus id")
    parser.add_argument(
        "--settings", nargs="+", default=[json.dumps(SPEC.default_config)], help="JSON, each"
    )
    parser.add_argument(
        "--over-default", action="store_true", help="apply each over the task's default_config"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--marks", type=float, nargs="+", default=[15, 30, 60])
    parser.add_argument("--steps", action="store_true", help="marks are steps, not CPU seconds")
    args = parser.parse_args()
    text = corpora.load(args.text)
    task = TextTask.from_text(text)
    print(f"{args.text} ({len(text):,} chars)", flush=True)
    for raw in args.settings:
        settings = json.loads(raw)
        if args.over_default:
            settings = {**SPEC.default_config, **settings}
        for seed in args.seeds:
            print(f"{raw} seed {seed}:", end="", flush=True)
            for s, n, a, b in curve(task, settings, seed, sorted(args.marks), args.steps):
                print(f"  {s:.1f} s: {a:.3f}/{b:.3f} (step {n})", end="", flush=True)
            print(flush=True)


if __name__ == "__main__":
    main()
