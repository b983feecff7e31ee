"""The one order in which people read classes and references: natural, so that Grade 2 comes before
Grade 10 and कक्षा २ before कक्षा १० (numbers compare as numbers, in Latin or Devanagari digits), and
"(no class)" last. Every listing by class uses it: payers list, bill, dues, the report's books and the
xlsx sheets."""

from __future__ import annotations

import re

from khalti_cli.money import DEVANAGARI_DIGITS

NO_CLASS = "(no class)"  # how a payment with no class is listed, after every class
_NUMBER = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int | str], ...]


def natural_key(text: str) -> NaturalKey:
    """'Grade 10' -> ((1, 'grade '), (0, 10)): numbers compare as numbers (Devanagari digits too), letters
    without regard to case."""
    parts = _NUMBER.split(text.translate(DEVANAGARI_DIGITS).casefold())
    return tuple((0, int(p)) if p.isdecimal() else (1, p) for p in parts if p)


def class_key(group: str | None) -> tuple[bool, NaturalKey, str]:
    """A class's place in a listing: natural order, no class (None or NO_CLASS) last; the text itself breaks
    ties ('Grade 2' and 'grade 02'), so the order never depends on the database's."""
    missing = group is None or group == NO_CLASS
    return missing, natural_key(group or ""), group or ""


def reference_key(reference: str | None) -> tuple[NaturalKey, str]:
    """A payer reference's place among its class: S-9 before S-10."""
    return natural_key(reference or ""), reference or ""
