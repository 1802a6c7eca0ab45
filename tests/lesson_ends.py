"""A lesson trained to the end of its budget, read as the server reads its live runs.

Each run trains from the lesson's own preset, as its worker does (`Trainer.step` until
`lesson.steps`, then one validation), and is read as `Experiments.verdict` reads a live run
(`ends.Reading`): its last validation loss, the loss of its first step, its parameter count,
the task's score, and its model answering the queries the verdict asks. The end-of-budget
tests judge those readings with `ends.verdict`, the function the page's verdict comes from.
"""

from __future__ import annotations

from dataclasses import replace

from backend.core.training import Trainer
from backend.lessons import ends
from backend.lessons.catalog import Lesson, session_source
from backend.lessons.verdicts import RunEnd, Verdict
from backend.tasks.registry import spec_for, task_for


def reading(label: str, trainer: Trainer, start: float) -> ends.Reading:
    """A trained run read as a live run is at the end of its budget."""
    return ends.Reading(
        label=label,
        val=trainer.evaluate(),
        start=start,
        params=trainer.model.num_params(),
        score=trainer.score(),
        ask=trainer.answer,
    )


def read_at_budget(lesson: Lesson, seed: int | None = None) -> tuple[list[ends.Reading], str]:
    """Every run of `lesson` trained for its budget with `seed` (else the lesson's own), read
    at its end, and the text the runs trained on."""
    seed = lesson.settings["seed"] if seed is None else seed
    readings, text = [], ""
    for run in lesson.runs:
        task_name, source = session_source(lesson, "en", run)
        spec = spec_for(task_name)
        parsed = spec.parse_source(source)
        text = text or parsed.get("text", "")
        task = task_for(task_name).build(parsed, seed)
        trainer = Trainer(task, replace(lesson.config(run.label), seed=seed))
        start = trainer.step().loss  # the loss before the first update, as a live run records
        while trainer.step_count < lesson.steps:
            trainer.step()
        readings.append(reading(run.label, trainer, start))
    return readings, text


def judged_at_budget(lesson: Lesson, seed: int | None = None) -> Verdict:
    """`lesson`'s verdict at the end of its budget, judged as the page's is."""
    return ends.verdict(lesson, *read_at_budget(lesson, seed))


def trained_to_budget(lesson: Lesson, seed: int | None = None) -> dict[str, RunEnd]:
    """Every run of a task's `lesson`, trained for its budget, as its judge reads it."""
    return ends.run_ends(lesson, read_at_budget(lesson, seed)[0])
