"""Text width as terminals draw it, so tables with Nepali names line up.

rich measures Unicode "spacing combining marks" (category Mc: the Devanagari vowel signs ा ि ी ो ौ and
visarga ः) as zero cells. Terminals draw each of them in a cell of its own: glibc's wcwidth() gives them 1,
and tmux, xterm and VTE (GNOME Terminal) follow it. A name like "राम" is then 3 cells on screen but 2 in
rich's sums, and every column after it shifts. `use_terminal_widths()` gives rich a cell table in which
every Mc character is one cell (non-spacing marks, Mn, stay zero: the virama ् and ु ू ृ are drawn over
or under the letter). tests/test_display.py checks the rule against the C library and inside tmux.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any


def char_width(character: str) -> int:
    """Cells one character takes on a terminal (0, 1 or 2)."""
    use_terminal_widths()
    from rich.cells import get_character_cell_size

    return int(get_character_cell_size(character))


def text_width(text: str) -> int:
    use_terminal_widths()
    from rich.cells import cell_len

    return int(cell_len(text))


@cache
def use_terminal_widths() -> None:
    """Make rich measure spacing marks as terminals draw them (once per process; idempotent)."""
    import rich.cells as cells

    original = cells.load_cell_table  # type: ignore[attr-defined]

    @cache
    def load(unicode_version: str = "auto") -> Any:
        return _with_spacing_marks(original(unicode_version))

    cells.load_cell_table = load  # type: ignore[attr-defined]
    cells.get_character_cell_size.cache_clear()
    cells.cached_cell_len.cache_clear()


def _with_spacing_marks(table: Any) -> Any:
    """The same table, with each zero-width range split so that its Mc characters are one cell wide."""
    widths: list[tuple[int, int, int]] = []
    for start, end, width in table.widths:
        if width != 0:
            widths.append((start, end, width))
            continue
        run_start = start
        run_width = _mark_width(start)
        for cp in range(start + 1, end + 1):
            w = _mark_width(cp)
            if w != run_width:
                widths.append((run_start, cp - 1, run_width))
                run_start, run_width = cp, w
        widths.append((run_start, end, run_width))
    return table._replace(widths=widths)


def _mark_width(codepoint: int) -> int:
    return 1 if unicodedata.category(chr(codepoint)) == "Mc" else 0
