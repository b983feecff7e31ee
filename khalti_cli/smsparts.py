"""How many SMS a text takes (pure; the CLI's --dry-run and the sandbox's SMS emulator share it).

A text made only of GSM 03.38 characters goes as GSM-7: 160 characters in one SMS, 153 a part when it
is split (the rest of each part is the joining header); ^ { } \\ [ ] ~ | and € count twice. Anything
else, Devanagari included, goes as UCS-2: 70 in one SMS, 67 a part (a character outside the Basic
Multilingual Plane, like an emoji, counts twice).
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Parts:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def count(text: str) -> Parts:
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // part)
    return Parts(encoding, units, segments)
