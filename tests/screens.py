"""Running the installed khalti inside tmux at a fixed size and reading the screen back, as a person sees it.

tmux measures characters with the C library's wcwidth (Devanagari vowel signs, category Mc, take a cell;
virama and the other Mn marks take none). `cells()` lays a captured line out the same way, so a test can
ask which character tmux drew in cell N.
"""

from __future__ import annotations

import os
import subprocess
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import khalti_exe
from requires import require_binary

END = "__khalti_screen_end__"


class Screen:
    def __init__(self, tmux: str, socket: str, env: dict[str, str]) -> None:
        self.tmux, self.socket, self.env = tmux, socket, env
        self.before_keys: list[str] = []

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            [self.tmux, "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return proc.stdout

    def run(
        self, args: list[str], width: int, height: int, *, keys: list[str] | None = None, when: str = ":"
    ) -> list[str]:
        """The screen lines (history included) after `khalti ARGS` finished in a WIDTHxHEIGHT pane. `keys` are
        typed when the last line shown starts with `when` (less's prompt) or, for a question, ends with it."""
        name = "s" + uuid.uuid4().hex[:8]
        command = " ".join(_quote(a) for a in [*khalti_exe(), *args])
        self._tmux(
            "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
            f"{command}; printf '%s' {END}; sleep 30",
        )  # fmt: skip
        try:
            self._tmux("set-option", "-t", name, "history-limit", "5000")
            deadline = time.monotonic() + 20
            sent = False
            while time.monotonic() < deadline:
                screen = self._tmux("capture-pane", "-p", "-S", "-", "-t", name)
                if END in screen:
                    return screen.replace(END, "").splitlines()
                if keys and not sent:  # the keys go when the program waits for one (less shows its prompt)
                    shown = self._tmux("capture-pane", "-p", "-t", name).splitlines()
                    last = [line for line in shown if line.strip()][-1:]
                    if last and (last[0].startswith(when) or last[0].rstrip().endswith(when.rstrip())):
                        self.before_keys = shown
                        self._tmux("send-keys", "-t", name, *keys)
                        sent = True
                time.sleep(0.1)
            raise AssertionError(f"khalti {args} did not finish in tmux:\n{screen}")
        finally:
            self._tmux("kill-session", "-t", name)

    def cursor_after(self, text: str) -> int:
        """The cell tmux puts the cursor in after printing `text` from column 0."""
        name = "c" + uuid.uuid4().hex[:8]
        self._tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "5", f"printf '%s' {_quote(text)}; sleep 30")
        try:
            seen: list[str] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # settled: the same cell twice in a row, after printing
                time.sleep(0.15)
                seen.append(self._tmux("display-message", "-p", "-t", name, "#{cursor_x}").strip())
                if len(seen) >= 3 and seen[-1] == seen[-2] and seen[-1].isdigit():
                    return int(seen[-1])
            raise AssertionError(f"tmux gave no cursor for {text!r}: {seen}")
        finally:
            self._tmux("kill-session", "-t", name)


@contextmanager
def tmux_screen(env: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Iterator[Screen]:
    tmux = require_binary("tmux", "tmux")
    # The pane's own size decides the layout: no COLUMNS/LINES from the environment the tests run in.
    full = {k: v for k, v in os.environ.items() if k not in (*drop, "COLUMNS", "LINES")}
    full.update(env or {})
    full.setdefault("LANG", "C.UTF-8")
    full["LC_ALL"] = "C.UTF-8"
    full.pop("TMUX", None)
    socket = "khalti-test-" + uuid.uuid4().hex[:10]
    screen = Screen(tmux, socket, full)
    screen._tmux("new-session", "-d", "-s", "keep", "sleep 600")  # the server lives while sessions come and go
    try:
        yield screen
    finally:
        screen._tmux("kill-server")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def cells(line: str) -> list[str]:
    """The line as tmux lays it out: one entry per cell (zero-width marks join the cell before)."""
    grid: list[str] = []
    for ch in line:
        width = char_cells(ch)
        if width == 0 and grid:
            grid[-1] += ch
        elif width == 2:
            grid.extend([ch, ""])
        else:
            grid.append(ch)
    return grid


def char_cells(ch: str) -> int:
    """wcwidth as glibc (and so tmux) has it for the scripts these tests use."""
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf") or ch == "\u200b":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_at(grid: list[str], start: int, end: int) -> str:
    return "".join(grid[start:end])


def column_starts(header: str, labels: list[str]) -> list[int]:
    """Where each header label begins (the labels are ASCII, so index = cell)."""
    starts, at = [], 0
    for label in labels:
        at = header.index(label, at)
        starts.append(at)
        at += len(label)
    return starts


def aligned(lines: list[str], header_index: int, labels: list[str], right: tuple[str, ...] = ()) -> list[str]:
    """Row lines whose cells do not start where the header's do: each column's text must begin at its
    header's cell (or end at it, for right-aligned ones) with a space before it. Continuation lines of a
    wrapped cell (first cell blank) are skipped; returns the offending lines."""
    header = lines[header_index]
    if not all(label in header for label in labels):
        return [f"no header {labels} in:", *lines]
    starts = column_starts(header, labels)
    ends = [s + len(lb) for s, lb in zip(starts, labels, strict=True)]
    bad: list[str] = []
    for line in lines[header_index + 1 :]:
        if not line.strip():
            break
        grid = cells(line)
        if not grid or grid[0] == " ":
            continue
        for label, start, end in zip(labels, starts, ends, strict=True):
            if label in right:
                ok = len(grid) >= end and grid[end - 1] != " " and (len(grid) == end or grid[end] == " ")
            else:
                ok = len(grid) > start and grid[start] != " " and (start == 0 or grid[start - 1] == " ")
            if not ok:
                bad.append(f"{label!r} at cell {start}: {line!r}")
                break
    return bad


def render_image(ansi: str, theme: str, scale: int = 8) -> Any:
    """A terminal screen of half-block characters (with 16/256/true colours) drawn as an image, on a
    light (`black on white`) or dark (`white on black`) theme's default colours."""
    from PIL import Image

    fg_default, bg_default = ((0, 0, 0), (255, 255, 255)) if theme == "light" else ((230, 230, 230), (0, 0, 0))
    rows: list[list[tuple[tuple[int, int, int], tuple[int, int, int], str]]] = []
    fg, bg = fg_default, bg_default
    for raw in ansi.replace("\r", "").split("\n"):
        row = []
        i = 0
        while i < len(raw):
            if raw[i] == "\x1b" and raw[i + 1 : i + 2] == "[":
                j = raw.index("m", i)
                fg, bg = _sgr(raw[i + 2 : j], fg, bg, fg_default, bg_default)
                i = j + 1
                continue
            row.append((fg, bg, raw[i]))
            i += 1
        rows.append(row)
    width = max((len(r) for r in rows), default=0)
    image = Image.new("RGB", (width * scale, len(rows) * 2 * scale), bg_default)
    for y, row in enumerate(rows):
        for x, (f, b, ch) in enumerate(row):
            top, bottom = {"█": (f, f), "▀": (f, b), "▄": (b, f), " ": (b, b)}.get(ch, (b, b))
            image.paste(top, (x * scale, 2 * y * scale, (x + 1) * scale, (2 * y + 1) * scale))
            image.paste(bottom, (x * scale, (2 * y + 1) * scale, (x + 1) * scale, (2 * y + 2) * scale))
    return image


_BASIC = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229,) * 3]
_BRIGHT = [(127,) * 3, (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255,) * 3]
Colour = tuple[int, int, int]


def _sgr(params: str, fg: Colour, bg: Colour, fg0: Colour, bg0: Colour) -> tuple[Colour, Colour]:
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            fg, bg = fg0, bg0
        elif c == 39:
            fg = fg0
        elif c == 49:
            bg = bg0
        elif 30 <= c <= 37:
            fg = _BASIC[c - 30]
        elif 40 <= c <= 47:
            bg = _BASIC[c - 40]
        elif 90 <= c <= 97:
            fg = _BRIGHT[c - 90]
        elif 100 <= c <= 107:
            bg = _BRIGHT[c - 100]
        elif c in (38, 48) and i + 1 < len(codes):
            if codes[i + 1] == 5:
                colour = _xterm256(codes[i + 2])
                i += 2
            else:
                colour = (codes[i + 2], codes[i + 3], codes[i + 4])
                i += 4
            fg, bg = (colour, bg) if c == 38 else (fg, colour)
        i += 1
    return fg, bg


def _xterm256(n: int) -> Colour:
    if n < 8:
        return _BASIC[n]
    if n < 16:
        return _BRIGHT[n - 8]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return (level, level, level)
