"""Money needs a yes: on a terminal, show what will change and ask; elsewhere require --yes (exit 2).

What is shown is `Label:    value` lines (`fit`): wrapped at spaces to the terminal's width (80 at most), each
line after a label's first indented under its value, runs of spaces made one, widths measured in cells as the
terminal draws them (khalti_cli.termwidth: Nepali vowel signs take a cell), so no word is cut by the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from khalti_cli.errors import UsageError

CONFIRM_WIDTH = 80  # at most: the narrowest common terminal; a narrower terminal gets its own width
LABEL_WIDTH = 10  # "Payment:  " — the values start in one column

Rows = Sequence[tuple[str, Sequence[str]]]


def confirm(description: str, question: str, *, yes: bool, refusal: str) -> bool:
    """True to go ahead. `refusal` is the usage error when nobody can be asked and --yes was not given."""
    if yes:
        return True
    if not (_isatty(sys.stdin) and _isatty(sys.stderr)):
        raise UsageError(refusal)
    sys.stderr.write(description + f"\n{question} [y/N]: ")
    sys.stderr.flush()
    # Not typer.confirm: it echoes a space to stdout, which carries only data.
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def screen_width() -> int:
    """The width confirmations and messages are wrapped to: the terminal's (stderr's), at most 80."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = CONFIRM_WIDTH
    return max(20, min(CONFIRM_WIDTH, columns or CONFIRM_WIDTH))


def fit(rows: Rows, width: int | None = None) -> str:
    """`Label:    part` lines, each part of a label starting a line of its own, no line wider than `width`
    (default: screen_width()) in terminal cells, broken only at spaces (a word wider than a whole line stands
    alone on its line, uncut), later lines indented under the value."""
    width = width or screen_width()
    indent = LABEL_WIDTH if width - LABEL_WIDTH >= 20 else 2
    lines: list[str] = []
    for label, parts in rows:
        first = True
        for part in parts:
            for piece in wrap(part, width - indent):
                if first:
                    head = (label + " ").ljust(indent) if indent == LABEL_WIDTH else label + "\n" + " " * indent
                    lines.append(head + piece)
                    first = False
                else:
                    lines.append(" " * indent + piece)
        if first:  # a label with nothing to say
            lines.append(label)
    return "\n".join(lines)


def for_screen(message: str) -> str:
    """A message for stderr: on a terminal, wrapped at spaces to its width (80 at most); else as it is."""
    if not _isatty(sys.stderr):
        return message
    return "\n".join(wrap(message, screen_width()))


def wrap(text: str, width: int) -> list[str]:
    """`text` with its whitespace made single spaces, in lines of at most `width` cells, broken at spaces. A
    word wider than a whole line (a long path or link) gets a line of its own, uncut: the terminal's soft wrap
    keeps it one word to copy."""
    from khalti_cli.termwidth import text_width

    lines: list[str] = []
    line = ""
    for word in text.split():
        if not line:
            line = word
        elif text_width(line) + 1 + text_width(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
