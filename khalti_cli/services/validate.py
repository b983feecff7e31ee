"""Checks on fields people type or import. Each failure is one sentence naming the field."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, datetime

from khalti_cli.errors import InvalidInput
from khalti_cli.money import DEVANAGARI_DIGITS
from khalti_cli.times import to_local

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_order_id(moment: datetime | None = None) -> str:
    day = to_local(moment or datetime.now(UTC)).strftime("%y%m%d")  # the local (Gregorian) day
    return f"KH-{day}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def order_id(value: str) -> str:
    value = value.strip()
    if not ORDER_ID.match(value):
        raise InvalidInput(
            f"The order id {value[:70]!r} is not valid: use 1 to 64 letters, digits or . _ : / # -, "
            "starting with a letter or digit."
        )
    return value


# Refused in every text field: control characters (Cc: tab, line breaks, escape...), format characters
# (Cf: bidi overrides, zero-width and invisible marks, the byte-order mark) and the line and paragraph
# separators (Zl U+2028, Zp U+2029), which break a line-based reader of khalti's TSV, CSV or logs.
# The zero-width non-joiner and joiner stay: Devanagari spelling needs them.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_KEPT = frozenset("\u200c\u200d")


def _has_control(value: str) -> bool:
    if value.isprintable():  # fast path (imports check every cell): no C* or Z* other than a space
        return False
    return any(unicodedata.category(c) in REFUSED_CATEGORIES and c not in _KEPT for c in value)


def text(value: str | None, field: str, *, required: bool = False, limit: int = 200) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"The {field} is empty; give one.")
        return None
    if not value.isprintable() and any("\ud800" <= c <= "\udfff" for c in value):
        # Bytes that were not UTF-8 (a mis-encoded file or terminal): SQLite cannot store them.
        raise InvalidInput(f"The {field} has characters that are not valid UTF-8 text; retype it.")
    value = unicodedata.normalize("NFC", value.strip())
    if _has_control(value):
        raise InvalidInput(
            f"The {field} contains a line break, line separator, tab or other control character; remove it."
        )
    if len(value) > limit:
        raise InvalidInput(f"The {field} is {len(value)} characters long; the limit is {limit}.")
    return value


def email(value: str | None) -> str | None:
    value = text(value, "customer email", limit=254)
    if value is not None and not EMAIL.match(value):
        raise InvalidInput(f"The customer email {value!r} is not an email address.")
    return value


PHONE_LIMIT = 20  # characters, with spaces, dashes and the +


def phone(value: str | None, field: str) -> str | None:
    """Digits (Devanagari digits are stored as 0-9), spaces, dashes, an optional + in front: 7 to 20
    characters. `field` is what the person typed it as: an option (`--phone`, `--customer-phone`) or an
    import column (`column phone`); a refusal names it and says what is wrong: not digits, too short, too
    long."""
    label = f"phone given with {field}" if field.startswith("--") else f"phone in {field}"
    value = text(value, label, limit=1000)
    if value is None:
        return None
    value = value.translate(DEVANAGARI_DIGITS)  # staff may type Devanagari digits (९८००००००००), as in amounts
    if PHONE.match(value) and len(value) <= PHONE_LIMIT:
        return value
    shown = value if len(value) <= 40 else value[:40] + "…"
    body = value[1:] if value.startswith("+") else value
    other = sorted({c for c in body if c not in "0123456789 -"}, key=body.index)
    digits = sum(c.isdigit() for c in body)
    if other:
        which = ", ".join(repr(c) for c in other[:5])
        problem = f"has {which}, which {'is not a digit' if len(other) == 1 else 'are not digits'}"
    elif not body or not body[0].isdigit() or not body[-1].isdigit():
        problem = "must start and end with a digit (spaces and dashes only between digits, + only in front)"
    elif len(value) > PHONE_LIMIT:
        problem = f"is too long: {len(value)} characters ({digits} digits); the limit is {PHONE_LIMIT}"
    else:
        problem = f"is too short: {digits} digits; a phone number has at least 7"
    raise InvalidInput(f"The {label} ({shown!r}) {problem}. Give a number like 9800000001 (a mobile has 10 digits).")
