"""Python source for the `python` corpus, read from the running interpreter's standard library."""

from __future__ import annotations

import sysconfig
from pathlib import Path

# Small, readable modules first; order is fixed so the corpus is the same on every call.
MODULES = (
    "bisect",
    "colorsys",
    "keyword",
    "reprlib",
    "fnmatch",
    "sched",
    "glob",
    "graphlib",
    "numbers",
    "queue",
    "string",
    "textwrap",
    "heapq",
    "fractions",
    "operator",
    "contextlib",
    "calendar",
    "pprint",
    "dataclasses",
)
MAX_CHARS = 200_000


def _allowed(text: str) -> bool:
    """Whether text has no control characters besides newline and tab (some modules use \\f)."""
    return all(ch >= " " or ch in "\n\t" for ch in text)


def collect(max_chars: int = MAX_CHARS) -> str:
    """Concatenate whole stdlib modules, unchanged, until the next one would pass `max_chars`."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for name in MODULES:
        try:
            source = (stdlib / f"{name}.py").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # a trimmed or unusual Python install: use what is there
        chunk = f"# ---- {name}.py ----\n\n{source.rstrip()}\n\n\n"
        if not _allowed(chunk) or total + len(chunk) > max_chars:
            continue
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts)
