"""The width policy of every table (render.py draws with it): fixed columns (ids, amounts, statuses,
times, links) keep their whole width on one line; free-text columns share the rest and wrap between words;
when that cannot fit, a table is split (grids) or becomes one block of `label  value` lines per row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from khalti_cli.termwidth import text_width

WORD_CAP = 16  # a free-text word longer than this may be folded, rather than giving up the table


@dataclass(frozen=True)
class Column:
    header: str
    fixed: bool = True  # never wrapped nor cut; False: free text, wraps between words
    right: bool = False
    short: str = ""  # the header when the column is narrower than `header`


def grid(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, color: bool) -> Any | None:
    """A rich Table of `rows` (rich Text cells) at most `width` cells wide, laid out by the policy: fixed
    columns get their whole width, free-text columns share the rest and wrap between words (mid-word only
    for a word longer than WORD_CAP); headers never split mid-word. None when that cannot fit."""
    from rich.table import Table
    from rich.text import Text

    widths = _widths(columns, [[c.plain for c in row] for row in rows], width)
    if widths is None:
        return None
    table = Table(show_header=True, header_style="bold" if color else None, box=None, pad_edge=False)
    for col, w in zip(columns, widths, strict=True):
        header = col.short if col.short and text_width(col.header) > w >= text_width(col.short) else col.header
        justify = "right" if col.right else "left"
        table.add_column(Text(header), width=w, overflow="fold", justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table


def grids(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, color: bool, keep: int = 1) -> Any:
    """A table too wide for `width` as several under each other: the first `keep` columns in each, the
    others split (never a figure cut); when even that cannot fit, one block of lines per row."""
    from rich.console import Group

    table = grid(columns, rows, width, color)
    if table is not None:
        return table
    parts: list[Any] = []
    start = keep
    while start < len(columns):
        end = start + 1
        while end < len(columns) and _fits(columns, rows, width, keep, start, end + 1):
            end += 1
        pick = list(range(keep)) + list(range(start, end))
        part = grid([columns[i] for i in pick], [[row[i] for i in pick] for row in rows], width, color)
        if part is None:
            return blocks_of(columns, rows, color, width)
        if parts:
            parts.append("")
        parts.append(part)
        start = end
    return Group(*parts)


def fitted(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, color: bool) -> Any:
    """`grid()`, or one block of `label  value` lines per row when no table of that width can hold it."""
    table = grid(columns, rows, width, color)
    return table if table is not None else blocks_of(columns, rows, color, width)


def _fits(
    columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, keep: int, start: int, end: int
) -> bool:
    pick = list(range(keep)) + list(range(start, end))
    sub = [columns[i] for i in pick]
    return _widths(sub, [[row[i].plain for i in pick] for row in rows], width) is not None


def _words(text: str) -> int:
    return max((text_width(w) for w in text.split()), default=0)


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """Each column's width, or None when the fixed columns and the longest words do not fit."""
    room = width - 2 * (len(columns) - 1)
    full = [max([text_width(c.header), *(text_width(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    for cap in (None, WORD_CAP):
        least = []
        for i, col in enumerate(columns):
            head = min(_words(col.header), text_width(col.short)) if col.short else _words(col.header)
            if col.fixed:
                least.append(max([head, *(text_width(row[i]) for row in rows)]))
            else:
                word = max((_words(row[i]) for row in rows), default=0)
                least.append(max(head, 1, min(word, cap) if cap else word))
        if sum(least) <= room:
            widths = list(least)
            spare = room - sum(widths)
            for fixed in (True, False):  # headers whole first, then free text as wide as it can be
                spare = _spread(widths, full, spare, [i for i, c in enumerate(columns) if c.fixed == fixed])
            return widths
    return None


def _spread(widths: list[int], full: list[int], spare: int, among: list[int]) -> int:
    """Give `spare` cells, one at a time, to the narrowest of `among` not yet at its full width; the rest."""
    while spare > 0:
        growing = [i for i in among if widths[i] < full[i]]
        if not growing:
            break
        widths[min(growing, key=lambda i: widths[i])] += 1
        spare -= 1
    return spare


def blocks_of(columns: Sequence[Column], rows: Sequence[Sequence[Any]], color: bool, width: int) -> Any:
    """One block of `label  value` lines per row, a blank line between blocks. An id, amount or link too
    wide to follow its label goes on the line below it, from the first column, whole."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    names = max(text_width(c.header) for c in columns)
    room = max(1, width - names - 2)
    bold = "bold" if color else ""
    parts: list[Any] = []

    def pairs() -> Any:
        view = Table(show_header=False, box=None, pad_edge=False)
        view.add_column(style=bold, no_wrap=True, width=names)
        view.add_column(overflow="fold", width=room)
        return view

    for i, row in enumerate(rows):
        if i:
            parts.append(Text(""))
        view = pairs()
        for col, value in zip(columns, row, strict=True):
            if col.fixed and text_width(value.plain) > room:
                if view.row_count:
                    parts.append(view)
                    view = pairs()
                parts.extend([Text(col.header, style=bold), value])
            else:
                view.add_row(Text(col.header), value)
        if view.row_count:
            parts.append(view)
    return Group(*parts)
