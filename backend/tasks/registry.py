"""Every task by name: its torch-free spec for the web process, its Task class for workers.

A task is a subpackage `backend/tasks/<name>/` with two modules:

  spec.py   `SPEC = TaskSpec(...)` (or a TaskSpec subclass); must not import torch
  task.py   `TASK = <its Task subclass>`; imported only inside workers, by `task_for`
  lesson.py (optional) `LESSONS = (...)`: the task's lessons, in the lessons catalog's format

Subpackages are found on import, so adding a task adds no line here.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

from backend.errors import InvalidInput
from backend.tasks.base import TaskSpec

if TYPE_CHECKING:
    from backend.tasks.base import Task

DEFAULT_TASK = "text"
# The picker's order for the course's tasks; any other task follows, by name.
ORDER = ("text", "words", "ball", "prices")


def _discover() -> dict[str, TaskSpec]:
    """The SPEC of every subpackage of backend.tasks that has a spec module."""
    import backend.tasks as package

    specs: dict[str, TaskSpec] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"backend.tasks.{info.name}.spec")
        except ModuleNotFoundError as exc:
            if exc.name == f"backend.tasks.{info.name}.spec":
                continue  # a helper package without a spec is not a task
            raise
        spec = module.SPEC
        if spec.name != info.name:
            raise RuntimeError(f"backend/tasks/{info.name}/spec.py names its task {spec.name!r}")
        specs[spec.name] = spec
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(specs.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


TASKS: dict[str, TaskSpec] = _discover()


def spec_for(name: object) -> TaskSpec:
    """The spec of the task called `name`; InvalidInput if there is none."""
    if not isinstance(name, str) or name not in TASKS:
        raise InvalidInput(f"unknown task {name!r}; choose one of {', '.join(TASKS)}", field="task")
    return TASKS[name]


def task_for(name: str) -> type[Task]:
    """The Task class of the task called `name` (imports torch: call it in workers only)."""
    spec = spec_for(name)
    return importlib.import_module(f"backend.tasks.{spec.name}.task").TASK


def describe() -> list[dict]:
    """Every task's spec as JSON, in the picker's order (`GET /api/tasks`)."""
    return [spec.to_dict() for spec in TASKS.values()]


def lesson_modules() -> list[ModuleType]:
    """Each task's `lesson.py`, in the picker's order (torch-free; the catalog reads them)."""
    modules = []
    for name in TASKS:
        try:
            modules.append(importlib.import_module(f"backend.tasks.{name}.lesson"))
        except ModuleNotFoundError as exc:
            if exc.name != f"backend.tasks.{name}.lesson":
                raise
    return modules
