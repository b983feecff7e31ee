"""Rendering records: table (people), tsv, csv, json, jsonl (pipelines). stdout carries only data.

Tables for people are drawn by khalti_cli.cli.render (widths, local times, Rs 1,50,000.00, the pager).

JSON never goes through rich (no wrapping, no highlighting); table cells are rich Text, never markup, so
brackets in names survive. CSV cells that a spreadsheet would run as formulas are written as text.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

FORMATS = ("table", "tsv", "csv", "json", "jsonl")
# --excel (every command with --format): CSV as Excel on Windows opens it, Devanagari intact: a UTF-8 byte
# order mark first, CRLF line ends (csv always has them). Set per run by the option's callback.
EXCEL = False
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_AMOUNT = re.compile(r"^-?\d+\.\d\d$")  # rupees as money.format_paisa writes them


# Bidirectional overrides and isolates can make a terminal show text in another order than it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _unsafe(ch: str) -> bool:
    # Cc: C0, DEL, C1 (ESC starts every terminal escape sequence); Cs: lone surrogates; Zl/Zp: U+2028/9.
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI


def printable(text: str, *, newlines: bool = False) -> str:
    """Text that khalti did not write, made safe to show and to store: every control character, escape
    sequence introducer, lone surrogate, line separator and bidi override becomes U+FFFD (a tab or line
    break becomes a space, or stays with newlines=True). The one sanitiser for outside text."""
    if text.isprintable() and text.isascii():
        return text  # the common case, quickly
    out = []
    for ch in text:
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch in "\t\n\r":
            out.append(" ")
        elif _unsafe(ch):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def resolve_format(fmt: str | None, stdout: TextIO | None = None) -> str:
    if EXCEL:
        return "csv"
    if fmt:
        return fmt
    stream = stdout or sys.stdout
    return "table" if _isatty(stream) else "tsv"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def tsv_cell(value: Any) -> str:
    text = cell(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def csv_cell(value: Any) -> str:
    text = cell(value)
    if isinstance(value, int) or _AMOUNT.match(text):
        return text  # a negative number (a net below zero, -1500.50) is a number, never a formula
    # A leading quote makes spreadsheets show the cell as text instead of running it (OWASP advice).
    return "'" + text if text.startswith(_FORMULA_START) else text


def dumps(record: Any) -> str:
    import json

    return json.dumps(record, ensure_ascii=False)


def write_records(
    records: Iterable[dict[str, Any]],
    fmt: str,
    *,
    out: TextIO | None = None,
    columns: Sequence[str] | None = None,
    single: bool = False,
    color: bool = True,
    flush: bool = False,
) -> int:
    """Write records in one format; returns how many were written. jsonl/tsv/csv stream row by row; with
    `flush`, each row reaches stdout as it is written (results that arrive one by one, like links)."""
    out = out or sys.stdout
    rows = iter(records)
    count = 0
    if fmt == "jsonl":
        for record in rows:
            out.write(dumps(_pick(record, columns)) + "\n")
            out.flush()
            count += 1
    elif fmt == "json":
        if single:
            import json

            for record in rows:
                out.write(json.dumps(_pick(record, columns), ensure_ascii=False, indent=2) + "\n")
                count += 1
        else:
            out.write("[")
            for record in rows:
                out.write(("\n" if count == 0 else ",\n") + "  " + dumps(_pick(record, columns)))
                count += 1
            out.write("\n]\n" if count else "]\n")
    elif fmt in ("tsv", "csv"):
        count = _write_delimited(rows, fmt, out, columns, flush)
    elif fmt == "table":
        count = _write_table(list(rows), out, columns, color, single)
    else:  # the CLI validates formats; this guards the service callers
        raise ValueError(f"unknown format {fmt!r}")
    return count


def _pick(record: dict[str, Any], columns: Sequence[str] | None) -> dict[str, Any]:
    return record if not columns else {c: record.get(c) for c in columns}


def _header(first: dict[str, Any], columns: Sequence[str] | None) -> list[str]:
    return list(columns) if columns else list(first.keys())


def _write_delimited(
    rows: Iterator[dict[str, Any]], fmt: str, out: TextIO, columns: Sequence[str] | None, flush: bool = False
) -> int:
    if fmt == "csv" and EXCEL:
        out.write("\ufeff")
    first = next(rows, None)
    if first is None:
        if columns:
            _delimited_line(out, fmt, list(columns), header=True)
        return 0
    keys = _header(first, columns)
    _delimited_line(out, fmt, keys, header=True)
    count = 0
    for record in _chain(first, rows):
        _delimited_line(out, fmt, [record.get(k) for k in keys], header=False)
        if flush:
            out.flush()
        count += 1
    return count


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _delimited_line(out: TextIO, fmt: str, values: list[Any], *, header: bool) -> None:
    if fmt == "tsv":
        out.write("\t".join(tsv_cell(v) for v in values) + "\n")
    else:
        import csv

        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([cell(v) if header else csv_cell(v) for v in values])


def make_console(stream: TextIO, color: bool) -> Any:
    """A rich console that measures text as terminals draw it (see khalti_cli.cli.render)."""
    from khalti_cli.cli.render import make_console as console

    return console(stream, color)


def _write_table(
    rows: list[dict[str, Any]], out: TextIO, columns: Sequence[str] | None, color: bool, single: bool
) -> int:
    from khalti_cli.cli import render

    if single and len(rows) == 1:  # one record is a record: a key/value view, not a one-row table
        render.write_record(rows[0], out, color, keys=columns)
        return 1
    return render.write_table(rows, out, columns or render.people_columns(rows), color)


def write_summary(data: dict[str, Any], fmt: str | None, line: str | None) -> None:
    """A run's summary on stdout: one JSON object (json), one record with nested values as JSON text
    (tsv, csv), or else the line (None: print nothing)."""
    if fmt == "json":
        sys.stdout.write(dumps(data) + "\n")
    elif fmt in ("tsv", "csv"):
        write_records([{k: dumps(v) if isinstance(v, dict) else v for k, v in data.items()}], fmt)
    elif line is not None:
        sys.stdout.write(line + "\n")
