"""French complete: every string of the interface, setting, corpus and lesson exists in both
languages. TypeScript already refuses a French catalogue missing an English key; this also
catches the reverse and what the server declares (settings, corpora, lesson runs)."""

from __future__ import annotations

import re

from backend import config, corpora
from backend.lessons import catalog as lessons
from tests.conftest import ROOT

I18N = ROOT / "frontend" / "src" / "i18n"


def block(source: str, start: str, end: str) -> str:
    """The text of an object literal from the line `start` up to the first `end` after it."""
    i = source.index(start)
    return source[i : source.index(end, i)]


def messages(lang: str) -> set[str]:
    source = (I18N / f"{lang}.ts").read_text(encoding="utf-8")
    body = block(source, f"export const {lang}", "\n};" if lang != "en" else "} as const;")
    return set(re.findall(r'^  "([^"]+)":', body, re.M))


def settings(lang: str) -> dict[str, str]:
    """Each setting's entry in `<lang>Settings`, as text, by name."""
    source = (I18N / f"{lang}.ts").read_text(encoding="utf-8")
    body = block(source, f"export const {lang}Settings", "\n};")
    parts = re.split(r"^  (\w+): ", body, flags=re.M)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_every_message_exists_in_both_languages() -> None:
    en, fr = messages("en"), messages("fr")
    assert len(en) > 300
    assert sorted(en - fr) == [], "English only"
    assert sorted(fr - en) == [], "French only"


def test_every_setting_has_a_label_help_and_choices_in_both_languages() -> None:
    en, fr = settings("en"), settings("fr")
    for spec in config.describe():
        name = spec["name"]
        assert name in en and name in fr, f"setting {name} has no label in both languages"
        assert "help:" in fr[name], f"setting {name} has no French help"
        for choice in spec.get("choices") or ():
            for lang, entry in (("en", en), ("fr", fr)):
                assert re.search(rf"\b{choice}: ", entry[name]), (lang, name, choice)


def test_every_corpus_and_lesson_run_has_a_french_name() -> None:
    en, fr = messages("en"), messages("fr")
    for corpus in corpora.list_corpora():
        for part in ("name", "description"):
            key = f"corpus.{corpus.id}.{part}"
            assert key in en and key in fr, key
    for lesson in lessons.list_lessons():
        for run in lesson.to_dict("fr")["runs"]:
            assert run["name"] != run["label"] or run["label"].isupper(), run


def test_every_task_and_its_unit_has_a_name_in_both_languages() -> None:
    from backend.tasks.registry import TASKS

    en, fr = messages("en"), messages("fr")
    for name, spec in TASKS.items():
        for key in (f"tasks.{name}.title", f"tasks.{name}.summary", f"unit.{spec.unit}"):
            assert key in en and key in fr, key
