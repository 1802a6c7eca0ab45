"""Is a generated tune a tune? Each one is read with music21's ABC reader and measured.

The reader is music21's own (`music21.abcFormat.ABCHandler`: the tokenizer and token
processor that `music21.converter.parse(abc, format="abc")` runs before it builds a score).
It resolves what the bar checks need (note lengths from L:, broken rhythms `>`, tuplets
`(3`, grace notes, the key signature of K: with accidentals) in about 5 ms a tune; building
the full score on top of it costs about 90 ms and adds no check of its own, so it is skipped.

The reader is lenient: it silently drops characters it cannot read (`ab$%&` reads as `ab`).
So "parses" also asks that its tokens account for the music's characters.

A tune is **valid** when all of these hold (`check`):

  1. it parses: the reader raises no error and its tokens cover at least `MIN_COVERAGE` of
     the non-space characters of the music;
  2. its header has M: (a fraction, `C` = 4/4 or `C|` = 2/2), L: (a fraction) and K: (a key
     music21 knows), in that order before the music;
  3. it has at least `MIN_BARS` bars with notes in them;
  4. most bars last what the meter says: of the *inner* bars (not the first or last bar of a
     section, where pick-ups and the notes before a repeat sign share one bar between them),
     at least `MIN_FULL_BARS` have exactly the meter's length.

Reported beside the verdict, not part of it: `in_key`, the share of notes whose pitch
class is in the scale of the key signature (a tune in G major whose notes are all in
G A B C D E F#: 1.0; a modal tune with a flattened seventh written as accidentals scores a
little less; random notes about 7/12).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

MIN_COVERAGE = 0.95  # share of the music's characters the reader must use
MIN_BARS = 4
MIN_FULL_BARS = 0.75  # share of inner bars that must have the meter's length
SECTION = re.compile(r"[:\]\[]|\|\||\d")  # a bar line that ends or starts a section
METERS = {"C": Fraction(4, 4), "C|": Fraction(2, 2)}


@dataclass(frozen=True)
class Check:
    """What the checker found in one tune (sent with every generated one)."""

    valid: bool
    reason: str  # "" when valid; otherwise the first check that failed, in English
    parses: bool
    meter: str  # the M: field as written, "" if none
    key: str  # the K: field as written, "" if none
    bars: int  # bars with notes in them
    full_bars: float  # share of inner bars with exactly the meter's length
    in_key: float  # share of notes in the key signature's scale
    notes: int
    # The reason as a message key and its values, so the page says it in the class's language:
    # "" when valid, else "empty", "header", "meter", "length", "unreadable", "skips",
    # "bars" or "fullBars" (`music.reason.<key>` in the page's i18n).
    reason_key: str = ""
    reason_values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fraction(text: str) -> Fraction | None:
    """ "6/8" -> 6/8; None if it is not a positive fraction."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*", text)
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


def header(abc: str) -> tuple[dict[str, str], str]:
    """The header fields before the music (tag -> value) and the music itself."""
    fields: dict[str, str] = {}
    lines = abc.split("\n")
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Za-z]):(.*)$", line)
        if not match:
            return fields, "\n".join(lines[i:])
        fields.setdefault(match.group(1), match.group(2).strip())
        if match.group(1) == "K":
            return fields, "\n".join(lines[i + 1 :])
    return fields, ""


def check(abc: str) -> Check:
    """Read one tune and say whether it is valid, and why not (see the module docstring)."""
    fields, music = header(abc)
    meter_text, key_text = fields.get("M", ""), fields.get("K", "")

    def verdict(
        reason: str, key: str = "", parses: bool = False, values: Any = None, **found: Any
    ) -> Check:
        base = dict(bars=0, full_bars=0.0, in_key=0.0, notes=0)
        found = {**base, **found}
        return Check(
            not reason,
            reason,
            parses,
            meter_text,
            key_text,
            **found,
            reason_key=key,
            reason_values=dict(values or {}),
        )

    if not music.strip():
        return verdict("no music after the header", "empty")
    # music21 cannot read music without L: (nor make bars without M:): say so, before reading.
    missing = [tag + ":" for tag in ("M", "L", "K") if tag not in fields]
    if missing:
        tags = ", ".join(missing)
        return verdict(f"no {tags} line in the header", "header", values={"tags": tags})
    meter = METERS.get(meter_text.replace(" ", "")) or fraction(meter_text)
    # music21 fails on a meter or note length it cannot split: say which, before reading.
    if meter is None:
        return verdict(
            f"the meter M:{meter_text} is not a fraction", "meter", values={"meter": meter_text}
        )
    if fraction(fields["L"]) is None:
        return verdict(
            f"the note length L:{fields['L']} is not a fraction",
            "length",
            values={"length": fields["L"]},
        )
    try:
        tokens = read(abc)
        coverage = covered(tokens, music)
        bars, full, in_key, notes = measure(tokens, meter * 4)
    except Exception as exc:  # noqa: BLE001 - music21 raises many kinds on bad input
        error = str(exc).splitlines()[0][:120]
        return verdict(f"music21 cannot read it: {error}", "unreadable", values={"error": error})
    found = dict(bars=bars, full_bars=full, in_key=in_key, notes=notes)
    if coverage < MIN_COVERAGE:
        skipped = f"music21 skips {1 - coverage:.0%} of the characters of the music"
        return verdict(skipped, "skips", values={"share": 1 - coverage}, **found)
    if bars < MIN_BARS:
        few = f"only {bars} bar(s); a tune needs at least {MIN_BARS}"
        return verdict(few, "bars", True, {"bars": bars, "least": MIN_BARS}, **found)
    if full < MIN_FULL_BARS:
        short = f"only {full:.0%} of the bars last {meter_text}"
        return verdict(short, "fullBars", True, {"share": full, "meter": meter_text}, **found)
    return verdict("", "", True, **found)


def warm_up() -> None:
    """Import music21's ABC reader now (about a second), so no check waits for it later."""
    from music21 import abcFormat  # noqa: F401


def read(abc: str) -> list[Any]:
    """music21's ABC tokens of a tune, processed (durations, keys and accidentals resolved)."""
    from music21 import abcFormat

    handler = abcFormat.ABCHandler()
    handler.process(abc)
    return list(handler.tokens)


def covered(tokens: list[Any], music: str) -> float:
    """Share of the music's non-space characters that the reader's tokens account for."""
    wanted = len(re.sub(r"\s|\\", "", music))
    if wanted == 0:
        return 0.0
    used = sum(
        len(re.sub(r"\s", "", t.src))
        for t in tokens
        if type(t).__name__ != "ABCMetadata" or t.src.startswith(("[", "K", "M", "L"))
    )
    return min(1.0, used / wanted)


def measure(tokens: list[Any], bar_length: Fraction) -> tuple[int, float, float, int]:
    """(bars with notes, share of inner bars of `bar_length` quarters, in-key share, notes)."""
    bars: list[tuple[Fraction, bool, bool]] = []  # (length, starts a section, ends one)
    length, opened_section, in_key, notes = Fraction(0), True, 0, 0
    for token in tokens:
        kind = type(token).__name__
        if kind == "ABCBar":
            ends = bool(SECTION.search(token.src))
            if length > 0:
                bars.append((length, opened_section, ends))
            length, opened_section = Fraction(0), ends or (length == 0 and opened_section)
        elif kind in ("ABCNote", "ABCChord") and not token.inGrace:
            length += duration(token)
            if kind == "ABCNote" and not token.isRest:
                notes += 1
                in_key += in_scale(token)
    if length > 0:
        bars.append((length, opened_section, True))
    inner = [b for b in bars[1:-1] if not b[1] and not b[2]]
    full = sum(b[0] == bar_length for b in inner) / len(inner) if inner else 0.0
    return len(bars), full, in_key / notes if notes else 0.0, notes


def duration(token: Any) -> Fraction:
    """A note's or chord's length in quarter notes, tuplets applied."""
    ql = Fraction(token.quarterLength).limit_denominator(256)
    tuplet = token.activeTuplet
    if tuplet is not None:
        ql = ql * tuplet.numberNotesNormal / tuplet.numberNotesActual
    return ql


def in_scale(token: Any) -> bool:
    """Whether a note's pitch class is one of the seven of its key signature's scale."""
    from music21 import pitch

    signature = token.activeKeySignature
    if signature is None or not token.pitchName:
        return True
    return pitch.Pitch(token.pitchName).pitchClass in scale(signature.sharps)


_SCALES: dict[int, frozenset[int]] = {}


def scale(sharps: int) -> frozenset[int]:
    """Pitch classes of the major scale with this many sharps (negative: flats)."""
    if sharps not in _SCALES:
        tonic = (7 * sharps) % 12  # each sharp moves the tonic a fifth up
        _SCALES[sharps] = frozenset((tonic + step) % 12 for step in (0, 2, 4, 5, 7, 9, 11))
    return _SCALES[sharps]
