"""The task seam: the registry lists tasks without torch, and nothing else names a task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backend.errors import InvalidInput
from backend.tasks.registry import TASKS, describe, spec_for

ROOT = Path(__file__).resolve().parent.parent


def test_the_registry_lists_the_text_task_first_with_its_unit_and_views():
    listed = describe()
    assert listed[0]["name"] == "text"
    assert listed[0]["unit"] == "bits/char"
    assert {"predict", "inspect"} <= set(listed[0]["views"])
    fields = {"name", "title", "summary", "unit", "views", "default_source"}
    assert all(set(t) >= fields for t in listed)
    assert list(TASKS) == [t["name"] for t in listed]


def test_the_registry_and_every_spec_import_without_torch():
    code = (
        "import sys; import backend.tasks.registry as r; r.describe(); "
        "assert 'torch' not in sys.modules, 'a task spec imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_unknown_task_is_refused_by_name():
    with pytest.raises(InvalidInput, match="unknown task"):
        spec_for("tea leaves")


def test_the_text_spec_loads_a_corpus_and_refuses_a_short_upload():
    spec = spec_for("text")
    source = spec.parse_source({"corpus": "english"})
    assert source["corpus"] == "english" and len(source["text"]) > 1000
    with pytest.raises(InvalidInput):
        spec.parse_source({"corpus": "upload", "text": "ab"})
    with pytest.raises(InvalidInput, match="unknown source"):
        spec.parse_source({"corpus": "english", "gravity": 9.8})
