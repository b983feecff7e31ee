"""QR codes of payment URLs, drawn on a terminal (a parent scans it with the Khalti app or camera).

A phone reads dark modules on a light ground with a light quiet zone around it. The terminal's own colours
cannot be trusted for that (on a dark theme "default" is light-on-dark: an inverted code many scanners
refuse), so every cell sets both colours explicitly: xterm-256 colours 16 (#000000) and 231 (#ffffff),
which themes do not remap. Two module rows share one text row (the upper half block, ▀), with the
4-module quiet zone the standard asks for. tests/test_display.py decodes it on light and dark themes.
"""

from __future__ import annotations

from typing import TextIO

QUIET = 4
_DARK, _LIGHT = 16, 231


def lines(url: str, color: bool = True) -> list[str]:
    """The code as text lines with colour escapes (each line resets its colours at the end).

    Without colour (NO_COLOR, --no-color, not a terminal) dark modules are drawn as block characters:
    that reads on a light background only."""
    import segno

    code = segno.make(url, error="m")
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=QUIET)]
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    out = []
    for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True):
        if not color:
            out.append("".join(_PLAIN[(bool(u), bool(d))] for u, d in zip(top, bottom, strict=True)))
            continue
        cells, last = [], (-1, -1)
        for upper, lower in zip(top, bottom, strict=True):
            pair = (_DARK if upper else _LIGHT, _DARK if lower else _LIGHT)
            cells.append("▀" if pair == last else f"\x1b[38;5;{pair[0]};48;5;{pair[1]}m▀")
            last = pair
        out.append("".join(cells) + "\x1b[0m")
    return out


_PLAIN = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def draw(url: str, stream: TextIO, color: bool = True) -> None:
    stream.write("\n".join(lines(url, color)) + "\n")
    stream.flush()
