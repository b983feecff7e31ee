"""QR codes of payment URLs, drawn on a terminal (a parent scans it with the Khalti app or camera).

A phone reads dark modules on a light ground with a light quiet zone around it. The terminal's own colours
cannot be trusted for that (on a dark theme "default" is light-on-dark: an inverted code many scanners
refuse), so every cell sets both colours explicitly: xterm-256 colours 16 (#000000) and 231 (#ffffff),
which themes do not remap. Two module rows share one text row (the upper half block, ▀), with the
4-module quiet zone the standard asks for. tests/test_display.py decodes it on light and dark themes.

Without colour (NO_COLOR, --no-color, or stderr not a terminal) a cell is either the theme's foreground or
its background, and which of the two is dark depends on the theme: any one drawing is inverted on one of
them, and many scanners (zxing without its try-invert option, older phone apps) do not read an inverted
code. Reverse video (SGR 7) is not colour, but it only swaps the same two theme colours, so it cannot help.
So the code is drawn twice, side by side when the terminal is wide enough (else one above the other):
dark modules as ink, for a light screen, and light modules as ink, for a dark screen. On either theme one
of the two is dark on light; the other is the inverted code a scanner passes over (or reads: same link).
"""

from __future__ import annotations

import shutil
from typing import TextIO

QUIET = 4
_DARK, _LIGHT = 16, 231


def lines(url: str, color: bool = True, width: int | None = None) -> list[str]:
    """The code as text lines with colour escapes (each line resets its colours at the end).

    Without colour: two codes with no escapes at all, one for light and one for dark screens, side by side
    within `width` columns (default: the terminal's), else one above the other."""
    import segno

    # Without colour, error level L (raised when the size allows): two codes of a Khalti link then fit
    # side by side in 80 columns. A screen is sharp and flat; level M is for the single colour code.
    code = segno.make(url, error="m" if color else "l")
    matrix = [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=QUIET)]
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    if not color:
        return _two_plain_codes(matrix, width or shutil.get_terminal_size((80, 24)).columns)
    out = []
    for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True):
        cells, last = [], (-1, -1)
        for upper, lower in zip(top, bottom, strict=True):
            pair = (_DARK if upper else _LIGHT, _DARK if lower else _LIGHT)
            cells.append("▀" if pair == last else f"\x1b[38;5;{pair[0]};48;5;{pair[1]}m▀")
            last = pair
        out.append("".join(cells) + "\x1b[0m")
    return out


def _plain(matrix: list[list[bool]], ink: bool) -> list[str]:
    """Half-block text whose ink (the theme's foreground) is drawn where a module equals `ink`."""
    return [
        "".join(_PLAIN[(u == ink, d == ink)] for u, d in zip(top, bottom, strict=True))
        for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True)
    ]


def _two_plain_codes(matrix: list[list[bool]], width: int) -> list[str]:
    light, dark = _plain(matrix, ink=True), _plain(matrix, ink=False)
    size, gap = len(matrix[0]), 4
    captions = ("for a light screen".ljust(size), "for a dark screen".ljust(size))
    if 2 * size + gap <= width:
        pad = " " * gap
        return [(captions[0] + pad + captions[1]).rstrip()] + [a + pad + b for a, b in zip(light, dark, strict=True)]
    return [captions[0].rstrip(), *light, "", captions[1].rstrip(), *dark]


_PLAIN = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def draw(url: str, stream: TextIO, color: bool = True) -> None:
    stream.write("\n".join(lines(url, color, _columns(stream))) + "\n")
    stream.flush()


def _columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to; else COLUMNS or stdout's terminal; else 80."""
    import os

    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns or shutil.get_terminal_size((80, 24)).columns
