"""The drawing style fee slips and receipts share: Noto Sans Devanagari (shaped by Raqm), the colours,
centred and wrapped text. Pillow is imported inside the functions (never at CLI start-up).

Nepali names need a Devanagari font and text shaping: the font is Noto Sans Devanagari from the
`fontpkg-noto-sans-devanagari` package (it has Latin letters too), shaped by Pillow's Raqm layout when
Pillow has it (the PyPI wheels do, with the system's libfribidi). Without the font package, Pillow's
default font is used, which has no Devanagari: Nepali text would show as boxes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

INK, MUTED, LINE, PAPER = (20, 20, 20), (95, 95, 95), (190, 190, 190), (255, 255, 255)
KHALTI_PURPLE = (92, 45, 145)


def font_file() -> Path | None:
    """The Devanagari font shipped by the fontpkg-noto-sans-devanagari package, if installed."""
    try:
        import fontpkg_noto_sans_devanagari as pkg
    except ImportError:
        return None
    files = sorted((Path(pkg.ROOT) / "files").glob("*.ttf"))
    return files[0] if files else None


def font_note() -> str | None:
    """Why Nepali text may not render well here, or None when it will."""
    from PIL import features

    if font_file() is None:
        return (
            "The Devanagari font is not installed (pip install fontpkg-noto-sans-devanagari); slips use "
            "Pillow's default font, which shows Nepali text as boxes."
        )
    if not features.check("raqm"):
        return "Pillow has no Raqm text layout here (libfribidi missing?): Nepali conjuncts may look wrong."
    return None


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> Any:
    from PIL import ImageFont, features

    path = font_file()
    if path is None:
        return ImageFont.load_default(size)
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    loaded = ImageFont.truetype(str(path), size, layout_engine=layout)
    try:  # a variable font: wdth 100, wght 700 for bold / 400 for regular
        axes = loaded.get_variation_axes()
        weight = 700.0 if bold else 400.0
        values = [weight if bytes(a.get("name", b"")).lower().startswith(b"weight") else 100.0 for a in axes]
        loaded.set_variation_by_axes(values)
    except (OSError, AttributeError, TypeError):
        pass
    return loaded


def centered(draw: Any, text: str, font: Any, y: int, fill: tuple[int, int, int], width: int) -> int:
    """Draw `text` centred on a page `width` pixels wide at height y; returns the bottom of the text."""
    left, _, right, bottom = draw.textbbox((0, y), text, font=font)
    draw.text(((width - (right - left)) // 2 - left, y), text, font=font, fill=fill)
    return int(bottom)


ELLIPSIS = "…"


def fit_lines(draw: Any, text: str, font: Any, width: int, most: int, *, by_char: bool = False) -> list[str]:
    """At most `most` lines that fit `width`: broken at spaces (runs of spaces count as one), a word too
    long for a line broken inside it, and when the text needs more lines the last one ends with "…"."""
    lines = wrap(draw, text, font, width, by_char=by_char)
    if len(lines) <= most:
        return lines
    kept = lines[:most]
    last = kept[-1]
    while last and draw.textlength(last + ELLIPSIS, font=font) > width:
        last = last[:-1]
    kept[-1] = last.rstrip(" ,;:-") + ELLIPSIS
    return kept


def wrap(draw: Any, text: str, font: Any, width: int, *, by_char: bool = False) -> list[str]:
    """Lines that fit `width`: broken at spaces (or anywhere, for a URL or a word wider than a line). Runs of
    spaces count as one and no line starts or ends with a space: what is drawn reads as typed, evenly."""
    text = " ".join(text.split())
    if by_char:
        lines = [line.strip() for line in _wrap(draw, text, font, width, by_char=True)]
        return [line for line in lines if line] or [""]
    return _wrap(draw, text, font, width, by_char=False)


def _wrap(draw: Any, text: str, font: Any, width: int, *, by_char: bool) -> list[str]:
    parts = list(text) if by_char else text.split(" ")
    glue = "" if by_char else " "
    lines: list[str] = []
    current = ""
    for part in parts:
        trial = current + glue + part if current else part
        if draw.textlength(trial, font=font) <= width:
            current = trial
            continue
        if current:
            lines.append(current)
        current = part
        while not by_char and len(current) > 1 and draw.textlength(current, font=font) > width:
            cut = len(current) - 1
            while cut > 1 and draw.textlength(current[:cut], font=font) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    return lines or [""]


def labelled(
    draw: Any,
    rows: list[tuple[str, str]],
    x: int,
    y: int,
    width: int,
    fonts: tuple[Any, Any],
    steps: tuple[int, int, int],
) -> int:
    """Label (muted) over value (ink, at most two wrapped lines) for each row; returns the y after them.
    steps: (label height, value line height, gap after a row)."""
    label_font, value_font = fonts
    for label, value in rows:
        draw.text((x, y), label, font=label_font, fill=MUTED)
        y += steps[0]
        for text in fit_lines(draw, value, value_font, width, 2):
            draw.text((x, y), text, font=value_font, fill=INK)
            y += steps[1]
        y += steps[2]
    return y
