"""A task lesson trained to the end of its budget, read as the server reads its live runs.

Each run trains from the lesson's own preset, as its worker does (`Trainer.step` until
`lesson.steps`, then one validation), and ends on what `Experiments.verdict` reads from a
live run: its last validation loss, its parameter count, the task's score and its answer to
the judge's query. The end-of-budget tests judge those with the verdict the page shows.
"""

from __future__ import annotations

from dataclasses import replace

from backend.core.training import Trainer
from backend.lessons import verdicts
from backend.lessons.catalog import Lesson, session_source
from backend.lessons.verdicts import RunEnd
from backend.tasks.registry import spec_for, task_for


def trained_to_budget(lesson: Lesson, seed: int | None = None) -> dict[str, RunEnd]:
    """Every run of `lesson`, trained for its budget with `seed` (else the lesson's own)."""
    judge = verdicts.task_judges()[lesson.id]
    seed = lesson.settings["seed"] if seed is None else seed
    ends = {}
    for run in lesson.runs:
        task_name, source = session_source(lesson, "en", run)
        spec = spec_for(task_name)
        task = task_for(task_name).build(spec.parse_source(source), seed)
        trainer = Trainer(task, replace(lesson.config(run.label), seed=seed))
        for _ in range(lesson.steps):
            trainer.step()
        ask = judge.ask
        ends[run.label] = RunEnd(
            val=trainer.evaluate(),
            params=trainer.model.num_params(),
            score=trainer.score(),
            answer=trainer.answer(ask, spec.parse_query(ask, {})) if ask else None,
        )
    return ends
