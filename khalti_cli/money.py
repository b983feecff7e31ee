"""Rupees as typed by people <-> integer paisa. No float ever touches an amount."""

from __future__ import annotations

import re

from khalti_cli.errors import InvalidInput

MIN_PAISA = 1000  # Khalti's minimum: Rs 10
MAX_PAISA = 10**13  # Rs 100 billion: far above any fee, keeps SQLite integers and output sane

# Either plain digits, or digits grouped by commas (Western 1,500,000 or Nepali/Indian 15,00,000).
_PLAIN = r"\d+"
_GROUPED = r"\d{1,3}(?:,\d{2})*,\d{3}|\d{1,3}(?:,\d{3})+"
# Staff may type Devanagari digits (१५००); they mean the same rupees.
DEVANAGARI_DIGITS = _DEVANAGARI = str.maketrans("०१२३४५६७८९", "0123456789")
_AMOUNT = re.compile(rf"^(?P<int>{_PLAIN}|{_GROUPED})(?:\.(?P<frac>\d*))?$")


def parse_rupees(text: str, *, minimum: int = MIN_PAISA) -> int:
    """`"1,500.50"` -> 150050. Raises InvalidInput with a sentence naming the problem."""
    raw = text
    text = text.strip().translate(_DEVANAGARI)
    if not text:
        raise InvalidInput("The amount is empty. Give it in rupees, for example 1500 or 1500.50.")
    shown = raw.strip()[:40]
    if text[0] in "+-":
        raise InvalidInput(f"The amount {shown!r} has a sign. Give a plain amount in rupees, like 1500.")
    if any(c in text.lower() for c in "e") or text.lower() in {"nan", "inf", "infinity"}:
        raise InvalidInput(f"The amount {shown!r} is not a plain number. Write it in rupees with digits, like 1500.50.")
    if not text.isascii():
        raise InvalidInput(
            f"The amount {shown!r} has characters other than 0-9, commas and a point. Use digits like 1500."
        )
    m = _AMOUNT.match(text)
    if m is None:
        if text.count(".") > 1:
            raise InvalidInput(f"The amount {shown!r} has more than one decimal point.")
        if "," in text:
            raise InvalidInput(f"The amount {shown!r} has commas in the wrong places. Write it like 1,500.50.")
        raise InvalidInput(f"The amount {shown!r} is not a number of rupees. Write it like 1500 or 1500.50.")
    frac = m.group("frac") or ""
    if len(frac) > 2:
        raise InvalidInput(f"The amount {shown!r} has more than two decimals; paisa are the smallest unit.")
    whole = m.group("int").replace(",", "")
    if len(whole) > 14:
        raise InvalidInput(f"The amount {shown!r} is too large.")
    paisa = int(whole) * 100 + int(frac.ljust(2, "0"))
    if paisa > MAX_PAISA:
        raise InvalidInput(f"The amount {shown!r} is too large.")
    if paisa < minimum:
        raise InvalidInput(
            f"The amount {shown!r} is below Khalti's minimum of Rs {format_paisa(minimum)}."
            if minimum == MIN_PAISA
            else f"The amount {shown!r} must be at least Rs {format_paisa(minimum)}."
        )
    return paisa


def format_paisa(paisa: int) -> str:
    """150050 -> "1500.50" (the contract's JSON form: no grouping)."""
    sign = "-" if paisa < 0 else ""
    rupees, rest = divmod(abs(paisa), 100)
    return f"{sign}{rupees}.{rest:02d}"


def format_rupees(paisa: int) -> str:
    """15000000 -> "Rs 1,50,000.00": for people, grouped as Nepal groups (lakh, crore)."""
    sign = "-" if paisa < 0 else ""
    rupees, rest = divmod(abs(paisa), 100)
    return f"{sign}Rs {group_nepali(rupees)}.{rest:02d}"


def group_nepali(number: int) -> str:
    """1500000 -> "15,00,000": the last three digits, then groups of two (lakh, crore)."""
    digits = str(number)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *groups, tail])
