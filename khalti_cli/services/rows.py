"""Reading rows from a CSV or JSON Lines file (for `khalti import` and `khalti payers import`).

The file is never read whole, and never more than MAX_ROW_CHARS at a time: rows come one at a time with
the line each starts on. Problems with the file itself (not UTF-8, a line too long, broken quoting,
unknown or missing columns) raise InvalidInput naming the line; a problem with one row becomes a BadRow
(a JSON key given twice, or two keys naming the same column, included), so every bad row is named
before anything is decided.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from khalti_cli.errors import InvalidInput

INPUT_FORMATS = ("csv", "jsonl")
Fields = dict[str, str | None]


@dataclass(frozen=True)
class BadRow:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Columns:
    """The columns a kind of file may have. Header names are matched case-insensitively, with spaces and
    dashes read as underscores; `aliases` maps other accepted names to the real one."""

    known: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()  # --ignore-columns: a spreadsheet's own columns, e.g. "Roll No"

    def ignoring(self, names: Sequence[str]) -> Columns:
        return dataclasses.replace(self, ignored=frozenset(self.name(n) for n in names if n.strip()))

    def name(self, raw: str) -> str:
        key = raw.strip().lower().replace(" ", "_").replace("-", "_")
        return self.aliases.get(key, key)


def input_format(path: str, given: str | None) -> str:
    if given:
        fmt = given.lower()
        if fmt not in INPUT_FORMATS:
            raise InvalidInput(f"{given!r} is not an input format; use csv or jsonl.")
        return fmt
    return "jsonl" if path.lower().endswith((".jsonl", ".ndjson")) else "csv"


def source_name(path: str) -> str:
    return "stdin" if path == "-" else Path(path).name


@contextmanager
def open_source(path: str) -> Iterator[TextIO]:
    """A file, or stdin for `-`, as UTF-8 text (a spreadsheet's byte-order mark is dropped).

    Bytes that are not UTF-8 are kept as lone surrogates (surrogateescape) instead of failing a whole
    read-ahead chunk, so `Lines` can name the exact line they are on."""
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # already text (some test harnesses)
            yield sys.stdin
            return
        stream = io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="surrogateescape", newline="")
        try:
            yield stream
        finally:
            stream.detach()
        return
    try:
        handle = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise InvalidInput(f"There is no file {path}. Check the name and the folder.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        yield handle
    finally:
        handle.close()


MAX_ROW_CHARS = 65_536  # a row (a JSON line, or a CSV record with its quoted line breaks) is at most this long


class Lines:
    """The lines of a text stream, each read with a bounded readline: memory stays bounded whatever the
    file (`/dev/zero`, a file without line breaks). A line, or a CSV record since `row_start()`, longer
    than MAX_ROW_CHARS, or a line with bytes that are not UTF-8, raises InvalidInput naming its line."""

    def __init__(self, stream: TextIO, limit: int = MAX_ROW_CHARS) -> None:
        self.stream = stream
        self.limit = limit
        self.number = 0  # the line last read
        self._row_line = 1
        self._row_chars = 0

    def row_start(self) -> None:
        self._row_line = self.number + 1
        self._row_chars = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = self.stream.readline(self.limit + 2)  # room for the limit and a \r\n
        if not text:
            raise StopIteration
        self.number += 1
        self._row_chars += len(text)
        if len(text.rstrip("\r\n")) > self.limit or self._row_chars > self.limit + 2:
            where = (
                f"Line {self.number}"
                if self._row_line == self.number
                else f"The row that starts on line {self._row_line} (at line {self.number})"
            )
            raise InvalidInput(
                f"{where} is longer than {self.limit:,} characters, the most khalti reads in one row; is this "
                "the right file? Nothing was imported."
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"Line {self.number} is not UTF-8 text (character {exc.start + 1} of the line). Save the file as "
                "'CSV UTF-8' (or UTF-8 text) and import it again; nothing was imported."
            ) from None
        return text


def read_rows(stream: TextIO, fmt: str, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    """(line number, fields) per data row; fields maps known column names to text or None."""
    lines = Lines(stream)
    rows = _csv_rows(lines, columns) if fmt == "csv" else _jsonl_rows(lines, columns)
    try:
        yield from rows
    except UnicodeDecodeError:  # only from a text stream khalti did not open (surrogateescape elsewhere)
        raise InvalidInput(
            f"The file is not UTF-8 text (after line {lines.number}). Save it as 'CSV UTF-8' (or UTF-8 text) "
            "and import it again; nothing was imported."
        ) from None


def _check_header(raw: list[str], columns: Columns) -> list[str]:
    names = [columns.name(h) for h in raw]
    unknown = [raw[i].strip() for i, n in enumerate(names) if n not in columns.known and n not in columns.ignored]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown)
        raise InvalidInput(
            f"The header has column(s) {shown} that khalti does not know. The columns are: "
            f"{', '.join(columns.known)} ({' and '.join(columns.required)} required). Rename or remove "
            f"them, or leave them out with --ignore-columns {','.join(unknown)!r}; nothing was imported."
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"The header has column(s) {', '.join(twice)} more than once; nothing was imported.")
    missing = [c for c in columns.required if c not in names]
    if missing:
        raise InvalidInput(
            f"The header has no {' or '.join(missing)} column; every row needs one. The first line of the "
            f"file must name the columns, e.g. {','.join(columns.required)}. Nothing was imported."
        )
    return names


def _csv_rows(lines: Lines, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    reader = csv.reader(lines, strict=True)
    names: list[str] | None = None
    before = 0
    try:
        for cells in reader:
            line, before = before + 1, reader.line_num
            lines.row_start()
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if names is None:
                names = _check_header(cells, columns)
                continue
            if len(cells) > len(names):
                extra = [c for c in cells[len(names) :] if c.strip()]
                if extra:
                    yield (
                        line,
                        BadRow(
                            line,
                            None,
                            f"the row has {len(cells)} cells but the header names {len(names)} columns; "
                            "check for an unquoted comma (put a value with a comma in double quotes).",
                        ),
                    )
                    continue
            fields: Fields = dict.fromkeys(n for n in names if n not in columns.ignored)
            for name, value in zip(names, cells, strict=False):
                if name not in columns.ignored:
                    fields[name] = value
            yield line, fields
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} is not valid CSV ({exc}); check its double quotes. Nothing was imported."
        ) from None


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in file order: repeated keys are all kept, so they can be
    refused (json.loads' dict would keep only the last one)."""


def _jsonl_rows(lines: Lines, columns: Columns) -> Iterator[tuple[int, Fields | BadRow]]:
    for line, text in enumerate(lines, 1):
        lines.row_start()  # a JSON line is a row by itself
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=_Pairs)
        except json.JSONDecodeError as exc:
            yield line, BadRow(line, None, f"not a JSON object ({exc.msg} at character {exc.colno}).")
            continue
        except RecursionError:  # [[[[... nested deeper than Python's parser goes
            yield line, BadRow(line, None, "not a JSON object khalti can read: it is nested too deeply.")
            continue
        if not isinstance(obj, _Pairs):
            yield line, BadRow(line, None, "not a JSON object; each line must be one {...} object.")
            continue
        yield line, _json_fields(line, obj, columns)


def _json_fields(line: int, pairs: _Pairs, columns: Columns) -> Fields | BadRow:
    """The row's fields, or a bad row: an unknown key, a value that is not text or a number, or a key given
    twice (exactly, or as the same column: `amount` and `Amount`, `payer` and `payer_ref`)."""
    fields: Fields = {}
    keys: dict[str, str] = {}
    for key, value in pairs:
        name = columns.name(str(key))
        if name in columns.ignored:
            continue
        if name not in columns.known:
            known = ", ".join(columns.known)
            return BadRow(line, str(key), f"khalti does not know this column; the columns are {known}.")
        if name in keys:
            if keys[name] == key:
                return BadRow(line, name, f"the key {key!r} is given twice; give each column once.")
            return BadRow(line, name, f"the keys {keys[name]!r} and {key!r} name the same column; give it once.")
        keys[name] = key
        if value is not None and not isinstance(value, str):
            return BadRow(line, name, "must be text or a number.")
        fields[name] = value
    return fields
